#!/usr/bin/env bash
# run.sh - runs every tests/integration/test_*.sh, each in its own process, one after another.
# Usage: PGPITR_BIN=/abs/path/pgpitr tests/integration/run.sh [FILTER]
#   FILTER: a substring of the test names to run (e.g. "corrupt").
# Prints "PASS name (Ns)", "SKIP name: reason" or "FAIL name (Ns)" plus the tail of its log,
# then "integration: N passed, M failed" (", K skipped" when some skipped). Exit 77 from a
# test means skipped. Non-zero exit when any test failed (or none ran).
# Environment: PGPITR_IT_TIMEOUT (seconds per test, default 600), PGPITR_IT_LOGDIR (keep logs
# there), PGPITR_KEEP_WORK=1 (keep each test's work dir).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
filter=${1:-}

[ -n "${PGPITR_BIN:-}" ] || { echo "run.sh: PGPITR_BIN must name the pgpitr binary" >&2; exit 2; }
case "$PGPITR_BIN" in
    /*) ;;
    *) PGPITR_BIN="$(pwd)/$PGPITR_BIN" ;;
esac
export PGPITR_BIN

if [ -n "${PGPITR_IT_LOGDIR:-}" ]; then
    logdir=$PGPITR_IT_LOGDIR
    mkdir -p "$logdir"
else
    logdir=$(mktemp -d "${TMPDIR:-/tmp}/pgpitr-it-logs.XXXXXX")
    trap 'rm -rf "$logdir"' EXIT
fi

passed=0 failed=0 skipped=0
failed_names=()
start_all=$(date +%s)
for t in "$here"/test_*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then
        continue
    fi
    log="$logdir/$name.log"
    start=$(date +%s)
    rc=0
    timeout -k 30 "${PGPITR_IT_TIMEOUT:-600}" bash "$t" </dev/null >"$log" 2>&1 || rc=$?
    secs=$(($(date +%s) - start))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name (${secs}s)"
    elif [ "$rc" -eq 77 ]; then
        skipped=$((skipped + 1))
        reason=$(grep -m1 '^SKIP' "$log" | sed 's/^SKIP: [^:]*: //' || true)
        echo "SKIP $name: ${reason:-skipped}"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        [ "$rc" -eq 124 ] && echo "FAIL $name (${secs}s, timed out)" || echo "FAIL $name (${secs}s, exit $rc)"
        echo "----- last lines of $name log -----"
        tail -n 40 "$log" | sed 's/^/    /'
        echo "-----"
    fi
done
total_secs=$(($(date +%s) - start_all))

[ "$failed" -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "integration time: ${total_secs}s"
if [ "$skipped" -gt 0 ]; then
    echo "integration: $passed passed, $failed failed, $skipped skipped"
else
    echo "integration: $passed passed, $failed failed"
fi
if [ "$failed" -ne 0 ]; then
    exit 1
fi
if [ $((passed + skipped)) -eq 0 ]; then
    echo "run.sh: no test matched '${filter}'" >&2
    exit 1
fi
exit 0
