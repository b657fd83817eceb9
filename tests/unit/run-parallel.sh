#!/usr/bin/env bash
# run-parallel.sh - runs the unit suites of one runner binary, UNIT_JOBS at a time (default: the
# number of cores), each suite in its own process (CK_RUN_SUITE). The runner alone keeps one
# core busy for its whole run (about 3 minutes under ASan); this spreads it.
# Usage: tests/unit/run-parallel.sh BIN [WRAPPER...]
#   e.g. run-parallel.sh build/unit_tests
#        run-parallel.sh build/unit_tests valgrind -q --error-exitcode=99 --leak-check=full
# Prints each suite's output in suite order, then one line in Check's own format summing every
# suite ("100%: Checks: N, Failures: F, Errors: E"): tests/run-all.sh counts that last line.
# A suite whose process fails without reporting a failed check (a crash, a sanitizer or valgrind
# finding at exit) counts as one error. Exit 0 only when every suite passed.
set -euo pipefail

[ "$#" -ge 1 ] || { echo "usage: $0 BIN [WRAPPER...]" >&2; exit 2; }
bin=$1
shift
wrapper=("$@")
jobs=${UNIT_JOBS:-$(nproc)}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "run-parallel.sh: UNIT_JOBS must be a positive number" >&2; exit 2; }
out=$(mktemp -d "${TMPDIR:-/tmp}/pgpitr-unit.XXXXXX")
trap 'rm -rf "$out"' EXIT

mapfile -t suites < <("$bin" --list)
[ "${#suites[@]}" -gt 0 ] || { echo "run-parallel.sh: $bin lists no suite" >&2; exit 1; }

# run_suite NAME: its output in $out/NAME.log, its exit status in $out/NAME.rc.
run_suite() {
    local rc=0
    CK_RUN_SUITE=$1 "${wrapper[@]}" "$bin" >"$out/$1.log" 2>&1 || rc=$?
    echo "$rc" >"$out/$1.rc"
}

running=0
for s in "${suites[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    run_suite "$s" &
    running=$((running + 1))
done
wait

checks=0 failures=0 errors=0 bad=()
for s in "${suites[@]}"; do
    cat "$out/$s.log"
    rc=$(cat "$out/$s.rc" 2>/dev/null || echo 1)
    line=$(grep -Eo 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$out/$s.log" | tail -n 1 || true)
    if [ -z "$line" ]; then
        errors=$((errors + 1))
        bad+=("$s (no summary, exit $rc)")
        continue
    fi
    read -r n f e < <(sed -E 's/Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+)/\1 \2 \3/' <<<"$line")
    checks=$((checks + n)) failures=$((failures + f)) errors=$((errors + e))
    if [ "$rc" -ne 0 ]; then
        [ $((f + e)) -gt 0 ] || errors=$((errors + 1))
        bad+=("$s (exit $rc)")
    fi
done
[ "${#bad[@]}" -eq 0 ] || echo "failed suites: ${bad[*]}"
pct=0
[ "$checks" -eq 0 ] || pct=$(((checks - failures - errors) * 100 / checks))
[ "$pct" -ge 0 ] || pct=0
echo "${#suites[@]} suites, ${jobs} at a time"
echo "${pct}%: Checks: ${checks}, Failures: ${failures}, Errors: ${errors}"
[ "${#bad[@]}" -eq 0 ] && [ "$failures" -eq 0 ] && [ "$errors" -eq 0 ]
