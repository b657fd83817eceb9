#!/usr/bin/env bash
# What the archive-get prefetcher asks an S3 store, counted in the fault proxy's request log (no
# faults): one listing finds a run of segments (up to 16 in one archive directory), so filling
# a spool of 8 segments costs one GET each and a listing or two (two fetch jobs may list at the
# same moment), not a listing and a GET per segment: with 20 ms per request that listing was a
# round trip more for every segment. The spooled segments are still the archived bytes.
# repo-kinds: s3 -- counts S3 requests through the proxy (plain http)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/prefetch_lib.sh
source "$(dirname "$0")/prefetch_lib.sh"

[ "$REPO_KIND" = s3 ] || skip "counts S3 requests: PGPITR_IT_REPO_KIND=s3"
N=10
archive_segments "$N"
repo_via_proxy --fault-rate 0
export PGPITR_PREFETCH_IDLE_TIMEOUT=3
SEG_BYTES=$(file_size "${segs[0]}")
BOUND=8
SP="$WORK/spool"

log "the first request starts the prefetcher; it fills the spool with the next $BOUND segments"
before=$(wc -l <"$S3_PROXY_LOG")
spool_get "$SP" "${names[0]}"
assert_rc 0 "archive-get ${names[0]}"
for ((i = 1; i <= BOUND; i++)); do
    wait_for_file "$SP/${names[$i]}" 30 || fail "${names[$i]} was not prefetched into $SP"
done
REQS=$(tail -n +"$((before + 1))" "$S3_PROXY_LOG" | jq -r '"\(.method) \(.path)"')
printf '    %s\n' "$REQS" >&2
lists=$(grep -c 'list-type=2' <<<"$REQS" || true)
gets=$(grep -c '\.zst$' <<<"$REQS" || true)
log "requests: $lists listings, $gets segment GETs for 1 + $BOUND segments"
assert_eq $((BOUND + 1)) "$gets" "segment GETs"
# 1 for the first request's own fetch, then at most one per fetch job for the prefetcher
[ "$lists" -le 3 ] || fail "$lists listings for $((BOUND + 1)) segments: each segment listed on its own"

log "spooled segments are the archived bytes"
for ((i = 1; i <= 3; i++)); do
    spool_get "$SP" "${names[$i]}"
    assert_rc 0 "archive-get ${names[$i]}"
    assert_contains "$ERR" "from the prefetch spool" "${names[$i]} served from the spool"
    assert_same_file "${segs[$i]}" "$WORK/tmp/dest" "${names[$i]} from the spool"
done

log "the prefetcher ends after its idle timeout"
for ((i = 0; i < 100; i++)); do prefetcher_running "$SP" || break; sleep 0.1; done
prefetcher_running "$SP" && fail "the prefetcher still runs 10 s after the last request"
log "ok"
