#!/usr/bin/env bash
# pgpitr verify on a real repository: a backup, pgbench and more WAL on timeline 1, and a
# promoted PITR archiving timeline 2 (its history file and segments) into the same repository.
# A clean repository verifies (exit 0, JSON valid against docs/verify.schema.json). Then, each
# on a fresh copy of the repository, verify detects and names what each damage breaks: a
# flipped bit in a backup file object (the backup and the file), a deleted WAL segment (the
# segment and the range no longer recoverable), a truncated object, a missing history file
# (the timeline). An unknown --backup exits 1.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

SCHEMA="$HERE/../../docs/verify.schema.json"
hist_object() { repo_find "$1" archive/history "$2-*" | head -n 1; }
seg_objects() { repo_find "$1" archive/wal "$2*" | grep -v '\.partial\|\.backup' || true; }

# validate FILE: the report validates against the schema.
validate() { validate_schema "$SCHEMA" "$1"; }

# fresh NAME: a copy of the clean repository to damage; prints its URL.
fresh() {
    local r
    r=$(repo_url "$1")
    repo_copy "$REPO" "$r"
    printf '%s\n' "$r"
}

source_cluster src
pgbench_c src -i -q -s 3
wait_archived src "$(switch_wal src)"
backup_of src base1
pgbench_c src -t 2000 -c 2
for i in 1 2 3; do switch_wal src >/dev/null; done
wait_archived src "$(switch_wal src)"

log "a promoted PITR archives timeline 2 into the same repository"
restore_to pitr --target-immediate --archive-mode preserve >/dev/null
start_restored pitr archive
assert_eq 2 "$(timeline_of pitr)" "timeline of the promoted PITR"
add_row pitr 100 >/dev/null
switch_wal pitr >/dev/null
wait_archived pitr "$(switch_wal pitr)"
pg_stop pitr
[ -n "$(hist_object "$REPO" 00000002.history)" ] || fail "00000002.history was not archived"
log "timeline 1 goes on"
pgbench_c src -t 500 -c 2
switch_wal src >/dev/null
wait_archived src "$(switch_wal src)"
pg_stop src

log "clean repository"
pgp_capture --repo "$REPO" verify --jobs 2
assert_rc 0 "verify of a clean repository"
printf '%s\n' "$OUT"
assert_contains "$OUT" "no problems found" "clean verdict"
assert_contains "$OUT" "backup base1: restorable" "base1 restorable"
assert_contains "$OUT" "timeline 2: recoverable from" "reach on timeline 2"
pgp_capture --repo "$REPO" verify --output json
assert_rc 0 "verify --output json of a clean repository"
printf '%s\n' "$OUT" >"$WORK/clean.json"
validate "$WORK/clean.json"
assert_eq ok "$(jq -r .status "$WORK/clean.json")" "JSON status"
assert_eq 0 "$(jq '.problems | length' "$WORK/clean.json")" "JSON problems"
[ "$(jq .checked.backup_objects "$WORK/clean.json")" -gt 100 ] || fail "too few backup objects checked"
[ "$(jq .checked.wal_files "$WORK/clean.json")" -gt 5 ] || fail "too few WAL files checked"
pgp_capture --repo "$REPO" verify --backup base1
assert_rc 0 "verify --backup base1"
pgp_capture --repo "$REPO" verify --backup nosuch
assert_rc 1 "verify --backup of an unknown label"
assert_one_line_error "verify --backup nosuch"
assert_contains "$ERR" 'backup "nosuch" not found' "unknown label named"

log "a flipped bit in a backup file object"
R=$(fresh r_flip)
repo_read "$R" backup/base1/manifest.json >"$WORK/tmp/manifest.json"
# a whole-file object (files of 8 MiB or more are chunks: test_chunked_repo damages one)
acc_path=$(jq -r '[.entries[] | select(.type == "file" and .object != null and .size > 1000000)][0].path' "$WORK/tmp/manifest.json")
acc_obj=$(jq -r --arg p "$acc_path" '.entries[] | select(.path == $p) | .object' "$WORK/tmp/manifest.json")
[ -n "$acc_obj" ] && [ "$acc_obj" != null ] || fail "no big file in base1's manifest"
repo_corrupt "$R" "$acc_obj"
pgp_capture --repo "$R" verify --jobs 2
assert_rc 7 "verify after a flipped bit"
printf '%s\n' "$OUT"
assert_contains "$OUT" "backup file object \"$acc_obj\" is corrupt" "names the object"
assert_contains "$OUT" "backup \"base1\" (file \"$acc_path\")" "names the backup and the file"
assert_contains "$OUT" "can no longer be restored" "says what it breaks"
assert_contains "$OUT" "backup base1: NOT restorable" "base1 not restorable"
assert_contains "$ERR" "verify found 1 problem" "one problem"
pgp_capture --repo "$R" verify --output json
assert_rc 7 "verify --output json after a flipped bit"
printf '%s\n' "$OUT" >"$WORK/flip.json"
validate "$WORK/flip.json"
assert_eq problems "$(jq -r .status "$WORK/flip.json")" "JSON status"
assert_eq "backup_file base1" "$(jq -r '.problems[0] | .kind + " " + .backups[0]' "$WORK/flip.json")" "JSON problem"
assert_eq false "$(jq -r '.backups[] | select(.label == "base1") | .restorable' "$WORK/flip.json")" "JSON restorable"

log "a deleted WAL segment after the backup's stop"
R=$(fresh r_gap)
stop_lsn=$(repo_read "$R" backup/base1/manifest.json | jq -r .stop_lsn)
stop_seg=$(printf '%08X%08X%08X' 1 $((16#${stop_lsn%/*})) $((16#${stop_lsn#*/} / 16777216)))  # 16 MiB
# the second segment after the stop's, on timeline 1: recovery runs into a hole, later ones exist
mapfile -t later < <(seg_objects "$R" 00000001 | while read -r f; do n=$(object_walname "$f"); [[ "$n" > "$stop_seg" ]] && printf '%s\n' "$f"; done)
[ "${#later[@]}" -ge 3 ] || fail "expected 3 or more timeline 1 segments after $stop_seg, got ${#later[@]}"
victim=${later[1]}
victim_name=$(object_walname "$victim")
resume_name=$(object_walname "${later[2]}")
repo_rm "$R" "$victim"
pgp_capture --repo "$R" verify
assert_rc 7 "verify after a deleted segment"
printf '%s\n' "$OUT"
assert_contains "$OUT" "segment $victim_name is missing" "names the segment"
assert_contains "$OUT" "backup \"base1\": points after" "names the backup"
assert_contains "$OUT" "on timeline 1 are not recoverable; the archive resumes at $resume_name" \
    "names the range no longer recoverable"

log "a truncated WAL object"
R=$(fresh r_trunc)
victim=${later[0]}
repo_read "$R" "$victim" >"$WORK/tmp/victim"
head -c $(($(file_size "$WORK/tmp/victim") / 2)) "$WORK/tmp/victim" | repo_write "$R" "$victim"
pgp_capture --repo "$R" verify
assert_rc 7 "verify after a truncated object"
printf '%s\n' "$OUT"
assert_contains "$OUT" "segment $(object_walname "$victim") (object \"$victim\") is corrupt: does not decode" \
    "names the truncated segment"
assert_contains "$OUT" "segment $(object_walname "$victim") is damaged" "continuity counts it as lost"
assert_contains "$OUT" "on timeline 1 are not recoverable; the archive resumes at $victim_name" \
    "names the range no longer recoverable"

log "a missing history file"
R=$(fresh r_hist)
repo_rm "$R" "$(hist_object "$R" 00000002.history)"
pgp_capture --repo "$R" verify
assert_rc 7 "verify without 00000002.history"
printf '%s\n' "$OUT"
assert_contains "$OUT" "the history file of timeline 2 (00000002.history) is missing" "names the file"
assert_contains "$OUT" "timeline 2 cannot be followed" "names the timeline"
pgp_capture --repo "$R" verify --output json
printf '%s\n' "$OUT" >"$WORK/hist.json"
validate "$WORK/hist.json"
assert_eq "history_missing 2" "$(jq -r '.problems[] | select(.kind == "history_missing") | .kind + " " + (.timeline | tostring)' "$WORK/hist.json")" "JSON history problem"

log "throughput (not asserted)"
for j in 1 2; do
    pgp_capture --repo "$REPO" verify --jobs "$j" --output json
    assert_rc 0 "verify --jobs $j"
    log "verify --jobs $j: $(jq -r '"\(.checked.bytes_read) bytes read in \(.checked.seconds) s: \(.checked.mib_per_second) MiB/s"' <<<"$OUT")"
done
log "ok"
