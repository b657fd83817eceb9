#!/usr/bin/env bash
# Where the repository and settings come from: --repo > PGPITR_REPO > config file
# (--config > PGPITR_CONFIG) > /etc/pgpitr/pgpitr.conf; no repository anywhere is exit 3 with a
# hint; `version` and `--help` work.
# repo-kinds: local -- not yet moved: checks which repository directory got the push for each way of naming it
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
write_cfg "$cfgdir/a.conf" "[global]" "repo = $WORK/repo-cfg-a"
write_cfg "$cfgdir/b.conf" "# another file" "[global]" "repo = $WORK/repo-cfg-b" "compress = none"
write_cfg "$cfgdir/lz4.conf" "[global]" "repo = $WORK/repo-cfg-lz4" "compress = lz4"
write_cfg "$cfgdir/level.conf" "[global]" "compress = zstd" "compress-level = 3"

# pushed_to REPO EXT: the segment's object is in REPO (with codec extension EXT).
pushed_to() {
    assert_file "$(repo_object_path "$1" "$name" "$sha" "$2")" "$3"
}
# only_repo REPO: of all repo-* directories, only REPO has anything in it.
only_repo() {
    local d
    for d in "$WORK"/repo-*; do
        [ -e "$d" ] || continue
        [ "$d" = "$1" ] && continue
        [ -z "$(repo_all_files "$d")" ] || fail "$2: $d was written too"
    done
}
clean_repos() { rm -rf "$WORK"/repo-*; }

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
pushed_to "$WORK/repo-cfg-a" .zst "repo from the file named by PGPITR_CONFIG"
only_repo "$WORK/repo-cfg-a" "PGPITR_CONFIG"

log "config file through --config"
clean_repos
push_with "--config" -- --config "$cfgdir/b.conf"
pushed_to "$WORK/repo-cfg-b" "" "repo (and compress = none) from --config"
only_repo "$WORK/repo-cfg-b" "--config"

log "--config beats PGPITR_CONFIG"
clean_repos
push_with "--config over PGPITR_CONFIG" PGPITR_CONFIG="$cfgdir/a.conf" -- --config "$cfgdir/b.conf"
pushed_to "$WORK/repo-cfg-b" "" "--config wins over PGPITR_CONFIG"
only_repo "$WORK/repo-cfg-b" "--config over PGPITR_CONFIG"

log "PGPITR_REPO beats the config file"
clean_repos
push_with "PGPITR_REPO over config" PGPITR_REPO="$WORK/repo-env" PGPITR_CONFIG="$cfgdir/a.conf" --
pushed_to "$WORK/repo-env" .zst "PGPITR_REPO wins over the config file's repo"
only_repo "$WORK/repo-env" "PGPITR_REPO over config"

log "--repo beats PGPITR_REPO and the config file"
clean_repos
push_with "--repo over everything" PGPITR_REPO="$WORK/repo-env" PGPITR_CONFIG="$cfgdir/a.conf" -- \
    --repo "$WORK/repo-flag"
pushed_to "$WORK/repo-flag" .zst "--repo wins"
only_repo "$WORK/repo-flag" "--repo over everything"

log "settings from the config file still apply when the repo comes from elsewhere"
clean_repos
push_with "compress from config, repo from flag" PGPITR_CONFIG="$cfgdir/lz4.conf" -- --repo "$WORK/repo-flag"
pushed_to "$WORK/repo-flag" .lz4 "compress = lz4 from the config file"
only_repo "$WORK/repo-flag" "compress from config"
clean_repos
"${AS_PG[@]}" PGPITR_CONFIG="$cfgdir/lz4.conf" "$PGPITR" --repo "$WORK/repo-flag" archive-push --compress none "$seg" 2>>"$WORK/log/pgpitr.log" ||
    fail "archive-push --compress none with compress = lz4 in the config"
pushed_to "$WORK/repo-flag" "" "--compress none wins over compress = lz4"

clean_repos
push_with "compress-level from the config file" PGPITR_CONFIG="$cfgdir/level.conf" -- --repo "$WORK/repo-flag"
pushed_to "$WORK/repo-flag" .zst "zstd with compress-level = 3 from the config file"
write_cfg "$cfgdir/badlevel.conf" "[global]" "compress = zstd" "compress-level = 99999"
pgp_capture --config "$cfgdir/badlevel.conf" --repo "$WORK/repo-badlevel" archive-push "$seg"
[ "$RC" -ne 0 ] || fail "compress-level = 99999 was accepted"
assert_one_line_error "invalid compress-level"
assert_absent "$WORK/repo-badlevel/repo.json" "repository created despite an invalid compress-level"

log "archive-get reads the repo the same way"
clean_repos
push_with "for get" PGPITR_REPO="$WORK/repo-env" --
"${AS_PG[@]}" PGPITR_REPO="$WORK/repo-env" "$PGPITR" archive-get "$name" "$WORK/tmp/got" 2>>"$WORK/log/pgpitr.log" ||
    fail "archive-get with PGPITR_REPO"
assert_same_file "$seg" "$WORK/tmp/got" "archive-get through PGPITR_REPO"
rm -f "$WORK/tmp/got"
"${AS_PG[@]}" PGPITR_CONFIG="$cfgdir/a.conf" "$PGPITR" --repo "$WORK/repo-env" archive-get "$name" "$WORK/tmp/got" \
    2>>"$WORK/log/pgpitr.log" || fail "archive-get with --repo over a config file"
rm -f "$WORK/tmp/got"

log "bad configuration"
pgp_capture --config "$WORK/no-such.conf" --repo "$WORK/repo-x" archive-push "$seg"
[ "$RC" -ne 0 ] || fail "a missing --config file was ignored"
assert_one_line_error "missing --config file"
write_cfg "$cfgdir/bad.conf" "[global]" "compress = snappy" "repo = $WORK/repo-bad"
pgp_capture --config "$cfgdir/bad.conf" archive-push "$seg"
[ "$RC" -ne 0 ] || fail "compress = snappy was accepted"
assert_one_line_error "invalid compress in the config file"
assert_absent "$WORK/repo-bad/repo.json" "repository created despite an invalid config"
pgp_capture --log-level chatty --repo "$WORK/repo-x" archive-push "$seg"
[ "$RC" -ne 0 ] || fail "--log-level chatty was accepted"
assert_one_line_error "invalid --log-level"
for lvl in error warn info debug; do
    clean_repos
    pgp_capture --log-level "$lvl" --repo "$WORK/repo-x" archive-push "$seg"
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
