#!/usr/bin/env bash
# run.sh - runs every tests/integration/test_*.sh, each in its own process, PGPITR_IT_JOBS at a
# time (default 2: every test picks its own ports and work directory, so they are independent).
# Usage: PGPITR_BIN=/abs/path/pgpitr tests/integration/run.sh [FILTER...]
#   FILTER: a substring of the test names to run (e.g. "corrupt"); with several, a test runs
#   when its name contains any of them.
# Prints, as each test ends, "PASS name (Ns)", "SKIP name: reason" or "FAIL name (Ns)" plus
# the tail of its log, then "integration: N passed, M failed" (", K skipped" when some
# skipped). Exit 77 from a test means skipped. Non-zero exit when any test failed (or none ran).
# Environment: PGPITR_IT_TIMEOUT (seconds per test, default 600), PGPITR_IT_JOBS (tests at a
# time, default 2), PGPITR_IT_EXCLUDE (test names, space-separated, not run), PGPITR_IT_LOGDIR (keep logs there), PGPITR_KEEP_WORK=1 (keep each test's
# work dir), PGPITR_IT_REPO_KIND=local|s3|s3-tls (the repository every test runs against,
# default local; see repo_lib.sh: tests marked "# repo-kinds: local" skip under s3 kinds),
# PGPITR_IT_ENCRYPT=1 (every repository encrypted; tests marked "# repo-encryption: plain"
# skip).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
filters=("$@")
jobs=${PGPITR_IT_JOBS:-2}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: PGPITR_IT_JOBS must be a positive number" >&2; exit 2; }
case ${PGPITR_IT_REPO_KIND:-local} in
    local | s3 | s3-tls) ;;
    *) echo "run.sh: PGPITR_IT_REPO_KIND must be local, s3 or s3-tls" >&2; exit 2 ;;
esac

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

# run_one NAME PATH: runs one test; its exit status and duration go to $logdir/NAME.{rc,secs}.
run_one() {
    local name=$1 t=$2 start rc=0
    start=$(date +%s)
    timeout -k 30 "${PGPITR_IT_TIMEOUT:-600}" bash "$t" </dev/null >"$logdir/$name.log" 2>&1 || rc=$?
    echo $(($(date +%s) - start)) >"$logdir/$name.secs"
    echo "$rc" >"$logdir/$name.rc"
}

passed=0 failed=0 skipped=0
failed_names=()
# report NAME: prints the verdict of a finished test and counts it.
report() {
    local name=$1 rc secs reason log="$logdir/$1.log"
    rc=$(cat "$logdir/$name.rc")
    secs=$(cat "$logdir/$name.secs")
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
}

names=() paths=()
for t in "$here"/test_*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    if [ "${#filters[@]}" -gt 0 ]; then
        hit=0
        for f in "${filters[@]}"; do [[ "$name" == *"$f"* ]] && hit=1; done
        [ "$hit" -eq 1 ] || continue
    fi
    if [[ " ${PGPITR_IT_EXCLUDE:-} " == *" $name "* ]]; then
        echo "SKIP $name: excluded by PGPITR_IT_EXCLUDE"
        skipped=$((skipped + 1))
        continue
    fi
    names+=("$name")
    paths+=("$t")
done

# The longest tests start first, so that the last minutes are not one long test running alone
# while the other slot idles (about 2 minutes of a CI stage).
long_first=" test_s3_faults test_sigkill test_segsize_1gib test_verify test_backup_standby test_s3_secrets test_s3_pitr "
ordered_names=() ordered_paths=()
for pass in first rest; do
    for i in "${!names[@]}"; do
        case "$long_first" in *" ${names[$i]} "*) in_first=first ;; *) in_first=rest ;; esac
        [ "$in_first" = "$pass" ] || continue
        ordered_names+=("${names[$i]}")
        ordered_paths+=("${paths[$i]}")
    done
done
names=("${ordered_names[@]}") paths=("${ordered_paths[@]}")

start_all=$(date +%s)
declare -A running=()   # pid -> test name
next=0
while [ "$next" -lt "${#names[@]}" ] || [ "${#running[@]}" -gt 0 ]; do
    while [ "$next" -lt "${#names[@]}" ] && [ "${#running[@]}" -lt "$jobs" ]; do
        run_one "${names[$next]}" "${paths[$next]}" &
        running[$!]=${names[$next]}
        next=$((next + 1))
    done
    wait -n || true
    for pid in "${!running[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
            report "${running[$pid]}"
            unset "running[$pid]"
        fi
    done
done
total_secs=$(($(date +%s) - start_all))

[ "$failed" -eq 0 ] || echo "failed: ${failed_names[*]}"
enc=""
[ "${PGPITR_IT_ENCRYPT:-0}" = 1 ] && enc="encrypted "
echo "integration time: ${total_secs}s (${jobs} at a time, ${enc}${PGPITR_IT_REPO_KIND:-local} repository)"
if [ "$skipped" -gt 0 ]; then
    echo "integration: $passed passed, $failed failed, $skipped skipped"
else
    echo "integration: $passed passed, $failed failed"
fi
if [ "$failed" -ne 0 ]; then
    exit 1
fi
if [ $((passed + skipped)) -eq 0 ]; then
    echo "run.sh: no test matched '${filters[*]}'" >&2
    exit 1
fi
exit 0
