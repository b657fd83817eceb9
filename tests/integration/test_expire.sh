#!/usr/bin/env bash
# pgpitr expire on a real repository: four backups with pgbench traffic and WAL switches
# between them. A missing policy exits 2; --dry-run prints the same plan as the real run and
# changes nothing; --retain-full 2 removes the two oldest backups, the objects only they
# referenced and the WAL before the oldest retained backup's start, and nothing a retained
# backup needs: restores to the oldest promised point (b3, immediate) and to the latest point
# (from b3, replaying everything archived since) both show the expected rows. A re-run after
# a simulated crash (a backup's manifest already gone) finishes the job; the newest backup
# always stays; a flag overrides the config file.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

listing() { repo_listing "$REPO" | grep -v '^locks/' || true; repo_debris "$REPO"; }
# segno_of_lsn X/Y (16 MiB segments)
segno_of_lsn() { local hi=${1%/*} lo=${1#*/}; echo $(((16#$hi << 8) + (16#$lo >> 24))); }
# segno of an archived WAL object path (.../TTTTTTTTXXXXXXXXYYYYYYYY...-sha.ext)
segno_of_wal() { local n; n=$(basename "$1"); echo $(((16#${n:8:8} << 8) + 16#${n:16:8})); }
wal_files() { repo_keys "$REPO" archive/wal; }
refs_of() { backup_refs "$REPO" "$1"; }
# validate_json TEXT: the JSON plan validates against docs/expire.schema.json.
validate_json() {
    printf '%s\n' "$1" >"$WORK/expire.json"
    validate_schema "$HERE/../../docs/expire.schema.json" "$WORK/expire.json"
}
plan_body() { sed -e '1d' -e '$d' <<<"$1"; }   # without the header (time, dry run) and last line

source_cluster src
pgbench_c src -i -q -s 1
for i in 1 2 3 4; do
    add_row src "$i" >/dev/null
    pgbench_c src -t 200 -c 2
    wait_archived src "$(switch_wal src)"
    backup_of src "b$i"
done
add_row src 5 >/dev/null
pgbench_c src -t 200 -c 2
wait_archived src "$(switch_wal src)"
pg_stop src

log "no policy: refused with exit 2, nothing changed"
before=$(listing)
pgp_capture --repo "$REPO" expire
assert_rc 2 "expire without a policy"
assert_contains "$ERR" "no retention policy" "error names the problem"
assert_one_line_error "expire without a policy"
pgp_capture --repo "$REPO" expire --retain-full 0
assert_rc 2 "expire --retain-full 0 (not set)"
pgp_capture --repo "$REPO" expire --retain-full x
assert_rc 3 "expire --retain-full x"
assert_eq "$before" "$(listing)" "repository after refused expires"

log "dry run: the plan, and nothing changes"
pgp_capture --repo "$REPO" expire --retain-full 2 --dry-run
assert_rc 0 "expire --dry-run"
DRY=$OUT
printf '%s\n' "$DRY"
assert_contains "$DRY" "remove  b1" "dry run lists b1"
assert_contains "$DRY" "remove  b2" "dry run lists b2"
assert_contains "$DRY" "keep    b3" "dry run keeps b3"
assert_contains "$DRY" "full 2/2" "dry run says why b3 stays"
assert_contains "$DRY" "newest, full 1/2" "dry run says why b4 stays"
assert_contains "$DRY" "recoverable window after expire: from" "dry run states the window"
assert_contains "$DRY" "(end of backup b3" "the window starts at the end of b3"
assert_contains "$DRY" "dry run: nothing was removed" "dry run says so"
pgp_capture --repo "$REPO" expire --retain-full 2 --dry-run --output json
assert_rc 0 "expire --dry-run --output json"
JS=$OUT
validate_json "$JS"
assert_eq "b1 b2" "$(jq -r '[.backups[] | select(.action == "remove") | .label] | join(" ")' <<<"$JS")" "JSON: removed backups"
assert_eq "b3 b4" "$(jq -r '[.backups[] | select(.action == "keep") | .label] | join(" ")' <<<"$JS")" "JSON: kept backups"
assert_eq true "$(jq -r '.dry_run' <<<"$JS")" "JSON: dry_run"
assert_eq b3 "$(jq -r '.window.from_backup' <<<"$JS")" "JSON: window start"
assert_eq "$before" "$(listing)" "repository after dry runs"

# What the real run must do, computed from the repository itself.
b3_start=$(repo_read "$REPO" backup/b3/manifest.json | jq -r .start_lsn)
cut=$(segno_of_lsn "$b3_start")
wal_before=$(wal_files)
expect_gone=() expect_kept=()
while read -r f; do
    if [ "$(segno_of_wal "$f")" -lt "$cut" ]; then expect_gone+=("$f"); else expect_kept+=("$f"); fi
done <<<"$wal_before"
[ "${#expect_gone[@]}" -gt 0 ] || fail "no archived WAL before b3's start ($b3_start): the test proves nothing"
assert_eq "${#expect_gone[@]}" "$(jq -r '.wal.remove' <<<"$JS")" "JSON: WAL files to remove"
refs_kept=$( (refs_of b3; refs_of b4) | sort -u)
only_old=$( (refs_of b1; refs_of b2) | sort -u | comm -23 - <(printf '%s\n' "$refs_kept"))
[ -n "$only_old" ] || fail "b1 and b2 reference no object of their own: the test proves nothing"

log "expire --retain-full 2"
[ "$REPO_KIND" = local ] || deletes_before=$(grep -c '?delete= 200' "$S3_TEST_LOG" || true)
pgp_capture --repo "$REPO" expire --retain-full 2
assert_rc 0 "expire --retain-full 2"
if [ "$REPO_KIND" != local ]; then   # objects and WAL in batches: DeleteObjects, not 2 requests each
    deletes=$(($(grep -c '?delete= 200' "$S3_TEST_LOG" || true) - deletes_before))
    log "expire: $deletes DeleteObjects requests"
    assert_gt "$deletes" 0 "DeleteObjects requests of the expire"
    assert_gt 5 "$deletes" "DeleteObjects requests of the expire (one per WAL directory and batch)"
fi
printf '%s\n' "$OUT"
assert_eq "$(plan_body "$DRY")" "$(plan_body "$OUT")" "the real run's plan is the dry run's"
assert_repo_absent "$REPO" backup/b1 "expired backup b1"
assert_repo_absent "$REPO" backup/b2 "expired backup b2"
assert_repo_has "$REPO" backup/b3/manifest.json "retained backup b3"
assert_repo_has "$REPO" backup/b4/manifest.json "retained backup b4"
assert_repo_has_all "$REPO" "object referenced by a retained backup" <<<"$refs_kept"
assert_repo_absent_all "$REPO" "object only b1/b2 referenced" <<<"$only_old"
printf '%s\n' "${expect_gone[@]}" | assert_repo_absent_all "$REPO" "WAL before b3's start"
printf '%s\n' "${expect_kept[@]}" | assert_repo_has_all "$REPO" "WAL at or after b3's start"

log "restore to the oldest promised point: b3, immediate"
restored_rows r_oldest --backup b3 --target-immediate
assert_eq "1,2,3" "$ROWS" "rows at the end of b3"
log "restore to the latest point, replaying from b3"
restored_rows r_latest --backup b3
assert_eq "1,2,3,4,5" "$ROWS" "rows at the latest point"

log "a crash after b3's manifest went: the re-run finishes (config retain-full 3, flag 1)"
repo_rm "$REPO" backup/b3/manifest.json
cfg="$WORK/expire.conf"
printf '[global]\nretain-full = 3\n' >"$cfg"
own "$cfg"
pgp_capture --repo "$REPO" --config "$cfg" expire --retain-full 1
assert_rc 0 "expire after a crash"
printf '%s\n' "$OUT"
assert_contains "$OUT" "b3  incomplete" "b3 is now an incomplete directory"
assert_repo_absent "$REPO" backup/b3 "b3 after the re-run"
assert_repo_has "$REPO" backup/b4/manifest.json "the newest backup"
assert_repo_has_all "$REPO" "object b4 references" <<<"$(refs_of b4)"

log "config retain-full 3 alone keeps what is there: the newest always stays"
pgp_capture --repo "$REPO" --config "$cfg" expire --output json
assert_rc 0 "expire from the config"
validate_json "$OUT"
assert_eq "b4" "$(jq -r '[.backups[] | select(.action == "keep") | .label] | join(" ")' <<<"$OUT")" "kept"
assert_eq 3 "$(jq -r '.policy.retain_full' <<<"$OUT")" "policy from the config"

restored_rows r_newest --backup b4
assert_eq "1,2,3,4,5" "$ROWS" "rows restored from b4 after every expire"
log "ok"
