# shellcheck shell=bash
# getexit_lib.sh - helpers for the test_get_*.sh tests (sourced after lib.sh and pitr_lib.sh):
# how a restored server's recovery ended (promoted, or stopped by restore_command's fatal exit),
# and what archive-get answered to each request it got (its info lines in the server log).
#
# Restored servers are started with PGPITR_LOG_LEVEL=info in their environment, so every
# archive-get they run logs its decision ("... answering \"not archived\"", "restored ...") into
# the server log, next to PostgreSQL's own lines.

# restored_conf NAME: the settings start_restored gives a restored copy (own port and socket,
# archive_mode off), for a copy started otherwise.
restored_conf() {
    pg_conf "$1" "" "# restored copy" "port = $(cat "$WORK/$1/port")" \
        "unix_socket_directories = '$WORK/$1'" "archive_mode = off"
}

# log_mark NAME: the current length of NAME's server log (lines), for log_since.
log_mark() { if [ -f "$WORK/$1/server.log" ]; then wc -l <"$WORK/$1/server.log"; else echo 0; fi; }
# log_since NAME MARK: NAME's server log after line MARK.
log_since() { tail -n "+$(($2 + 1))" "$WORK/$1/server.log"; }

# start_info NAME: pg_start with archive-get logging its decisions.
start_info() { PGPITR_LOG_LEVEL=info pg_start "$1"; }

# start_expect_stop NAME [SECONDS]: starts NAME (its recovery must stop on its own: a FATAL
# from restore_command), waits until the postmaster has exited (default 120 s). Fails at once
# when the server promotes instead.
start_expect_stop() {
    local name=$1 dir data pm="" i mark
    dir=$(cluster_dir "$name")
    data=$(cluster_data "$name")
    mark=$(log_mark "$name")
    PGPITR_LOG_LEVEL=info as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -W start \
        >/dev/null || fail "pg_ctl start $name"
    for ((i = 0; i < 100; i++)); do
        [ -s "$data/postmaster.pid" ] && break
        sleep 0.05
    done
    pm=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    # shellcheck disable=SC2034  # lib.sh's cleanup stops what CLUSTER_PID holds
    [ -n "$pm" ] && CLUSTER_PID["$name"]=$pm
    for ((i = 0; i < ${2:-120} * 10; i++)); do
        if [ -z "$pm" ] || ! pid_alive "$pm"; then
            break
        fi
        if grep -q 'selected new timeline ID' <<<"$(log_since "$name" "$mark")"; then
            fail "$name promoted instead of stopping: $(log_since "$name" "$mark" | grep -E 'redo done|selected new timeline')"
        fi
        sleep 0.1
    done
    [ -z "$pm" ] || ! pid_alive "$pm" || fail "$name is still running: its recovery did not stop"
    unset "CLUSTER_PID[$name]"
}

# assert_stopped_not_promoted NAME MARK: since MARK, NAME's recovery stopped with a fatal
# restore_command and did not promote: no new timeline chosen, recovery.signal still there.
assert_stopped_not_promoted() {
    local name=$1 text
    text=$(log_since "$name" "$2")
    if grep -E 'selected new timeline ID|archive recovery complete|ready to accept connections' <<<"$text"; then
        fail "$name promoted (see the lines above)"
    fi
    grep -Eq 'could not restore file ".*" from archive: child process exited with exit code 255' <<<"$text" ||
        { printf '%s\n' "$text" | tail -n 20 >&2; fail "$name did not stop on restore_command's exit 255"; }
    assert_file "$(cluster_data "$name")/recovery.signal" "recovery.signal of $name after the stop"
}

# assert_no_fatal_answer NAME MARK: since MARK, archive-get gave no fatal answer and warned of
# nothing; prints how many requests it answered "not archived" (each logged at info level).
assert_no_fatal_answer() {
    local text n
    text=$(log_since "$1" "$2")
    if grep -E 'pgpitr: (error|warn):|exit code 255' <<<"$text"; then
        fail "archive-get answered a normal request of $1 with an error or a warning (above)"
    fi
    n=$(grep -c 'answering "not archived"' <<<"$text" || true)
    printf '%s\n' "$n"
}

# not_archived_answers NAME MARK: the names archive-get answered "not archived" since MARK.
not_archived_answers() {
    log_since "$1" "$2" | sed -n 's/^pgpitr: info: "\([^"]*\)" is not archived: .*/\1/p'
}

# exchange_dirs A B: swaps two directories in one step (renameat2 RENAME_EXCHANGE), so that a
# reader never finds either path missing. Two renames would leave a moment with no directory at
# all, where a standby's archive-get saw "storage root does not exist" (exit 255, the standby
# stopped) instead of the empty directory the test means (seen once in CI).
exchange_dirs() {
    python3 - "$1" "$2" <<'PY' || fail "cannot exchange \"$1\" and \"$2\""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
if libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), RENAME_EXCHANGE) != 0:
    e = ctypes.get_errno()
    sys.exit("renameat2: " + os.strerror(e))
PY
}
# repo_swap_empty / repo_swap_back: the configured repository path becomes an empty directory
# (as an NFS or automount point that is not mounted), and back; the path exists throughout.
repo_swap_empty() {
    mkdir_pg "$REPO.real"
    exchange_dirs "$REPO" "$REPO.real"
}
repo_swap_back() {
    exchange_dirs "$REPO" "$REPO.real"
    rmdir "$REPO.real"
}
