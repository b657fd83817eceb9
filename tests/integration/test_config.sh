#!/usr/bin/env bash
# Where the repository and settings come from: --repo > PGPITR_REPO > config file
# (--config > PGPITR_CONFIG) > /etc/pgpitr/pgpitr.conf; no repository anywhere is exit 3 with a
# hint; `version` and `--help` work. Each way of naming the repository points at a repository of
# its own (repo_url NAME: directories of $WORK, or prefixes side by side under the test's own
# S3 prefix), and each push must land in the named one and nowhere else.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

make_segments "$WORK/segs" 1
seg=$(find "$WORK/segs" -maxdepth 1 -type f | sort | head -n 1)
name=$(basename "$seg")
sha=$(sha256_of "$seg")
cfgdir="$WORK/cfg"
mkdir_pg "$cfgdir"

write_cfg() {  # FILE lines...
    local f=$1
    shift
    printf '%s\n' "$@" >"$f"
    own "$f"
}
# The repositories this test names, all beside each other in ROOT (no others live there).
REPO_CFG_A=$(repo_url repo-cfg-a)
REPO_CFG_B=$(repo_url repo-cfg-b)
REPO_ENV=$(repo_url repo-env)
REPO_FLAG=$(repo_url repo-flag)
REPO_X=$(repo_url repo-x)
ROOT=${REPO_X%/repo-x}
write_cfg "$cfgdir/a.conf" "[global]" "repo = $REPO_CFG_A"
write_cfg "$cfgdir/b.conf" "# another file" "[global]" "repo = $REPO_CFG_B" "compress = none"
write_cfg "$cfgdir/lz4.conf" "[global]" "repo = $(repo_url repo-cfg-lz4)" "compress = lz4"
write_cfg "$cfgdir/level.conf" "[global]" "compress = zstd" "compress-level = 3"

# pushed_to REPO EXT WHAT: the segment's object is in REPO (with codec extension EXT).
pushed_to() {
    assert_repo_has "$1" "$(repo_object_key "$name" "$sha" "$2" "$1")" "$3"
}
# only_repo REPO WHAT: of all the test's repositories, only REPO has anything in it: locally
# no file (temp files included) in any other repo-* directory; on S3 no object and no
# unfinished upload under the test's prefix outside REPO's own prefix.
only_repo() {
    local d stray
    if repo_is_s3 "$1"; then
        stray=$({ repo_keys "$ROOT"; repo_debris "$ROOT"; } |
            awk -v p="${1#"$ROOT"/}/" 'index($0, p) != 1' | head -n 3)
        [ -z "$stray" ] || fail "$2: written outside $1: $(tr '\n' ' ' <<<"$stray")"
        return 0
    fi
    for d in "$WORK"/repo-*; do
        [ -e "$d" ] || continue
        [ "$d" = "$1" ] && continue
        [ -z "$(repo_all_files "$d")" ] || fail "$2: $d was written too"
    done
}
# clean_repos: every repository of the test empty again.
clean_repos() {
    local k
    if repo_is_s3 "$ROOT"; then
        repo_keys "$ROOT" | while IFS= read -r k; do repo_rm "$ROOT" "$k"; done
        k=$(repo_keys "$ROOT")   # an assignment: a failed listing ends the test (set -e)
        [ -z "$k" ] || fail "clean_repos left objects under $ROOT: $k"
        return 0
    fi
    rm -rf "$WORK"/repo-*
}

# push_with DESCRIPTION ENV... -- ARGS...: run archive-push with the given environment.
push_with() {
    local what=$1 envs=() rc=0
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    "${AS_PG[@]}" "${envs[@]}" "$PGPITR" "$@" archive-push "$seg" >"$WORK/last.out" 2>"$WORK/last.err" || rc=$?
    RC=$rc
    ERR=$(cat "$WORK/last.err")
    check_san_stderr "$WORK/last.err" "$what"
    assert_rc 0 "$what"
}

log "config file through PGPITR_CONFIG"
clean_repos
push_with "PGPITR_CONFIG" PGPITR_CONFIG="$cfgdir/a.conf" --
pushed_to "$REPO_CFG_A" .zst "repo from the file named by PGPITR_CONFIG"
only_repo "$REPO_CFG_A" "PGPITR_CONFIG"

log "config file through --config"
clean_repos
push_with "--config" -- --config "$cfgdir/b.conf"
pushed_to "$REPO_CFG_B" "" "repo (and compress = none) from --config"
only_repo "$REPO_CFG_B" "--config"

log "--config beats PGPITR_CONFIG"
clean_repos
push_with "--config over PGPITR_CONFIG" PGPITR_CONFIG="$cfgdir/a.conf" -- --config "$cfgdir/b.conf"
pushed_to "$REPO_CFG_B" "" "--config wins over PGPITR_CONFIG"
only_repo "$REPO_CFG_B" "--config over PGPITR_CONFIG"

log "PGPITR_REPO beats the config file"
clean_repos
push_with "PGPITR_REPO over config" PGPITR_REPO="$REPO_ENV" PGPITR_CONFIG="$cfgdir/a.conf" --
pushed_to "$REPO_ENV" .zst "PGPITR_REPO wins over the config file's repo"
only_repo "$REPO_ENV" "PGPITR_REPO over config"

log "--repo beats PGPITR_REPO and the config file"
clean_repos
push_with "--repo over everything" PGPITR_REPO="$REPO_ENV" PGPITR_CONFIG="$cfgdir/a.conf" -- \
    --repo "$REPO_FLAG"
pushed_to "$REPO_FLAG" .zst "--repo wins"
only_repo "$REPO_FLAG" "--repo over everything"

log "settings from the config file still apply when the repo comes from elsewhere"
clean_repos
push_with "compress from config, repo from flag" PGPITR_CONFIG="$cfgdir/lz4.conf" -- --repo "$REPO_FLAG"
pushed_to "$REPO_FLAG" .lz4 "compress = lz4 from the config file"
only_repo "$REPO_FLAG" "compress from config"
clean_repos
"${AS_PG[@]}" PGPITR_CONFIG="$cfgdir/lz4.conf" "$PGPITR" --repo "$REPO_FLAG" archive-push --compress none "$seg" 2>>"$WORK/log/pgpitr.log" ||
    fail "archive-push --compress none with compress = lz4 in the config"
pushed_to "$REPO_FLAG" "" "--compress none wins over compress = lz4"

clean_repos
push_with "compress-level from the config file" PGPITR_CONFIG="$cfgdir/level.conf" -- --repo "$REPO_FLAG"
pushed_to "$REPO_FLAG" .zst "zstd with compress-level = 3 from the config file"
write_cfg "$cfgdir/badlevel.conf" "[global]" "compress = zstd" "compress-level = 99999"
pgp_capture --config "$cfgdir/badlevel.conf" --repo "$(repo_url repo-badlevel)" archive-push "$seg"
[ "$RC" -ne 0 ] || fail "compress-level = 99999 was accepted"
assert_one_line_error "invalid compress-level"
assert_repo_absent "$(repo_url repo-badlevel)" repo.json "repository created despite an invalid compress-level"
keys=$(repo_keys "$(repo_url repo-badlevel)")
assert_eq "" "$keys" "objects written despite an invalid compress-level"

log "archive-get reads the repo the same way"
clean_repos
push_with "for get" PGPITR_REPO="$REPO_ENV" --
"${AS_PG[@]}" PGPITR_REPO="$REPO_ENV" "$PGPITR" archive-get "$name" "$WORK/tmp/got" 2>>"$WORK/log/pgpitr.log" ||
    fail "archive-get with PGPITR_REPO"
assert_same_file "$seg" "$WORK/tmp/got" "archive-get through PGPITR_REPO"
rm -f "$WORK/tmp/got"
"${AS_PG[@]}" PGPITR_CONFIG="$cfgdir/a.conf" "$PGPITR" --repo "$REPO_ENV" archive-get "$name" "$WORK/tmp/got" \
    2>>"$WORK/log/pgpitr.log" || fail "archive-get with --repo over a config file"
rm -f "$WORK/tmp/got"

log "bad configuration"
pgp_capture --config "$WORK/no-such.conf" --repo "$REPO_X" archive-push "$seg"
[ "$RC" -ne 0 ] || fail "a missing --config file was ignored"
assert_one_line_error "missing --config file"
write_cfg "$cfgdir/bad.conf" "[global]" "compress = snappy" "repo = $(repo_url repo-bad)"
pgp_capture --config "$cfgdir/bad.conf" archive-push "$seg"
[ "$RC" -ne 0 ] || fail "compress = snappy was accepted"
assert_one_line_error "invalid compress in the config file"
assert_repo_absent "$(repo_url repo-bad)" repo.json "repository created despite an invalid config"
keys=$(repo_keys "$(repo_url repo-bad)")
assert_eq "" "$keys" "objects written despite an invalid config"
pgp_capture --log-level chatty --repo "$REPO_X" archive-push "$seg"
[ "$RC" -ne 0 ] || fail "--log-level chatty was accepted"
assert_one_line_error "invalid --log-level"
for lvl in error warn info debug; do
    clean_repos
    pgp_capture --log-level "$lvl" --repo "$REPO_X" archive-push "$seg"
    assert_rc 0 "--log-level $lvl"
done

log "no repository anywhere"
if [ -e /etc/pgpitr/pgpitr.conf ]; then
    log "NOTE: /etc/pgpitr/pgpitr.conf exists on this machine; skipping the no-repository check"
else
    pgp_capture archive-push "$seg"
    assert_rc 3 "archive-push with no repository configured"
    assert_one_line_error "no repository configured"
    assert_contains "$ERR" "HINT: " "no repository configured: hint line"
    pgp_capture archive-get "$name" "$WORK/tmp/got"
    assert_rc 255 "archive-get with no repository configured (must not look like 'not archived')"
    assert_absent "$WORK/tmp/got" "DEST after archive-get without a repository"
fi

log "version and help"
pgp_capture version
assert_rc 0 "pgpitr version"
version_file="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/VERSION"
[ -f "$version_file" ] && assert_contains "$OUT" "$(tr -d '[:space:]' <"$version_file")" "version output"
assert_contains "$OUT" "pgpitr" "version output names the program"
pgp_capture --help
assert_rc 0 "pgpitr --help"
assert_contains "$OUT" "archive-push" "--help lists archive-push"
assert_contains "$OUT" "archive-get" "--help lists archive-get"
assert_contains "$OUT" "--repo" "--help mentions --repo"
pgp_capture archive-push --help
assert_rc 0 "pgpitr archive-push --help"
assert_contains "$OUT" "--compress" "archive-push --help mentions --compress"
pgp_capture archive-get --help
assert_rc 0 "pgpitr archive-get --help"
pgp_capture no-such-command
[ "$RC" -ne 0 ] || fail "an unknown command succeeded"
assert_one_line_error "unknown command"
pgp_capture
[ "$RC" -ne 0 ] || fail "pgpitr without a command succeeded"
log "ok"
