#!/usr/bin/env bash
# The archive-get prefetch spool without a server: archive-get called by hand in a loop, the
# way PostgreSQL calls it. Hits come from the spool and are byte-identical; the spool never
# holds more than its bound; a corrupt object is never spooled and its request still fails
# with 255; a missing segment is still exit 1; a spool of another repository is wiped, never
# served; the prefetcher ends after its idle timeout and takes its files with it; a spool-size
# below one segment turns prefetching off with a warning, never fails the call; without an
# explicit spool path nothing is spooled outside a data directory in recovery.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/prefetch_lib.sh
source "$(dirname "$0")/prefetch_lib.sh"

N=8
archive_segments "$N"
export PGPITR_PREFETCH_IDLE_TIMEOUT=3
SEG_BYTES=$(file_size "${segs[0]}")
BOUND=3


log "sequential requests are served from the spool, byte-identical, within the bound"
SP="$WORK/spool"
start_sampler "$SP" "$WORK/max1"
spool_get "$SP" "${names[0]}"
assert_rc 0 "archive-get ${names[0]}"
assert_contains "$ERR" "from \"archive/wal/" "first request is fetched from the repository"
assert_same_file "${segs[0]}" "$WORK/tmp/dest" "${names[0]}"
for ((i = 1; i < N; i++)); do
    wait_for_file "$SP/${names[$i]}" 20 || fail "${names[$i]} was not prefetched into $SP"
    spool_get "$SP" "${names[$i]}"
    assert_rc 0 "archive-get ${names[$i]}"
    assert_contains "$ERR" "from the prefetch spool" "${names[$i]} served from the spool"
    assert_same_file "${segs[$i]}" "$WORK/tmp/dest" "${names[$i]} from the spool"
    assert_absent "$SP/${names[$i]}" "a served segment stays in the spool"
done
stop_sampler "$WORK/max1"
log "most files seen in the spool: $max (bound $BOUND)"
[ "$max" -le "$BOUND" ] || fail "the spool held $max files, more than its bound of $BOUND"
assert_gt "$max" 0 "files seen in the spool"

log "a segment that is not archived is still exit 1, silent"
next="${names[$((N - 1))]:0:16}000000FE"
spool_get "$SP" "$next"
assert_rc 1 "archive-get of $next (not archived)"
assert_eq "" "$(printf '%s\n' "$ERR" | grep -v '^pgpitr: info' || true)" "stderr of a missing segment"
assert_absent "$WORK/tmp/dest" "DEST of a missing segment"

log "the prefetcher ends after its idle timeout and removes its files"
for ((i = 0; i < 100; i++)); do prefetcher_running "$SP" || break; sleep 0.1; done
prefetcher_running "$SP" && fail "the prefetcher still runs 10 s after the last request (idle timeout 3 s)"
assert_eq 0 "$(spool_files "$SP")" "files left in the spool after the prefetcher ended"

log "a corrupt object is never spooled; its request fails with 255"
bad=4
obj=$(repo_find "$REPO" archive/wal "${names[$bad]}-*")
[ -n "$obj" ] || fail "no object for ${names[$bad]}"
repo_read "$REPO" "$obj" >"$WORK/good.obj"
repo_corrupt "$REPO" "$obj"
SP2="$WORK/spool2"
start_sampler "$SP2" "$WORK/max2"
spool_get "$SP2" "${names[1]}"
assert_rc 0 "archive-get ${names[1]}"
for ((i = 2; i < bad; i++)); do
    wait_for_file "$SP2/${names[$i]}" 20 || fail "${names[$i]} was not prefetched"
    spool_get "$SP2" "${names[$i]}"
    assert_rc 0 "archive-get ${names[$i]}"
    assert_contains "$ERR" "from the prefetch spool" "${names[$i]} served from the spool"
done
sleep 1   # time for the prefetcher to try (and fail) the corrupt one and everything after
spool_get "$SP2" "${names[$bad]}"
assert_rc 255 "archive-get of the corrupt ${names[$bad]} with prefetching on"
assert_contains "$ERR" "cannot restore \"${names[$bad]}\"" "the error names the segment"
assert_absent "$WORK/tmp/dest" "DEST of a corrupt segment"
stop_sampler "$WORK/max2"
if grep -qx "${names[$bad]}" "$WORK/max2.names"; then
    fail "the corrupt segment ${names[$bad]} appeared in the spool"
fi
[ "$max" -le "$BOUND" ] || fail "the spool held $max files, more than its bound of $BOUND"
repo_write "$REPO" "$obj" <"$WORK/good.obj"

log "a spool of another repository or cluster is wiped, never served"
SP3="$WORK/spool3"
mkdir_pg "$SP3"
chmod 0700 "$SP3"   # a spool directory others could write is never used (test_prefetch_untrusted)
as_pg cp "${segs[2]}" "$SP3/${names[5]}"         # wrong content under the requested name
printf 'pgpitr-spool 1\nrepo /somewhere/else\nsystem-identifier 1\nboot-id x\n' >"$SP3/.identity"
own "$SP3/.identity"
spool_get "$SP3" "${names[5]}"
assert_rc 0 "archive-get ${names[5]} with a foreign spool"
assert_same_file "${segs[5]}" "$WORK/tmp/dest" "${names[5]} with a foreign spool"
assert_contains "$ERR" "from \"archive/wal/" "the foreign spool's file was not served"
ident=$REPO
repo_is_s3 "$REPO" || ident=$(readlink -f "$REPO")
assert_contains "$(cat "$SP3/.identity")" "repo $ident" "identity rewritten"
for ((i = 0; i < 100; i++)); do prefetcher_running "$SP3" || break; sleep 0.1; done

log "spool-size 0 turns prefetching off; a spool-size below one segment too, with a warning"
SP4="$WORK/spool4"
rm -f "$WORK/tmp/dest"
pgp_capture --repo "$REPO" archive-get --spool-path "$SP4" --spool-size 0 "${names[0]}" "$WORK/tmp/dest"
assert_rc 0 "archive-get with spool-size 0"
assert_absent "$SP4" "spool directory with spool-size 0"
rm -f "$WORK/tmp/dest"
pgp_capture --repo "$REPO" archive-get --spool-path "$SP4" --spool-size 1MiB "${names[0]}" "$WORK/tmp/dest"
assert_rc 0 "archive-get with a spool-size below one segment"
assert_same_file "${segs[0]}" "$WORK/tmp/dest" "${names[0]} with a spool-size below one segment"
assert_contains "$ERR" "pgpitr: warn: spool-size 1048576 bytes is smaller than one WAL segment" \
    "warning about the spool-size"
assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "lines on stderr with a spool-size below one segment"
assert_absent "$SP4" "spool directory with a spool-size below one segment"
pgp_capture --repo "$REPO" archive-get --spool-path "$SP4" --spool-size lots "${names[0]}" "$WORK/tmp/dest"
assert_rc 255 "archive-get with a spool-size that does not parse"

# The prefetchers' stderr went to .prefetch.log in each spool (the captures' stderr is not
# opened for appending): sanitizer reports from them show up there.
for f in "$WORK"/spool*/.prefetch.log; do
    [ -e "$f" ] && check_san_stderr "$f" "prefetcher ($f)"
done

log "the default spool is used only in a data directory in archive recovery"
DD="$WORK/fake-data"
mkdir_pg "$DD" "$DD/pg_wal"
as_pg touch "$DD/PG_VERSION"
(cd "$DD" && as_pg "$PGPITR" --repo "$REPO" archive-get "${names[0]}" "$WORK/tmp/dest") ||
    fail "archive-get in a data directory that is not in recovery"
assert_absent "$DD/pg_wal/pgpitr_spool" "spool created in a data directory not in recovery"
as_pg touch "$DD/recovery.signal"
(cd "$DD" && as_pg "$PGPITR" --repo "$REPO" archive-get "${names[0]}" "$WORK/tmp/dest") ||
    fail "archive-get in a data directory in recovery"
[ -d "$DD/pg_wal/pgpitr_spool" ] || fail "no default spool in a data directory in recovery"
wait_for_file "$DD/pg_wal/pgpitr_spool/${names[1]}" 20 || fail "nothing prefetched into the default spool"
log "recovery ends (recovery.signal removed): the prefetcher removes the default spool"
rm -f "$DD/recovery.signal"
for ((i = 0; i < 50; i++)); do [ -e "$DD/pg_wal/pgpitr_spool" ] || break; sleep 0.1; done
assert_absent "$DD/pg_wal/pgpitr_spool" "default spool 5 s after the end of recovery"
log "ok"
