#!/usr/bin/env bash
# archive-push killed with SIGKILL at random moments (including during repository creation):
# a final name only ever holds a complete, correct object; the next push succeeds; temp files
# of dead processes are cleaned up by a later push.
# repo-kinds: local -- temp files (.tmp.*) of killed pushes and their cleanup by later pushes; S3's counterpart (unfinished multipart uploads, aborted by expire) needs its own test
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

TRIALS=${PGPITR_SIGKILL_TRIALS:-40}
REPO="$WORK/repo"
make_segments "$WORK/segs" 2
mapfile -t segs < <(find "$WORK/segs" -maxdepth 1 -type f | sort)
declare -A orig=()
for s in "${segs[@]}"; do orig[$(basename "$s")]=$s; done

# How long one push takes here, to spread the kills over its whole duration.
t0=$(date +%s%N)
pgp_capture --repo "$WORK/timing" archive-push "${segs[0]}"
assert_rc 0 "timing push"
push_ms=$((($(date +%s%N) - t0) / 1000000))
max_delay_ms=$((push_ms + 20 > 60 ? push_ms + 20 : 60))
log "one push takes ${push_ms} ms; kill delays 0-${max_delay_ms} ms"

ms_to_s() { printf '%d.%03d\n' $(($1 / 1000)) $(($1 % 1000)); }

# decode_object PATH: zstd's decoding of a local object; in an encrypted run pgpitr's
# (repo-get authenticates, decrypts and decompresses).
decode_object() {
    if [ "$REPO_ENCRYPT" = 1 ]; then
        as_pg "$PGPITR" --repo "$REPO" repo-get "${1#"$REPO"/}" 2>/dev/null
    else
        zstd -q -d -c "$1" 2>/dev/null
    fi
}
# verify_repo: every final-name object decodes to the original, through pgpitr and through
# an independent decoder; repo.json, when present, is complete.
verify_repo() {
    local what=$1 o w
    if [ -e "$REPO/repo.json" ]; then
        [ -s "$REPO/repo.json" ] || fail "$what: empty repo.json under its final name"
        grep -q '}' "$REPO/repo.json" || fail "$what: incomplete repo.json: $(cat "$REPO/repo.json")"
    fi
    while read -r o; do
        [ -n "$o" ] || continue
        w=$(object_walname "$o")
        [ -n "${orig[$w]:-}" ] || fail "$what: unexpected object $o"
        case "$o" in
            *.zst) decode_object "$o" | cmp -s - "${orig[$w]}" ||
                       fail "$what: $o under a final name does not decode to $w ($(file_size "$o") bytes)" ;;
        esac
        archive_get_cmp "$REPO" "$w" "${orig[$w]}"
    done < <(repo_objects "$REPO")
}

killed_during=0 finished=0 tmp_seen=0
# At least TRIALS trials; more (up to 3x) while too few kills hit a running push: the timing
# push above can be slow on a loaded machine, so that later pushes often finish first.
for ((t = 1; t <= TRIALS || (killed_during <= TRIALS / 4 && t <= 3 * TRIALS); t++)); do
    s=${segs[$((t % ${#segs[@]}))]}
    name=$(basename "$s")
    # Every 5th trial starts from an empty repository (kill while repo.json is created);
    # otherwise remove this segment's objects so that the push has to write one.
    if [ $((t % 5)) -eq 1 ]; then
        rm -rf "$REPO"
    else
        while read -r o; do
            [ -n "$o" ] && [ "$(object_walname "$o")" = "$name" ] && rm -f "$o"
        done < <(repo_objects "$REPO")
    fi
    delay_ms=$((RANDOM % (max_delay_ms + 1)))
    # A simple command (not a function) in the background: $! is the pgpitr process itself
    # (setpriv and env exec). No leak check at exit for a process killed on purpose: a kill
    # that lands inside LeakSanitizer's exit-time scan leaves an empty, half-begun report
    # (seen in CI under ASan). The re-push below, never killed, keeps the leak check.
    ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" \
        "${AS_PG[@]}" "$PGPITR" --repo "$REPO" archive-push "$s" >/dev/null 2>>"$WORK/log/pgpitr.log" &
    pid=$!
    track_pid "$pid"
    sleep "$(ms_to_s "$delay_ms")"
    kill -KILL "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    untrack_pid "$pid"
    if [ "$rc" -eq 137 ]; then
        killed_during=$((killed_during + 1))
    else
        finished=$((finished + 1))
        # finished before the kill: aim earlier from now on
        [ "$delay_ms" -lt "$max_delay_ms" ] && [ "$delay_ms" -ge 20 ] && max_delay_ms=$delay_ms
    fi
    [ -n "$(repo_tmpfiles "$REPO")" ] && tmp_seen=$((tmp_seen + 1))
    [ "$rc" -eq 137 ] || [ "$rc" -eq 0 ] || fail "trial $t: push exited $rc before the kill: $(tail -n 2 "$WORK/log/pgpitr.log")"

    verify_repo "trial $t (killed after ${delay_ms} ms, exit $rc)"
    pgp_capture --repo "$REPO" archive-push "$s"
    assert_rc 0 "trial $t: push after the kill"
    assert_file "$(repo_object_path "$REPO" "$name" "$(sha256_of "$s")" .zst)" "trial $t: object after the re-push"
    verify_repo "trial $t after the re-push"
done
log "$((t - 1)) trials: $killed_during killed mid-push, $finished finished first, temp files seen after $tmp_seen kills"
assert_gt "$killed_during" $((TRIALS / 4)) "trials in which the kill hit a running push"

# Leave temp files of dead processes behind on purpose, then let a live push clean them up.
# A push compresses into memory first and has a temp file only at its very end (write, fsync,
# rename), so the kill must land in that short window: the delay is drawn between lo_ms and
# hi_ms, hi_ms shrinking each time a push finishes first (the timing push alone can be slow
# on a loaded machine, 1.7 s seen in CI, while a push then takes 50 ms) and lo_ms growing each
# time a kill comes before the temp file exists.
name=$(basename "${segs[0]}")
tries=0 lo_ms=0 hi_ms=$max_delay_ms
while [ -z "$(repo_tmpfiles "$REPO")" ] && [ "$tries" -lt 120 ]; do
    tries=$((tries + 1))
    while read -r o; do
        [ -n "$o" ] && [ "$(object_walname "$o")" = "$name" ] && rm -f "$o"
    done < <(repo_objects "$REPO")
    ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" \
        "${AS_PG[@]}" "$PGPITR" --repo "$REPO" archive-push "${segs[0]}" >/dev/null 2>>"$WORK/log/pgpitr.log" &
    pid=$!
    track_pid "$pid"
    # A window narrower than the timing jitter: widen it again.
    [ $((hi_ms - lo_ms)) -ge 4 ] || { lo_ms=$((lo_ms > 10 ? lo_ms - 10 : 0)); hi_ms=$((hi_ms + 10)); }
    delay_ms=$((lo_ms + RANDOM % (hi_ms - lo_ms + 1)))
    sleep "$(ms_to_s "$delay_ms")"
    kill -KILL "$pid" 2>/dev/null || true
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    untrack_pid "$pid"
    if [ "$rc" -eq 137 ]; then
        [ -n "$(repo_tmpfiles "$REPO")" ] || lo_ms=$delay_ms   # killed too early
    elif [ "$delay_ms" -ge 2 ]; then
        hi_ms=$delay_ms                                        # finished first: too late
    fi
done
leftovers=$(repo_tmpfiles "$REPO")
[ -n "$leftovers" ] || fail "could not leave a temp file behind in $tries kills (pushes too fast to catch?)"
log "left behind after $tries kills (last delay ${delay_ms} ms, window ${lo_ms}-${hi_ms} ms): $leftovers"
pgp_capture --repo "$REPO" archive-push "${segs[0]}"
assert_rc 0 "push after dead pushes left temp files"
pgp_capture --repo "$REPO" archive-push "${segs[1]}"
assert_rc 0 "push of the other segment"
remaining=$(repo_tmpfiles "$REPO")
[ -z "$remaining" ] || fail "temp files of dead processes were not cleaned up: $remaining"
verify_repo "final"
log "ok"
