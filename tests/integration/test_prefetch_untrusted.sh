#!/usr/bin/env bash
# The archive-get prefetch spool never serves bytes it cannot vouch for. Another user's spool
# directory (mode 0777, owned by nobody) with a planted segment, its record and a matching
# .identity: not used, nothing in it touched, the real segment fetched. Our own directory with
# mode 0777: not used. A spool path that is a symbolic link: not used, its target untouched.
# In a valid spool, segments changed after the prefetcher verified them - rewritten in place,
# replaced by rename, replaced by a file of another user - are detected at take and fetched
# from the repository instead. Every case: exit 0, the archived bytes, one warning line.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/prefetch_lib.sh
source "$(dirname "$0")/prefetch_lib.sh"

N=4
archive_segments "$N"
export PGPITR_PREFETCH_IDLE_TIMEOUT=3
SEG_BYTES=$(file_size "${segs[0]}")
EVIL=${segs[0]}   # the bytes an attacker wants PostgreSQL to replay instead
BOUND=3

# get_real SPOOL I WHY: archive-get of segment I returns the archived bytes, fetched from the
# repository, with one warning containing WHY.
get_real() {
    local sp=$1 i=$2 why=$3
    spool_get "$sp" "${names[$i]}"
    assert_rc 0 "archive-get ${names[$i]} ($why)"
    assert_same_file "${segs[$i]}" "$WORK/tmp/dest" "${names[$i]} ($why): archive-get returned other bytes"
    assert_contains "$ERR" "from \"archive/wal/" "${names[$i]} ($why) fetched from the repository"
    assert_contains "$ERR" "$why" "the warning for ${names[$i]}"
    assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c 'pgpitr: warn')" "warnings for ${names[$i]} ($why): $ERR"
}
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

log "a valid spool, to learn the identity an attacker would copy"
SP="$WORK/spool"
spool_get "$SP" "${names[0]}"
assert_rc 0 "archive-get ${names[0]}"
identity=$(cat "$SP/.identity")
assert_contains "$identity" "system-identifier" "identity of the valid spool"
# all three: with two fetches at a time names[3] may land before names[2], whose publish
# would then undo the swap below (seen on a host with a load of 11)
for i in 1 2 3; do
    wait_for_file "$SP/${names[$i]}" 20 || fail "${names[$i]} was not prefetched into $SP"
done
[ "$(stat -c %a "$SP")" = 700 ] || fail "the spool pgpitr created has mode $(stat -c %a "$SP")"

log "segments changed after they were verified are not served"
# rewritten in place (same inode, owner and size: only the SHA-256 tells)
as_pg dd if="$EVIL" of="$SP/${names[1]}" bs=1M conv=notrunc status=none
# replaced by rename with a file of the same user and size
as_pg cp "$EVIL" "$SP/.swap"
as_pg mv -f "$SP/.swap" "$SP/${names[2]}"
# replaced by another user's file (root's here), with a matching record
rm -f "$SP/${names[3]}"
cp "$EVIL" "$SP/${names[3]}"
chmod 0644 "$SP/${names[3]}"   # readable: only its owner gives it away
printf '%s %s\n' "$(sha_of "$EVIL")" "$SEG_BYTES" >"$SP/.sha256.${names[3]}"
get_real "$SP" 1 "changed after it was verified"
get_real "$SP" 2 "changed after it was verified"
get_real "$SP" 3 "belongs to uid 0"
for ((i = 0; i < 100; i++)); do prefetcher_running "$SP" || break; sleep 0.1; done

log "another user's spool directory (0777) with a planted segment is never used or touched"
BAD="$WORK/nobody-spool"
mkdir "$BAD"
printf '%s\n' "$identity" >"$BAD/.identity"
cp "$EVIL" "$BAD/${names[1]}"
printf '%s %s\n' "$(sha_of "$EVIL")" "$SEG_BYTES" >"$BAD/.sha256.${names[1]}"
chown -R nobody: "$BAD"
chmod 0666 "$BAD"/.identity "$BAD"/.sha256.* "$BAD/${names[1]}"
chmod 0777 "$BAD"
before=$(cd "$BAD" && find . -printf '%p %s %U %m\n' | sort; sha_of "$BAD/${names[1]}")
get_real "$BAD" 1 "belongs to uid $(id -u nobody)"
assert_contains "$ERR" "HINT" "the warning says what to do"
assert_eq "$before" "$(cd "$BAD" && find . -printf '%p %s %U %m\n' | sort; sha_of "$BAD/${names[1]}")" \
    "another user's spool directory after archive-get"

log "our own spool directory with mode 0777 is not used"
chown -R "$PG_USER:" "$BAD"
get_real "$BAD" 1 "has mode 0777, not 0700"
assert_absent "$BAD/.requested" "request noted in a refused spool"

log "a spool path that is a symbolic link is not used, its target untouched"
mkdir_pg "$WORK/target"
chmod 0700 "$WORK/target"
ln -s "$WORK/target" "$WORK/link"
get_real "$WORK/link" 2 "is a symbolic link"
assert_eq "" "$(find "$WORK/target" -mindepth 1)" "files created through the symlinked spool path"

for f in "$WORK"/*/.prefetch.log; do
    [ -e "$f" ] && check_san_stderr "$f" "prefetcher ($f)"
done
log "ok"
