#!/usr/bin/env bash
# run.sh [NAME...] - runs the libFuzzer harnesses that `make fuzz-build` put in build/fuzz
# (every tests/fuzz/fuzz_<name>.c, or only the NAMEs given), FUZZ_JOBS at a time, each for
# FUZZ_SECONDS (0: only replay the seeds once). Each harness works on
# build/fuzz/corpus/<name> (new inputs go there) plus the checked-in seeds
# tests/fuzz/corpus/<name> (only read), with tests/fuzz/<name>.dict when there is one.
# Prints one line per harness (executions, coverage, or the crash and its reproducer under
# build/fuzz/crashes/<name>/), then "fuzz: N passed, M failed[, K skipped]"; exits non-zero if
# any harness crashed. FUZZ_CI=1 skips the harnesses listed in tests/fuzz/ci-skip (known
# crashes being fixed elsewhere), each counted as skipped. FUZZ_BIN_DIR (default build/fuzz)
# says where the harnesses are, FUZZ_OUT (default the same) where corpus, crashes and logs go.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
src=$top/tests/fuzz
bins=${FUZZ_BIN_DIR:-$top/build/fuzz}
out=${FUZZ_OUT:-$bins}
seconds=${FUZZ_SECONDS:-120}
jobs=${FUZZ_JOBS:-2}

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for f in "$src"/fuzz_*.c; do
        n=${f##*/fuzz_}
        names+=("${n%.c}")
    done
fi

# Sanitizer reports that name the line, and a leak is a failure like a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

results=$out/results
rm -rf "$results"
mkdir -p "$results" "$out/logs"

skipped_in_ci() {
    [ "${FUZZ_CI:-0}" = 1 ] && [ -f "$src/ci-skip" ] &&
        grep -Eq "^$1([[:space:]]|$)" "$src/ci-skip"
}

# run_one NAME: runs one harness, writes its verdict line to $results/NAME.
run_one() {
    local name=$1 bin=$bins/fuzz_$1 work=$out/corpus/$1 crashes=$out/crashes/$1/
    local seeds=$src/corpus/$1 log=$out/logs/$1.log rc=0
    local args=(-timeout=25 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes")
    if [ ! -x "$bin" ]; then
        echo "FAILED $name: $bin is missing (run make fuzz-build)" >"$results/$name"
        return
    fi
    mkdir -p "$work" "$crashes"
    [ -f "$src/$name.dict" ] && args+=(-dict="$src/$name.dict")
    if [ "$seconds" -gt 0 ]; then
        args+=(-max_total_time="$seconds")
    else
        args+=(-runs=0)
    fi
    [ -d "$seeds" ] || seeds=
    "$bin" "${args[@]}" "$work" ${seeds:+"$seeds"} >"$log" 2>&1 || rc=$?
    local execs cov
    execs=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log" | tail -n 1)
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n 1 || true)
    if [ "$rc" -eq 0 ]; then
        echo "ok $name: ${execs:-?} executions in ${seconds} s (${cov:-no coverage line})" \
            >"$results/$name"
    else
        local why repro
        why=$(grep -Em1 'fuzz property failed|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$log" || true)
        repro=$(sed -nE 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
        echo "FAILED $name (exit $rc, ${execs:-?} executions): ${why:-see the log}; reproducer: ${repro:-none}; log: $log" \
            >"$results/$name"
    fi
}

echo "fuzz: ${#names[@]} harnesses, ${seconds} s each, $jobs at a time"
for name in "${names[@]}"; do
    if skipped_in_ci "$name"; then
        echo "skipped $name: listed in tests/fuzz/ci-skip" >"$results/$name"
        continue
    fi
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
    run_one "$name" &
done
wait

passed=0 failed=0 skipped=0
for name in "${names[@]}"; do
    line=$(cat "$results/$name" 2>/dev/null || echo "FAILED $name: no result")
    echo "fuzz: $line"
    case $line in
    ok*) passed=$((passed + 1)) ;;
    skipped*) skipped=$((skipped + 1)) ;;
    *) failed=$((failed + 1)) ;;
    esac
done
if [ "$skipped" -gt 0 ]; then
    echo "fuzz: $passed passed, $failed failed, $skipped skipped"
else
    echo "fuzz: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
