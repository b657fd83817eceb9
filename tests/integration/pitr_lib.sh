# shellcheck shell=bash
# pitr_lib.sh - helpers shared by the test_pitr_*.sh tests (sourced after lib.sh): a source
# cluster with a table t(id, note) whose rows tell which transactions a restore replayed,
# restores into throwaway clusters, and waiting for them to reach their target.


# utc_now NAME: the server's clock as ISO 8601 UTC with microseconds ("...T...Z").
utc_now() {
    psql_c "$1" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || 'Z'"
}
# commit_time NAME ID: commit timestamp of the transaction that inserted row ID (UTC, ISO 8601).
commit_time() {
    psql_c "$1" "SELECT to_char(pg_xact_commit_timestamp(xmin) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || 'Z' FROM t WHERE id = $2"
}
insert_lsn() { psql_c "$1" "SELECT pg_current_wal_insert_lsn()"; }
# add_row NAME ID: one committed transaction inserting row ID; prints its xid.
add_row() { psql_c "$1" "INSERT INTO t VALUES ($2, 'row $2') RETURNING xmin"; }
rows() { psql_c "$1" "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM t"; }
timeline_of() { psql_c "$1" "SELECT timeline_id FROM pg_control_checkpoint()"; }

# source_cluster NAME: a cluster archiving into $REPO with commit timestamps and table t.
source_cluster() {
    pg_init "$1"
    pg_conf "$1" "track_commit_timestamp = on" "timezone = 'America/New_York'"
    pg_enable_archiving "$1" "$REPO"
    pg_start "$1"
    psql_c "$1" "CREATE TABLE t(id int PRIMARY KEY, note text)"
}

# backup_of NAME LABEL: pgpitr backup of cluster NAME.
backup_of() {
    pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo "$1")" --label "$2" --jobs 2
    assert_rc 0 "pgpitr backup $2"
}

# backed_up_source NAME LABEL: source_cluster NAME with row 1 committed and archived, and a
# backup LABEL of it taken after that.
backed_up_source() {
    source_cluster "$1"
    add_row "$1" 1 >/dev/null
    wait_archived "$1" "$(switch_wal "$1")"
    backup_of "$1" "$2"
}

# restore_to NAME ARGS...: pgpitr restore into the new cluster directory NAME; succeeds.
restore_to() {
    local name=$1
    shift
    mkdir_pg "$WORK/$name"
    free_port >"$WORK/$name/port"
    pgp_capture --repo "$REPO" restore --pgdata "$(cluster_data "$name")" --jobs 2 "$@"
    assert_rc 0 "pgpitr restore into $name ($*)"
    printf '%s\n' "$OUT"
}

# restored_rows NAME ARGS...: restore with ARGS into NAME, start it, set ROWS to t's ids, stop
# it. (Not meant for $(...): the clusters it starts must stay known to this shell.)
# shellcheck disable=SC2034  # ROWS is read by the tests
restored_rows() {
    local name=$1
    shift
    restore_to "$name" "$@"
    start_restored "$name"
    ROWS=$(rows "$name")
    pg_stop "$name"
}

# wait_history NAME: until the history file NAME (00000002.history) is archived in $REPO (a
# promoted server archives it as soon as it promotes, when it archives at all).
wait_history() {
    local i
    for ((i = 0; i < 300; i++)); do
        [ -n "$(repo_find "$REPO" archive/history "$1-*")" ] && return 0
        sleep 0.1
    done
    fail "$1 was not archived"
}

# not_a_standby NAME: removes what a backup taken on a standby carries into a restore
# (standby.signal, the standby's primary_conninfo), so that the restored copy recovers from the
# archive and promotes instead of streaming from the primary.
not_a_standby() {
    rm -f "$(cluster_data "$1")/standby.signal"
    echo "primary_conninfo = ''" >>"$(cluster_data "$1")/postgresql.auto.conf"
}
