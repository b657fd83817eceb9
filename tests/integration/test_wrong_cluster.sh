#!/usr/bin/env bash
# A repository is bound to the cluster of its first segment. A segment of another cluster is
# refused with exit 9 and a message naming both system identifiers, by hand and as
# archive_command (PostgreSQL counts the failures, nothing of it lands in the repository).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

make_segments "$WORK/a" 2
make_segments "$WORK/b" 1
sysid_a=$(cluster_sysid seg-a)
sysid_b=$(cluster_sysid seg-b)
assert_ne "$sysid_a" "$sysid_b" "system identifiers of the two clusters"
mapfile -t segs_a < <(find "$WORK/a" -maxdepth 1 -type f | sort)
mapfile -t segs_b < <(find "$WORK/b" -maxdepth 1 -type f | sort)

pgp_capture --repo "$REPO" archive-push "${segs_a[0]}"
assert_rc 0 "first push (binds the repository to cluster A)"
repo_read "$REPO" repo.json >"$WORK/repo.json.before"
grep -q "$sysid_a" "$WORK/repo.json.before" || fail "repo.json does not record $sysid_a: $(cat "$WORK/repo.json.before")"
before=$(repo_listing "$REPO"; repo_debris "$REPO")

# mentions_sysid TEXT ID: the identifier in decimal (as pg_controldata prints it) or hex.
mentions_sysid() {
    local hex
    hex=$(printf '%X' "$2")
    grep -Fq -- "$2" <<<"$1" && return 0   # not printf | grep -q: SIGPIPE under pipefail
    grep -Fqi -- "$hex" <<<"$1" && return 0
    return 1
}

log "push a segment of cluster B by hand"
pgp_capture --repo "$REPO" archive-push "${segs_b[0]}"
assert_rc 9 "archive-push of another cluster's segment"
assert_one_line_error "archive-push of another cluster's segment"
mentions_sysid "$ERR" "$sysid_a" || fail "the error does not mention the repository's system identifier $sysid_a: $ERR"
mentions_sysid "$ERR" "$sysid_b" || fail "the error does not mention the segment's system identifier $sysid_b: $ERR"
assert_eq "$before" "$(repo_listing "$REPO"; repo_debris "$REPO")" "repository objects after a refused push"
repo_read "$REPO" repo.json >"$WORK/repo.json.after"
assert_same_file "$WORK/repo.json.before" "$WORK/repo.json.after" "repo.json after a refused push"

# Cluster A still archives normally.
pgp_capture --repo "$REPO" archive-push "${segs_a[1]}"
assert_rc 0 "cluster A's next segment"
before=$(repo_listing "$REPO")

log "cluster C with archive_command pointing at cluster A's repository"
pg_init c
pg_enable_archiving c "$REPO"
pg_start c
psql_c c "CREATE TABLE t AS SELECT g FROM generate_series(1, 10000) g"
switch_wal c >/dev/null
for ((i = 0; i < 150; i++)); do
    [ "$(psql_c c "SELECT failed_count FROM pg_stat_archiver")" -gt 0 ] && break
    sleep 0.2
done
failed=$(psql_c c "SELECT failed_count FROM pg_stat_archiver")
assert_gt "$failed" 0 "pg_stat_archiver.failed_count of the foreign cluster"
assert_eq "" "$(psql_c c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")" "last_archived_wal of the foreign cluster"
grep -q 'pgpitr: error: ' "$WORK/log/pgpitr.log" || fail "archive_command logged no error"
sysid_c=$(cluster_sysid c)
mentions_sysid "$(cat "$WORK/log/pgpitr.log")" "$sysid_c" || fail "archive_command error does not name $sysid_c: $(head -n 3 "$WORK/log/pgpitr.log")"
pg_stop c immediate
assert_eq "$before" "$(repo_listing "$REPO")" "repository objects after the foreign cluster's attempts"
[ -z "$(repo_debris "$REPO")" ] || fail "debris left: $(repo_debris "$REPO")"
log "ok"
