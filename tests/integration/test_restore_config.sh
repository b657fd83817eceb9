#!/usr/bin/env bash
# restore_command finds the repository the way restore did (issue #10, defect 7), without
# restore's environment (the server does not have it):
# - restore --config FILE: restore_command carries --config FILE (absolute), so a setting only
#   in that file (log-level = info) reaches archive-get: its "restored" lines are in the
#   server's log. No --repo (the file names the repository).
# - PGPITR_CONFIG=FILE: the same --config. PGPITR_REPO=DIR and --repo DIR (relative): --repo
#   with the absolute path. --config with a relative path: written absolute.
# repo-kinds: local -- relative --repo paths made absolute, PGPITR_REPO as a directory
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

REPO="$WORK/repo"
CONF="$WORK/cfg/pgpitr.conf"
mkdir_pg "$WORK/cfg"
printf '[global]\nrepo = %s\nlog-level = info\n' "$REPO" >"$CONF"
own "$CONF"
restore_command_of() {  # NAME: restore_command as written into postgresql.auto.conf
    sed -n 's/^restore_command = //p' "$(cluster_data "$1")/postgresql.auto.conf"
}
# restore_with NAME ENV... -- ARGS...: restore into NAME with an environment, from DIR $WORK.
restore_with() {
    local name=$1 envs=()
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    mkdir_pg "$WORK/$name"
    free_port >"$WORK/$name/port"
    as_pg_capture env "${envs[@]}" "$PGPITR" "$@" restore --pgdata "$(cluster_data "$name")" \
        --target-immediate
    cat "$WORK/last.err" >>"$WORK/log/pgpitr.log"
    check_san_stderr "$WORK/last.err" "restore into $name"
    assert_rc 0 "restore into $name ($*)"
}

backed_up_source src base1
add_row src 2 >/dev/null
wait_archived src "$(switch_wal src)"

log "restore --config FILE: archive-get reads FILE"
mkdir_pg "$WORK/r_conf"
free_port >"$WORK/r_conf/port"
pgp_capture --config "$CONF" restore --pgdata "$(cluster_data r_conf)" --jobs 2
assert_rc 0 "restore --config"
rc_line=$(restore_command_of r_conf)
assert_contains "$rc_line" "--config $CONF archive-get" "restore_command of restore --config"
case "$rc_line" in *--repo*) fail "restore_command names --repo: $rc_line" ;; esac
start_restored r_conf
assert_eq "1,2" "$(rows r_conf)" "rows of the restored server"
n=$(grep -c 'pgpitr: info: restored "0000000100000000000000' "$WORK/r_conf/server.log" || true)
assert_gt "$n" 0 "archive-get's info lines (log-level from the configuration file) in the server log"
pg_stop r_conf

log "PGPITR_CONFIG, PGPITR_REPO, relative paths: written as flags with absolute paths"
restore_with r_env PGPITR_CONFIG="$CONF" --
assert_contains "$(restore_command_of r_env)" "--config $CONF archive-get" "PGPITR_CONFIG"
restore_with r_repo_env PGPITR_REPO="$REPO" --
assert_contains "$(restore_command_of r_repo_env)" " --repo $REPO archive-get" "PGPITR_REPO"
cd "$WORK"   # (lib.sh's cwd already; the relative paths are relative to it)
restore_with r_rel -- --config cfg/pgpitr.conf --repo repo
assert_contains "$(restore_command_of r_rel)" "--config $CONF --repo $REPO archive-get" \
    "relative --config and --repo"
pg_stop src
log "ok"
