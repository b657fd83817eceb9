#!/usr/bin/env bash
# run-all.sh - the README's test command: installs what is missing, builds, runs the unit tests,
# then the unit tests and the integration tests against real PostgreSQL 15 under ASan/UBSan,
# then (beside the unit tests under valgrind) the integration tests too slow for ASan natively,
# the suite against an S3 repository (a subset, and a shorter one over TLS), the Debian package,
# and each libFuzzer harness for about 6 s.
# Ends with one line "N passed, M failed" summing every unit check and integration test of every
# stage; exits non-zero if anything failed (a stage that fails without reporting counts as one
# failure). Prints how long each stage took, as it ends and in a table at the end. Before the
# unit tests, tests/check-layout.sh checks the source tree's shape (counted as one test).
# After them, the packaging stage checks make install, the manual pages and the systemd units;
# the deb stage builds, lints, installs and removes the Debian package (tests/packaging/).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
logs=$(mktemp -d "${TMPDIR:-/tmp}/pgpitr-run-all.XXXXXX")
trap 'rm -rf "$logs"' EXIT

passed=0 failed=0 skipped=0
stage_failed=()

# stage NAME CMD...: run CMD, echoing its output and keeping a copy to parse.
# Each stage's duration is printed when it ends and again in the summary at the end.
stage_times=()
stage() {
    local name=$1 rc=0 t0
    shift
    echo "=== $name: $*"
    t0=$(date +%s)
    "$@" 2>&1 | tee "$logs/$name.log" || rc=${PIPESTATUS[0]}
    local secs=$(($(date +%s) - t0))
    echo "=== $name: ${secs}s (exit $rc)"
    stage_times+=("$(printf '%-12s %5ss  exit %s' "$name" "$secs" "$rc")")
    [ "$rc" -eq 0 ] || stage_failed+=("$name (exit $rc)")
    return "$rc"
}
run_all_t0=$(date +%s)

# bg_stage NAME CMD...: stage NAME started in the background (its output kept in its log and
# printed by bg_stage_wait); bg_stage_wait NAME: waits for it and records it like stage does.
# For a stage that needs little besides one core while the next stages mostly wait on servers.
declare -A bg_pid=() bg_t0=()
bg_stage() {
    local name=$1
    shift
    echo "=== $name: $* (in the background)"
    bg_t0[$name]=$(date +%s)
    "$@" >"$logs/$name.log" 2>&1 &
    bg_pid[$name]=$!
}
bg_stage_wait() {
    local name=$1 rc=0
    wait "${bg_pid[$name]}" || rc=$?
    local secs=$(($(date +%s) - bg_t0[$name]))
    echo "=== $name: output"
    cat "$logs/$name.log"
    echo "=== $name: ${secs}s (exit $rc; ran beside the stages before this line)"
    stage_times+=("$(printf '%-12s %5ss  exit %s (beside others)' "$name" "$secs" "$rc")")
    [ "$rc" -eq 0 ] || stage_failed+=("$name (exit $rc)")
    return "$rc"
}

# count_unit LOG RC: Check prints "NN%: Checks: N, Failures: F, Errors: E".
count_unit() {
    local line n f e
    line=$(grep -Eo 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$1" | tail -n 1 || true)
    if [ -z "$line" ]; then
        [ "$2" -eq 0 ] || failed=$((failed + 1))
        return
    fi
    n=$(sed -E 's/Checks: ([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
    e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + n - f - e))
    failed=$((failed + f + e))
    # A runner that reported no failure yet exited non-zero (crash at exit, leak report) failed.
    if [ "$2" -ne 0 ] && [ $((f + e)) -eq 0 ]; then failed=$((failed + 1)); fi
}

# count_integration LOG RC: run.sh ends with "integration: N passed, M failed[, K skipped]".
count_integration() {
    local line p f s
    line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 || true)
    if [ -z "$line" ]; then
        [ "$2" -eq 0 ] || failed=$((failed + 1))
        return
    fi
    p=$(sed -E 's/^integration: ([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/.*, ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + ${s:-0}))
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
}

# count_prefixed NAME RC: a stage whose log ends "NAME: N passed, M failed" (tests/packaging/).
count_prefixed() {
    sed -E "s/^$1: ([0-9]+ passed, [0-9]+ failed)/integration: \\1/" "$logs/$1.log" >"$logs/$1.count"
    count_integration "$logs/$1.count" "$2"
}

# s3_stages: integration tests again against an S3 repository on the local S3 test server,
# then a shorter subset over TLS with the CA file given to pgpitr (tests/integration/README.md).
# CI runs a subset that puts every command on S3 (archive-push/get, backup, restore incl.
# --delta, recovery with the prefetcher, drill, verify, expire, locks, info; an S3 repository
# named by --repo, PGPITR_REPO and the config file: test_config, ~20 s; files stored as chunks,
# in a repository that mixes them with whole-file backups: test_chunked_repo, ~45 s; archive-push
# pushing a backlog ahead in parallel threads on one S3 connection pool: test_push_ahead): the whole suite
# on S3 takes about 15 minutes on 2 cores, which CI cannot afford next to the local, valgrind
# and ASan stages; `make check-s3` runs all of it. The S3 driver's own tests (test_s3_*) run in
# the asan stage (test_s3_faults and test_s3_secrets in the native integration stage). While
# pgpitr has no S3 driver (its --help lists no s3-endpoint) both are skipped with a message and
# count nothing.
S3_CI_SUBSET=(test_archive_roundtrip test_idempotent test_backup_restore
              test_expire test_locks test_drill_latest test_prefetch_recovery
              test_restore_delta_live test_get_hole test_corrupt_archive test_wrong_cluster
              test_chunked_repo test_push_ahead
              test_repo_lib test_s3_fault_proxy test_config)
# Names are substrings (run.sh): "test_expire" also picks test_expire_during_backup (the lock
# taken over from a stalled holder, which matters most on shared storage) and
# test_expire_lease, left out here (59 s on S3) with test_verify (115 s) and test_backup_dedup
# (46 s): verify and dedup on S3 run in test_chunked_repo (a clean verify, a damaged chunk,
# chunks shared between backups) and test_s3_object_index; `make check-s3` runs them all.
S3_CI_EXCLUDE="test_expire_lease"
S3_TLS_SUBSET=(test_archive_roundtrip test_idempotent test_backup_restore test_get_hole test_repo_lib)
# enc_stage: integration tests again with every repository encrypted (PGPITR_IT_ENCRYPT=1,
# docs/encryption.md), on a local repository and on S3. A subset, for CI's time: the whole
# suite passes encrypted too (`make check-encrypted`, local then S3); test_encryption itself
# runs in the asan stage. The subset covers every command's data and metadata path: backup,
# restore and --delta, recovery with prefetch, holes, drills, expire, manifest checks, locks,
# verify of damaged objects, conflicting pushes, and the repository tools (test_repo_tools).
ENC_SUBSET=(test_backup_restore test_restore_delta_live test_prefetch_recovery test_get_hole
            test_drill_time test_expire_during_backup test_pitr_stray_timeline
            test_backup_manifest_check test_locks test_repo_tools test_idempotent
            test_corrupt_archive test_verify)
ENC_EXCLUDE="test_drill_timelines"
ENC_S3_SUBSET=(test_backup_restore test_prefetch_recovery test_repo_tools)
enc_stage() {
    local rc=0
    stage encrypted env PGPITR_IT_ENCRYPT=1 PGPITR_IT_EXCLUDE="$ENC_EXCLUDE" \
        PGPITR_BIN="$top/build/pgpitr" \
        tests/integration/run.sh "${ENC_SUBSET[@]}" || rc=$?
    count_integration "$logs/encrypted.log" "$rc"
    build/pgpitr --help 2>&1 | grep -q -- 's3-endpoint' || return 0
    rc=0; stage encrypted-s3 env PGPITR_IT_ENCRYPT=1 PGPITR_IT_REPO_KIND=s3 \
        PGPITR_BIN="$top/build/pgpitr" tests/integration/run.sh "${ENC_S3_SUBSET[@]}" || rc=$?
    count_integration "$logs/encrypted-s3.log" "$rc"
}

s3_stages() {
    local rc
    if ! build/pgpitr --help 2>&1 | grep -q -- 's3-endpoint'; then
        echo "=== s3: skipped: build/pgpitr has no S3 driver yet (no s3-endpoint in its --help)"
        stage_times+=("$(printf '%-12s %5s   skipped (no S3 driver)' s3 -)")
        return 0
    fi
    rc=0; stage s3 env PGPITR_IT_REPO_KIND=s3 PGPITR_BIN="$top/build/pgpitr" \
        PGPITR_IT_EXCLUDE="$S3_CI_EXCLUDE" \
        tests/integration/run.sh "${S3_CI_SUBSET[@]}" || rc=$?
    count_integration "$logs/s3.log" "$rc"
    rc=0; stage s3-tls env PGPITR_IT_REPO_KIND=s3-tls PGPITR_BIN="$top/build/pgpitr" \
        tests/integration/run.sh "${S3_TLS_SUBSET[@]}" || rc=$?
    count_integration "$logs/s3-tls.log" "$rc"
}

# ASan/UBSan: the unit tests and the integration suite against build/asan, both cores. Each
# integration test runs ONCE in CI, here, with the sanitizers, and not natively as well: the
# sanitizer build runs the same code with more checks, and running the whole suite twice
# (about 12 minutes natively, 18 under ASan) does not fit CI's 45 minutes with the S3,
# valgrind and fuzz stages (`make check-integration` runs it natively). The tests of
# ASAN_IT_EXCLUDE run natively instead (NATIVE_IT, the integration stage, beside valgrind);
# the S3 stages and the deb stage run the native build too.
# Left out of ASan, each for its time under ASan, with what drives its paths there:
#   test_s3_faults (about 3 minutes: 6000 requests, a fifth faulted): test_s3_unknown and
#     test_s3_killed drive the retry and unknown-outcome paths;
#   test_segsize_1gib (60 s: hashing and compressing 1 GiB segments): test_segsize;
#   test_s3_secrets (74 s: it samples every process's command line while the suite runs);
#   test_drill_timelines (63 s): test_pitr_stray_timeline, test_drill_latest, test_drill_checks;
#   test_backup_memory (43 s; its peak-RSS bounds mean nothing under ASan);
#   test_pitr_targets (74 s): restore_conf, restore_settings, test_pitr_stray_timeline;
#   test_pitr_timelines (57 s): test_pitr_stray_timeline, test_get_timelines;
#   test_drill_objectives (39 s): the drill_objectives unit suite;
#   test_restore_config (36 s): the config and restore_settings unit suites;
#   test_push_ahead_crash (160 s: six server crashes during parallel pushes): test_push_ahead
#     and test_sigkill kill pushes under ASan.
# test_sigkill runs 20 kill trials under ASan (each costs about 2.5 s there) and its full 40
# natively: the paths a killed push leaves behind are the same.
ASAN_IT_EXCLUDE=(test_s3_faults test_segsize_1gib test_s3_secrets test_drill_timelines
                 test_backup_memory test_pitr_targets test_pitr_timelines test_drill_objectives
                 test_restore_config test_push_ahead_crash)
NATIVE_IT=("${ASAN_IT_EXCLUDE[@]}" test_sigkill)
asan_stage() {
    local rc=0
    stage asan env PGPITR_IT_EXCLUDE="${ASAN_IT_EXCLUDE[*]}" PGPITR_SIGKILL_TRIALS=20 \
        make -j"$(nproc)" check-asan || rc=$?
    if grep -Eq 'Checks: [0-9]+' "$logs/asan.log"; then
        count_unit "$logs/asan.log" 0
        if grep -Eq '^integration: ' "$logs/asan.log"; then
            count_integration "$logs/asan.log" "$rc"
        elif [ "$rc" -ne 0 ]; then
            failed=$((failed + 1))   # the ASan unit tests failed, integration never ran
        fi
    elif [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))       # the ASan build failed
    fi
}

rc=0
stage deps contrib/install-deps.sh || rc=$?
if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
fi

rc=0
stage build make -j"$(nproc)" || rc=$?
if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
else
    # includes only down the allowed calls, unique basenames, file and function sizes (~2 s)
    rc=0; stage layout make check-layout || rc=$?
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    # alert rules (promtool check/test rules), dashboard and metric names (~2 s)
    rc=0; stage prometheus make check-prometheus || rc=$?
    p=$(sed -nE 's/^check-prometheus: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$logs/prometheus.log")
    f=$(sed -nE 's/^check-prometheus: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$logs/prometheus.log")
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
    rc=0; stage unit make check-unit || rc=$?
    count_unit "$logs/unit.log" "$rc"
    # make install into a temporary prefix, mandoc -Tlint of the manual pages, systemd-analyze
    # verify and security of every unit and their hardening (~5 s; tests/packaging/)
    rc=0; stage packaging make check-packaging || rc=$?
    count_prefixed packaging "$rc"
    asan_stage
    # valgrind (memcheck) on the unit tests, the other half of "clean under sanitizers and
    # valgrind": about 8 core-minutes, one suite at a time (UNIT_JOBS=1) beside the native
    # integration, S3 and deb stages, which then keep the other core (measured: on both cores
    # it slowed them as much as it gained, 586 s in all against about 470).
    bg_stage valgrind env UNIT_JOBS=1 make check-valgrind
    rc=0; stage integration env PGPITR_BIN="$top/build/pgpitr" \
        tests/integration/run.sh "${NATIVE_IT[@]}" || rc=$?
    count_integration "$logs/integration.log" "$rc"
    s3_stages
    enc_stage
    # the Debian package: built, lintian, installed with dpkg -i, checked, purged (~2 min)
    rc=0; stage deb tests/packaging/check-deb.sh || rc=$?
    count_prefixed deb "$rc"
    rc=0; bg_stage_wait valgrind || rc=$?
    count_unit "$logs/valgrind.log" "$rc"
fi

# libFuzzer harnesses (tests/fuzz/README.md), about 6 s each (a smoke run of the corpus and
# the paths near it; `make fuzz` runs each for 120 s), those of tests/fuzz/ci-skip left out;
# each harness counts as one test (run.sh ends "fuzz: N passed, M failed[, K skipped]").
rc=0; stage fuzz env FUZZ_CI=1 make -j"$(nproc)" fuzz FUZZ_SECONDS=6 || rc=$?
sed -E 's/^fuzz: ([0-9]+ passed, [0-9]+ failed)/integration: \1/' "$logs/fuzz.log" >"$logs/fuzz.count"
count_integration "$logs/fuzz.count" "$rc"

echo
echo "stage times:"
printf '  %s\n' "${stage_times[@]}"
echo "  total        $(($(date +%s) - run_all_t0))s"
if [ "${#stage_failed[@]}" -gt 0 ]; then
    echo "failed stages: ${stage_failed[*]}"
fi
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
if [ "$failed" -ne 0 ] || [ "${#stage_failed[@]}" -gt 0 ]; then
    exit 1
fi
exit 0
