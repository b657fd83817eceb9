# shellcheck shell=bash
# repo_lib.sh - which kind of repository the integration tests run against, and one vocabulary
# to look into a repository of either kind. Sourced by lib.sh (after s3_lib.sh).
#
# PGPITR_IT_REPO_KIND=local|s3|s3-tls (default local) picks the kind: local is a directory in
# $WORK; s3 and s3-tls start this test's own S3 test server (s3-tls over HTTPS with a
# self-signed certificate) and give pgpitr the settings through exported PGPITR_S3_*
# variables (repo_s3_env), which the archive/restore wrappers export too. Tests name their
# repository $REPO (set here) or $(repo_url NAME) for more than one, never "$WORK/repo".
#
# A test that only makes sense on a local repository carries a line
#     # repo-kinds: local -- WHY
# and is skipped (exit 77, the reason printed) under the other kinds.
#
# PGPITR_IT_ENCRYPT=1 makes every repository of the run encrypted (docs/encryption.md): a
# master key file is made for the test ($WORK/master.key, mode 0600, the PostgreSQL user's)
# and given to pgpitr through exported PGPITR_ENCRYPTION and PGPITR_ENCRYPTION_KEY_FILE
# (repo_encryption_env; the wrappers export them too). A test that must see plain objects
# (it decompresses an object's raw bytes, or checks a name against a plain SHA-256) carries
#     # repo-encryption: plain -- WHY
# and is skipped in an encrypted run.
#
# The vocabulary: keys are relative to the repository root and '/'-separated
# ("archive/wal/0000000100000000/NAME-SHA.zst", "backup/b1/manifest.json", "repo.json"), the
# same for both kinds; listings are in byte order. Local temp files (.tmp.*) are not objects:
# they are debris, as are unfinished multipart uploads on S3.
#   repo_keys REPO [DIR]        keys of the objects under DIR (default: all)
#   repo_find REPO DIR GLOB     keys under DIR whose last segment matches GLOB
#   repo_listing REPO [DIR]     "KEY SIZE" lines (repo_bytes REPO [DIR]: their sum)
#   repo_has REPO KEY           status 0 if the object exists (assert_repo_has REPO KEY WHAT;
#                               assert_repo_absent REPO KEY WHAT: no KEY, nothing under KEY/)
#   repo_read REPO KEY          its bytes on stdout (fails the test if missing); in an
#                               encrypted run decrypted by `pgpitr repo-get --no-decompress`
#   repo_read_raw REPO KEY      the bytes as stored (encrypted in an encrypted run)
#   backup_refs REPO LABEL      keys of every object a backup references (chunks included)
#   repo_write REPO KEY         replaces/creates it with stdin's bytes (in an encrypted run
#                               sealed by `pgpitr repo-put --replace`, as repo_read reads)
#   repo_write_raw REPO KEY     the same with the bytes stored as they are
#   repo_rm REPO KEY            removes it (no error if absent)
#   repo_size REPO KEY          its size in bytes
#   repo_stamp REPO KEY         changes when it is written again (mtime; Last-Modified + ETag)
#   repo_corrupt REPO KEY [OFF] flip_bit at OFF (default: the middle byte)
#   repo_copy REPO NEW          copies every object of REPO into the repository NEW
#   repo_debris REPO            local temp files / S3 unfinished uploads, as keys
# and repo_via_proxy [OPTIONS]: pgpitr talks to the S3 server through the fault proxy.

REPO_KIND=${PGPITR_IT_REPO_KIND:-local}
case $REPO_KIND in
    local | s3 | s3-tls) ;;
    *) fail "PGPITR_IT_REPO_KIND must be local, s3 or s3-tls, not '$REPO_KIND'" ;;
esac

# repo_kind_check TEST_FILE: exit 77 when TEST_FILE's "# repo-kinds:" line leaves out the kind.
repo_kind_check() {
    local line kinds why
    line=$(sed -n 's/^# repo-kinds: *//p' "$1" | head -n 1)
    [ -n "$line" ] || return 0
    kinds=${line%% -- *}
    why=${line#* -- }
    [ "$why" != "$line" ] || why="no reason given"
    case " $kinds " in
        *" $REPO_KIND "*) return 0 ;;
    esac
    skip "runs on repository kinds ${kinds% } only: $why"
}

REPO_ENCRYPT=${PGPITR_IT_ENCRYPT:-0}
case $REPO_ENCRYPT in
    0 | 1) ;;
    *) fail "PGPITR_IT_ENCRYPT must be 0 or 1, not '$REPO_ENCRYPT'" ;;
esac

# repo_encryption_check TEST_FILE: exit 77 in an encrypted run when TEST_FILE needs plain
# objects ("# repo-encryption: plain -- WHY").
repo_encryption_check() {
    local why
    [ "$REPO_ENCRYPT" = 1 ] || return 0
    grep -q '^# repo-encryption: *plain' "$1" || return 0
    why=$(sed -n 's/^# repo-encryption: *plain *\(-- *\)\{0,1\}//p' "$1" | head -n 1)
    skip "needs an unencrypted repository: ${why:-no reason given}"
}

repo_is_s3() { [[ "$1" == s3://* ]]; }

# repo_url NAME: the URL of a new, empty repository NAME of this run's kind.
repo_url() {
    if [ "$REPO_KIND" = local ]; then
        printf '%s/%s\n' "$WORK" "$1"
    else
        printf 's3://%s/%s-%s/%s\n' "$S3_IT_BUCKET" "$TEST_NAME" "${WORK##*.}" "$1"
    fi
}

# repo_s3_env: the settings that point pgpitr at the test server, as NAME=VALUE lines (empty
# for a local run). The one place that knows the PGPITR_S3_* names.
repo_s3_env() {
    [ "$REPO_KIND" = local ] && return 0
    printf '%s\n' "PGPITR_S3_ENDPOINT=${S3_PGPITR_ENDPOINT:-$S3_TEST_ENDPOINT}" \
        "PGPITR_S3_REGION=$S3_TEST_REGION" "PGPITR_S3_URI_STYLE=path" \
        "PGPITR_S3_KEY=$S3_TEST_ACCESS_KEY" "PGPITR_S3_KEY_SECRET=$S3_TEST_SECRET_KEY"
    [ "$REPO_KIND" = s3-tls ] && printf '%s\n' "PGPITR_S3_CA_FILE=$S3_TEST_CA_FILE"
    return 0
}
# repo_encryption_env: the encryption settings of an encrypted run as NAME=VALUE lines (empty
# otherwise). The one place that knows their PGPITR_* names.
repo_encryption_env() {
    [ "$REPO_ENCRYPT" = 1 ] || return 0
    printf '%s\n' "PGPITR_ENCRYPTION=aes-256-gcm" "PGPITR_ENCRYPTION_KEY_FILE=$WORK/master.key"
}
# repo_env_exports: repo_s3_env and repo_encryption_env as shell export lines, for wrapper
# scripts.
repo_env_exports() {
    local kv
    while IFS= read -r kv; do
        [ -n "$kv" ] && printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"
    done < <(repo_s3_env; repo_encryption_env)
    return 0
}

# pgpitr_has_s3 BIN: BIN has an S3 driver (its --help lists the s3-endpoint setting).
pgpitr_has_s3() { grep -q -- 's3-endpoint' <<<"$("$1" --help 2>&1)"; }   # no pipe: SIGPIPE

# _repo_export_s3_env: exports repo_s3_env's settings into this shell.
_repo_export_s3_env() {
    local kv
    while IFS= read -r kv; do
        export "${kv?}"
    done < <(repo_s3_env)
}

# repo_via_proxy [PROXY OPTIONS...]: from now on pgpitr reaches the S3 test server through the
# fault-injecting proxy (s3_proxy_start; S3_PROXY_LOG says what it did), while the repo_*
# helpers still talk to the server directly. Call it before writing wrappers and starting
# servers, which take the settings with them. Only under PGPITR_IT_REPO_KIND=s3: the proxy
# speaks plain http.
repo_via_proxy() {
    [ "$REPO_KIND" = s3 ] || skip "the fault proxy needs PGPITR_IT_REPO_KIND=s3 (plain http)"
    s3_proxy_start "$S3_TEST_ENDPOINT" "$@"
    S3_PGPITR_ENDPOINT=$S3_PROXY_URL
    _repo_export_s3_env
}

# repo_kind_setup: starts what the kind needs and sets REPO (called once by lib.sh). Under an
# S3 kind, a pgpitr without an S3 driver skips the test rather than failing it.
repo_kind_setup() {
    if [ "$REPO_KIND" != local ]; then
        # PGPITR_IT_S3_FORCE=1 runs anyway: for the harness's own tests (test_repo_lib...)
        [ "${PGPITR_IT_S3_FORCE:-0}" = 1 ] || pgpitr_has_s3 "$PGPITR" ||
            skip "$PGPITR_BIN has no S3 driver (no s3-endpoint in --help)"
        if [ "$REPO_KIND" = s3-tls ]; then s3_server_start --tls; else s3_server_start; fi
        _repo_export_s3_env
    fi
    if [ "$REPO_ENCRYPT" = 1 ]; then
        ( umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/master.key" )
        own "$WORK/master.key"
        local kv
        while IFS= read -r kv; do export "${kv?}"; done < <(repo_encryption_env)
    fi
    # shellcheck disable=SC2034  # for the tests
    REPO=$(repo_url repo)
}

# _repo_s3_split REPO: sets _B (bucket) and _P (key prefix, no trailing '/').
_repo_s3_split() {
    _B=${1#s3://}
    _B=${_B%%/*}
    _P=${1#s3://"$_B"}
    _P=${_P#/}
    _P=${_P%/}
}
_repo_s3_path() {  # REPO KEY -> "/prefix/key", encoded for the URL; sets _B
    _repo_s3_split "$1"
    s3_uri_encode "${_P:+$_P/}$2" path | sed 's|^|/|'
}

repo_listing() {
    local repo=$1 dir=${2:-} k s
    if repo_is_s3 "$repo"; then
        _repo_s3_split "$repo"
        local p=${_P:+$_P/}
        s3_list_objects "$_B" "$p${dir:+$dir/}" | while IFS=$'\t' read -r k s; do
            printf '%s %s\n' "${k#"$p"}" "$s"
        done
        return 0
    fi
    [ -d "$repo/$dir" ] || return 0
    (cd "$repo" && find "${dir:-.}" -type f ! -name '.tmp.*' -printf '%p %s\n') | sed 's|^\./||' | LC_ALL=C sort
}
# repo_bytes REPO [DIR]: the sum of the sizes of the objects under DIR.
repo_bytes() { repo_listing "$@" | awk '{ s += $NF } END { print s + 0 }'; }
repo_keys() {
    repo_listing "$@" | sed 's/ [0-9]*$//'
}
repo_find() {
    local k
    repo_keys "$1" "$2" | while IFS= read -r k; do
        # shellcheck disable=SC2053  # $3 is a glob on purpose
        if [[ "${k##*/}" == $3 ]]; then printf '%s\n' "$k"; fi
    done
}

# _repo_s3_req OUT METHOD REPO KEY [curl options...]: one signed request about the object KEY
# of the S3 repository REPO; the body goes to OUT, the HTTP status to stdout.
_repo_s3_req() {
    local out=$1 method=$2 path
    path=$(_repo_s3_path "$3" "$4")
    _repo_s3_split "$3"
    shift 4
    s3_curl "$out" "$method" "$_B" "$path" "$@"
}
# _repo_s3_tmp NAME: a scratch file of this shell process for S3 bodies.
_repo_s3_tmp() { printf '%s/s3/%s.%s\n' "$WORK" "$1" "$BASHPID"; }

repo_has() {
    local st
    if repo_is_s3 "$1"; then
        st=$(_repo_s3_req /dev/null HEAD "$1" "$2")
        [ "$st" = 200 ] && return 0
        [ "$st" = 404 ] && return 1
        fail "repo_has $1 $2: HTTP $st"
    fi
    [ -f "$1/$2" ]
}
# assert_repo_has REPO KEY WHAT: fails the test unless the object exists.
assert_repo_has() { repo_has "$1" "$2" || fail "${3:-object missing}: no $2 in $1"; }
# assert_repo_absent REPO KEY WHAT: no object KEY and nothing under KEY/ (locally: no file or
# directory, not even an empty one).
assert_repo_absent() {
    if repo_is_s3 "$1"; then
        ! repo_has "$1" "$2" && [ -z "$(repo_keys "$1" "$2")" ] || fail "${3:-must not exist}: $2 exists in $1"
    else
        assert_absent "$1/$2" "${3:-must not exist}"
    fi
}
# assert_repo_has_all REPO WHAT < KEYS / assert_repo_absent_all REPO WHAT < KEYS: the same
# for every key on stdin, from one listing of REPO (on S3 a request per key made tests that
# check hundreds of objects take minutes). Absent: no object KEY and none under KEY/.
assert_repo_has_all() {
    local bad
    bad=$(awk 'NR == FNR { have[$0] = 1; next } $0 != "" && !($0 in have)' \
        <(repo_keys "$1") - | head -n 3)
    [ -z "$bad" ] || fail "${2:-object missing}: not in $1: $(tr '\n' ' ' <<<"$bad")"
}
assert_repo_absent_all() {
    local bad
    bad=$(awk 'NR == FNR { k = $0; have[k] = 1; while (sub(/\/[^\/]*$/, "", k)) have[k] = 1; next }
               $0 != "" && ($0 in have)' <(repo_keys "$1") - | head -n 3)
    [ -z "$bad" ] || fail "${2:-must not exist}: in $1: $(tr '\n' ' ' <<<"$bad")"
}
# backup_refs REPO LABEL: every object the complete backup LABEL references, one key a line
# (may repeat): whole files' objects, chunk lists, and the chunks each list names (read from
# the list: docs/chunking.md), so that "no object is orphaned" checks see chunks too.
backup_refs() {
    local m l
    m=$(repo_read "$1" "backup/$2/manifest.json")
    jq -r '.entries[] | select(.type == "file") | .object // .chunk_list' <<<"$m"
    jq -r '.entries[] | .chunk_list // empty' <<<"$m" | sort -u | while IFS= read -r l; do
        case $l in
            *.zst) repo_read "$1" "$l" | zstd -dcq ;;
            *.lz4) repo_read "$1" "$l" | lz4 -dcq ;;
            *) repo_read "$1" "$l" ;;
        esac | jq -r '({"zstd": ".zst", "lz4": ".lz4", "none": ""}[.codec]) as $e |
                      .chunks[] | "\(.) \($e)"' | _repo_content_names "$1"
    done
}
# _repo_content_names REPO: "SHA256 EXT" lines on stdin to object keys; in an encrypted run the
# names are keyed by the repository key, which only `pgpitr repo-name` can apply.
_repo_content_names() {
    local sha ext
    if [ "$REPO_ENCRYPT" != 1 ]; then
        while read -r sha ext; do printf 'objects/%s/%s%s\n' "${sha:0:2}" "$sha" "$ext"; done
        return 0
    fi
    local t
    t=$(mktemp "$WORK/tmp/names.XXXXXX")
    cat >"$t"
    paste -d '' <(cut -d' ' -f1 "$t" | as_pg "$PGPITR" --repo "$1" repo-name) \
        <(awk '{ print $2 }' "$t") || fail "_repo_content_names: pgpitr repo-name failed"
    rm -f "$t"
}
# repo_read: in an encrypted run, what the object holds: `pgpitr repo-get --no-decompress`
# authenticates and decrypts it (still compressed, as repo_read_raw gives it in a plain run).
repo_read() {
    if [ "$REPO_ENCRYPT" = 1 ]; then
        repo_has "$1" "$2" || fail "repo_read: no object $2 in $1"
        as_pg "$PGPITR" --repo "$1" repo-get --no-decompress "$2" ||
            fail "repo_read $1 $2: pgpitr repo-get failed"
        return 0
    fi
    repo_read_raw "$@"
}
# repo_read_raw: the bytes as stored, encrypted or not.
repo_read_raw() {
    local st b
    if repo_is_s3 "$1"; then
        b=$(_repo_s3_tmp read)
        st=$(_repo_s3_req "$b" GET "$1" "$2")
        [ "$st" = 200 ] || fail "repo_read $1 $2: HTTP $st $(head -c 300 "$b" 2>/dev/null)"
        cat "$b"
        rm -f "$b"
        return 0
    fi
    [ -f "$1/$2" ] || fail "repo_read: no object $2 in $1"
    cat "$1/$2"
}
# repo_write: in an encrypted run, stdin sealed as the path's kind is (`pgpitr repo-put
# --replace`), so that repo_read gives it back; repo_write_raw stores the bytes as they are.
repo_write() {
    if [ "$REPO_ENCRYPT" = 1 ]; then
        as_pg "$PGPITR" --repo "$1" repo-put --replace "$2" ||
            fail "repo_write $1 $2: pgpitr repo-put failed"
        return 0
    fi
    repo_write_raw "$@"
}
repo_write_raw() {
    local st b o
    if repo_is_s3 "$1"; then
        b=$(_repo_s3_tmp write)
        o=$(_repo_s3_tmp answer)
        cat >"$b"
        st=$(_repo_s3_req "$o" PUT "$1" "$2" -T "$b")
        [ "$st" = 200 ] || fail "repo_write $1 $2: HTTP $st $(head -c 300 "$o" 2>/dev/null)"
        rm -f "$b" "$o"
        return 0
    fi
    # a new file renamed over the old one: the object may be read-only to its owner
    local f="$1/$2" t
    as_pg mkdir -p "$(dirname "$f")"
    t="$(dirname "$f")/.it-write.$BASHPID"
    cat >"$t"
    [ -e "$f" ] && chmod --reference="$f" "$t"
    own "$t"
    mv -f "$t" "$f"
}
repo_rm() {
    local st
    if repo_is_s3 "$1"; then
        st=$(_repo_s3_req /dev/null DELETE "$1" "$2")
        [ "$st" = 204 ] || [ "$st" = 200 ] || fail "repo_rm $1 $2: HTTP $st"
        return 0
    fi
    rm -f "$1/$2"
}
# repo_stamp REPO KEY: what changes when the object is written again (local: mtime to the
# nanosecond; S3: Last-Modified and ETag).
repo_stamp() {
    local st h
    if repo_is_s3 "$1"; then
        h=$(_repo_s3_tmp head)
        st=$(_repo_s3_req "$h" HEAD "$1" "$2")
        [ "$st" = 200 ] || fail "repo_stamp $1 $2: HTTP $st"
        grep -i '^\(last-modified\|etag\):' "$h" | tr -d '\r' | sort
        rm -f "$h"
        return 0
    fi
    stat -c %Y.%y "$1/$2"
}
repo_size() {
    local line
    if repo_is_s3 "$1"; then
        while IFS= read -r line; do
            [ "${line% *}" = "$2" ] && { printf '%s\n' "${line##* }"; return 0; }
        done < <(repo_listing "$1" "$(dirname "$2")")
        fail "repo_size: no object $2 in $1"
    fi
    stat -c %s "$1/$2"
}
repo_corrupt() {
    local repo=$1 key=$2 off=${3:-} f="$WORK/tmp/corrupt.$$"
    repo_read_raw "$repo" "$key" >"$f"
    [ -n "$off" ] || off=$(($(stat -c %s "$f") / 2))
    flip_bit "$f" "$off"
    repo_write_raw "$repo" "$key" <"$f"
    rm -f "$f"
}
repo_copy() {
    local k
    if repo_is_s3 "$1"; then
        _repo_s3_split "$2"
        local db=$_B dp=${_P:+$_P/}
        _repo_s3_split "$1"
        repo_keys "$1" | s3_copy_objects "$_B" "${_P:+$_P/}" "$db" "$dp"
        return 0
    fi
    # Local: one cp, not a read and a write process per object (a backup has a thousand
    # objects: 20 s a copy). Temp files of unfinished writes are not objects: left out.
    mkdir -p "$2"
    cp -a "$1/." "$2/"
    find "$2" -type f -name '.tmp.*' -delete
}
repo_debris() {
    if repo_is_s3 "$1"; then
        _repo_s3_split "$1"
        local p=${_P:+$_P/} k
        s3_list_uploads "$_B" "$p" | while IFS= read -r k; do printf '%s\n' "${k#"$p"}"; done
        return 0
    fi
    [ -d "$1" ] || return 0
    (cd "$1" && find . -name '.tmp.*') | sed 's|^\./||' | LC_ALL=C sort
}
