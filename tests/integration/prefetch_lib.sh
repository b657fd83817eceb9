# shellcheck shell=bash
# prefetch_lib.sh - helpers shared by the test_prefetch_*.sh tests (sourced after lib.sh):
# counting what the archive-get spool holds, and sampling that count in the background.

spool_files() {  # segment files and work files: what the bound covers
    { find "$1" -maxdepth 1 -type f ! -name '.identity' ! -name '.requested*' ! -name '.prefetch.*' ! -name '.inflight.*' 2>/dev/null || true; } | wc -l
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
