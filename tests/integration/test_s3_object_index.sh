#!/usr/bin/env bash
# Backup and restore on S3 learn which content-addressed objects are stored from listings of
# objects/ (repo/object_index.h), not from a HEAD request per object: every request goes
# through the fault proxy (no faults) and is counted in its log. A first backup into an empty
# object store HEADs no object; a second backup of the unchanged cluster HEADs far fewer
# objects than it has files and still stores (almost) nothing again; a restore HEADs far fewer
# objects than it checks; an object removed behind pgpitr's back is still reported missing by
# restore, with nothing written.
# repo-kinds: local -- starts its own S3 server and proxy; the s3 stages would only repeat it
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

s3_start
REPO=s3://$S3_IT_BUCKET/ix
pg_init src
pg_enable_archiving src "$REPO"
pg_conf src "autovacuum = off"   # nothing may change the database between the two backups
pg_start src
wait_archived src "$(switch_wal src)"
# pgpitr's own commands go through the proxy (the server's archive_command keeps its endpoint)
s3_proxy_start "$S3_TEST_ENDPOINT" --fault-rate 0
export PGPITR_S3_ENDPOINT=$S3_PROXY_URL

# mark NAME: one request through the proxy, waited for in its log: every request before it
# has been logged (the proxy writes its log in order).
mark() {
    local i
    S3_TEST_ENDPOINT=$S3_PROXY_URL s3_curl /dev/null HEAD "$S3_IT_BUCKET" "/mark-$1" >/dev/null
    for ((i = 0; i < 100; i++)); do
        grep -q "/mark-$1\"" "$S3_PROXY_LOG" && return 0
        sleep 0.1
    done
    fail "the proxy never logged mark $1"
}
# between A B: the "METHOD PATH" of every request logged between marks A and B.
between() {
    jq -r 'select(.method) | .method + " " + .path' "$S3_PROXY_LOG" |
        sed -n "\|/mark-$1\$|,\|/mark-$2\$|p"
}
object_heads() { grep -c "^HEAD /$S3_IT_BUCKET/ix/objects/" || true; }
listings() { grep -c "^GET /$S3_IT_BUCKET?.*list-type=2.*prefix=ix%2Fobjects" || true; }
json() { jq -r "$1" <<<"$2"; }

mark 0
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label first --jobs 2 --output json
assert_rc 0 "first backup"
J1=$OUT
mark 1
files1=$(json .files "$J1")
heads1=$(between 0 1 | object_heads)
lists1=$(between 0 1 | listings)
log "first backup: $files1 files, $heads1 HEAD(s) of objects, $lists1 listing(s) of objects/"
assert_gt "$files1" 500 "files of the first backup"
assert_eq 0 "$heads1" "HEAD requests of objects by a backup into an empty object store"

psql_c src "CHECKPOINT"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label second --jobs 2 --output json
assert_rc 0 "second backup"
J2=$OUT
mark 2
files2=$(json .files "$J2")
reused2=$(json .reused_files "$J2")
heads2=$(between 1 2 | object_heads)
lists2=$(between 1 2 | listings)
log "second backup: $reused2 of $files2 files reused, $heads2 HEAD(s) of objects, $lists2 listing(s)"
[ $((files2 - reused2)) -le 30 ] || fail "only $reused2 of $files2 files reused"
[ $((heads2 * 10)) -lt "$files2" ] || fail "second backup: $heads2 HEAD requests of objects for $files2 files"
[ "$lists2" -le 257 ] || fail "second backup listed objects/ $lists2 times (256 directories + objects/)"

# the distinct objects a restore of "second" checks
repo_read "$REPO" backup/second/manifest.json >"$WORK/tmp/manifest.json"   # decrypted in an encrypted run
objects=$(jq -r '.entries[] | select(.object) | .object' "$WORK/tmp/manifest.json" | sort -u | wc -l)
mkdir_pg "$WORK/dst"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/dst/data" --jobs 2
assert_rc 0 "restore of the second backup"
mark 3
heads3=$(between 2 3 | object_heads)
log "restore: $objects distinct objects, $heads3 HEAD(s) of objects"
assert_gt "$objects" 100 "distinct objects of the second backup"
[ $((heads3 * 4)) -lt "$objects" ] || fail "restore: $heads3 HEAD requests for $objects objects"
[ -f "$WORK/dst/data/PG_VERSION" ] || fail "the restore wrote no data directory"

# an object removed behind pgpitr's back: still missing for restore, nothing written
gone=$(jq -r '.entries[] | select(.object) | .object' "$WORK/tmp/manifest.json" | sort -u | tail -n 1)
assert_eq 204 "$(s3_curl /dev/null DELETE "$S3_IT_BUCKET" "/ix/$gone")" "DELETE of $gone"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/dst/data2" --jobs 2
assert_eq 1 "$([ "$RC" -ne 0 ] && echo 1 || echo 0)" "restore with a missing object fails"
assert_contains "$ERR" "object \"$gone\"" "the missing object is named"
assert_contains "$ERR" "is missing from the repository" "restore's message for a missing object"
[ ! -e "$WORK/dst/data2" ] || [ -z "$(ls -A "$WORK/dst/data2")" ] ||
    fail "restore with a missing object wrote $(ls -A "$WORK/dst/data2" | head -n 3)"
log "ok"
