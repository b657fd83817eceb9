#!/usr/bin/env bash
# Restoring next to the running source on the same host (issue #10, defect 6). The backup's
# configuration keeps the source's port and socket directory, so a plain pg_ctl start of the
# copy fails on them.
# - Without --set: restore names the port in use and who holds it, and prints a pg_ctl
#   command with a free port; that command, copy-pasted, starts the copy (the plain one fails).
# - With --set port=N (the README's emergency steps): the printed next step is the plain
#   pg_ctl start, and copy-pasted it works; the copy replays and promotes beside the source.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

# Both copies keep the source's unix_socket_directories: they are reached there, by port.
psql_at() {  # PORT SQL
    as_pg "$PG_BIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$WORK/src" -p "$1" -U postgres \
        -d postgres -c "$2"
}
# run_printed NAME COMMAND: run a command restore printed, as the cluster user (its output to
# a file: pg_ctl start leaves the server writing there), and track the server it started.
run_printed() {
    local name=$1 cmd=$2 rc=0
    as_pg bash -c "$cmd" >"$WORK/$name/pg_ctl.out" 2>&1 || rc=$?
    if [ -f "$(cluster_data "$name")/postmaster.pid" ]; then
        CLUSTER_PID[$name]=$(head -n 1 "$(cluster_data "$name")/postmaster.pid")
    fi
    return "$rc"
}
# promoted_rows NAME PORT: wait until the copy has promoted, print its rows.
promoted_rows() {
    local i
    for ((i = 0; i < 600; i++)); do
        [ "$(psql_at "$2" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
        sleep 0.1
    done
    [ "$(psql_at "$2" "SELECT pg_is_in_recovery()")" = f ] || fail "$1 did not promote"
    psql_at "$2" "SELECT string_agg(id::text, ',' ORDER BY id) FROM t"
}

backed_up_source src base1
sleep 2   # backup stop times are whole seconds: a time target must lie a second beyond
add_row src 2 >/dev/null
target=$(utc_now src)
wait_archived src "$(switch_wal src)"
src_port=$(cluster_port src)

log "restore without --set: the port is in use, restore says so and prints what works"
restore_to copy
assert_contains "$OUT" "port: $src_port (set in \"$(cluster_data copy)/postgresql.conf\") is in use on this host" \
    "restore names the port in use"
assert_contains "$OUT" "$WORK/src/.s.PGSQL.$src_port.lock\" of process ${CLUSTER_PID[src]}" \
    "restore names the holder"
cmd=$(printf '%s\n' "$OUT" | sed -n 's/^next step: start the server on port [0-9]*, free now: //p')
port=$(printf '%s\n' "$OUT" | sed -n 's/^next step: start the server on port \([0-9]*\), free now: .*/\1/p')
assert_ne "" "$cmd" "the command restore printed"
assert_contains "$cmd" "pg_ctl -D $(cluster_data copy) -o '-p $port' start" "the printed command"
assert_contains "$OUT" "restore with --set port=$port" "restore names --set"
log "the plain pg_ctl start fails"
if run_printed copy "$PG_BIN/pg_ctl -D $(cluster_data copy) start"; then
    fail "pg_ctl start on the source's port succeeded"
fi
assert_icontains "$(cat "$WORK/copy/pg_ctl.out")" "lock file .* already exists|could not bind" \
    "why pg_ctl start failed"
log "the printed command: $cmd"
run_printed copy "$cmd" || { cat "$WORK/copy/pg_ctl.out" >&2; fail "the printed command failed"; }
assert_eq "1,2" "$(promoted_rows copy "$port")" "rows of the copy"
assert_eq "1,2" "$(rows src)" "rows of the source, still running"
pg_stop copy

log "the README's steps: restore --set port=N, then the printed pg_ctl start"
port=$(free_port)
restore_to pitr --target-time "$target" --set "port=$port" >/dev/null
case "$OUT" in *"is in use on this host"*) fail "port $port reported in use: $OUT" ;; esac
cmd=$(printf '%s\n' "$OUT" | sed -n 's/^next step: start the server: //p')
assert_contains "$cmd" "pg_ctl -D $(cluster_data pitr) start" "the printed command"
assert_contains "$OUT" "settings: given with --set, written into postgresql.auto.conf after restore's own: port" \
    "restore lists the --set settings"
assert_contains "$(cat "$(cluster_data pitr)/postgresql.auto.conf")" "port = '$port'" \
    "port in postgresql.auto.conf"
run_printed pitr "$cmd" || { cat "$WORK/pitr/pg_ctl.out" >&2; fail "the printed command failed"; }
assert_eq "1,2" "$(promoted_rows pitr "$port")" "rows of the PITR"
pg_stop pitr
pg_stop src
log "ok"
