# shellcheck shell=bash
# prefetch_lib.sh - helpers shared by the test_prefetch_*.sh tests (sourced after lib.sh):
# archiving segments to fetch, archive-get through a spool, waiting for the prefetcher,
# counting what the spool holds, and
# sampling that count in the background.

# archive_segments COUNT: COUNT real WAL segments (make_segments) pushed into $REPO; sets segs
# (their files, sorted) and names (their WAL names).
archive_segments() {
    local s
    make_segments "$WORK/segs" "$1"
    mapfile -t segs < <(find "$WORK/segs" -maxdepth 1 -type f | sort)
    names=()
    for s in "${segs[@]}"; do
        pgp_capture --repo "$REPO" archive-push "$s"
        assert_rc 0 "archive-push $(basename "$s")"
        names+=("$(basename "$s")")
    done
}

# spool_get SPOOL NAME: archive-get NAME into $WORK/tmp/dest through SPOOL with spool-size
# BOUND segments of SEG_BYTES (both set by the test, as is REPO); sets RC, OUT, ERR.
spool_get() {
    rm -f "$WORK/tmp/dest"
    pgp_capture --repo "$REPO" --log-level info archive-get --spool-path "$1" \
        --spool-size $((BOUND * SEG_BYTES)) "$2" "$WORK/tmp/dest"
}
prefetcher_running() { [ -e "$1/.prefetch.lock" ] && ! flock -n "$1/.prefetch.lock" true; }
wait_for_file() {  # FILE SECONDS
    local i
    for ((i = 0; i < $2 * 20; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done
    return 1
}

spool_files() {  # segment files and work files: what the bound covers
    { find "$1" -maxdepth 1 -type f ! -name '.identity' ! -name '.requested*' ! -name '.prefetch.*' ! -name '.inflight.*' ! -name '.sha256.*' 2>/dev/null || true; } | wc -l
}
# sample_spool DIR OUT &: records the highest number of files seen in DIR, and every segment
# name ever seen there, until OUT.stop exists.
sample_spool() {
    local dir=$1 out=$2 max=0 n
    : >"$out.names"
    while [ ! -e "$out.stop" ]; do
        n=$(spool_files "$dir")
        [ "$n" -le "$max" ] || max=$n
        find "$dir" -maxdepth 1 -type f -name '[0-9A-F]*' -printf '%f\n' 2>/dev/null >>"$out.names" || true
        sleep 0.005
    done
    echo "$max" >"$out"
}
start_sampler() { rm -f "$2" "$2.stop"; sample_spool "$1" "$2" & SAMPLER=$!; track_pid "$SAMPLER"; }
stop_sampler() { touch "$1.stop"; wait "$SAMPLER"; untrack_pid "$SAMPLER"; max=$(cat "$1"); }
