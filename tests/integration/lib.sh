# shellcheck shell=bash
# lib.sh - shared harness for pgpitr integration tests. Sourced by every tests/integration/test_*.sh.
#
# Gives each test a private work directory ($WORK), a copy of the pgpitr binary there ($PGPITR)
# that the postgres OS user can execute, throwaway PostgreSQL 15 clusters on probed ports with
# their sockets inside $WORK, and assertion helpers. Everything a test starts is stopped by pid
# at exit, pass or fail. When run as root, server commands and pgpitr run as the `postgres` OS
# user (postgres refuses to run as root), through setpriv, which execs: $! is the real pid.
#
# Sanitizers: ASAN_OPTIONS/UBSAN_OPTIONS get log_path=$WORK/san/report, for every pgpitr run
# (by hand or as archive_command/restore_command); any report there fails the test at exit.
# UBSan linked with ASan ignores log_path and writes to stderr, so every pgpitr stderr (the
# wrappers' and pgp/pgp_capture's, all appended to $WORK/log/pgpitr.log) is scanned as well.

set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
TEST_FILE=${BASH_SOURCE[1]:-$0}
TEST_NAME=$(basename "$TEST_FILE" .sh)

_fail_msg() { printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2; }
fail() { _fail_msg "$*"; exit 1; }
skip() { printf 'SKIP: %s: %s\n' "$TEST_NAME" "$*"; exit 77; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

[ -n "${PGPITR_BIN:-}" ] || fail "PGPITR_BIN is not set (path of the pgpitr binary to test)"
[ -x "$PGPITR_BIN" ] || fail "PGPITR_BIN=$PGPITR_BIN is not an executable file"
[ -x "$PG_BIN/initdb" ] || fail "PostgreSQL 15 not found in $PG_BIN (run contrib/install-deps.sh)"

IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1
PG_USER=$(id -un)
AS_PG=()
if [ "$IS_ROOT" -eq 1 ]; then
    PG_USER=postgres
    id postgres >/dev/null 2>&1 || fail "running as root but there is no 'postgres' OS user"
    command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to run as postgres"
fi

# ---------------------------------------------------------------------------------------------
# cleanup: stop what we started (by pid), unmount, check sanitizer reports, remove $WORK
# ---------------------------------------------------------------------------------------------
declare -A CLUSTER_PID=()   # cluster name -> postmaster pid while running
TRACKED_PIDS=()             # other background processes
MOUNTS=()                   # mount points to unmount

# track_pid PID: kill PID at exit unless untracked first (untrack once it has been waited for,
# so that a recycled pid is never signalled).
track_pid() { TRACKED_PIDS+=("$1"); }
untrack_pid() {
    local p keep=()
    for p in "${TRACKED_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    TRACKED_PIDS=("${keep[@]}")
}

# pid_alive PID: running (a zombie counts as gone).
pid_alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$state" != Z ] && [ "$state" != X ]
}
# wait_gone PID SECONDS
wait_gone() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        pid_alive "$1" || return 0
        sleep 0.1
    done
    return 1
}

_kill_pid() {  # pid signal-first
    local pid=$1 sig=$2
    pid_alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 && return 0
    kill -KILL "$pid" 2>/dev/null || true
}

san_reports() {  # prints sanitizer findings, if any
    local f
    for f in "$SAN_LOG_PREFIX".*; do
        [ -e "$f" ] || continue
        printf '=== sanitizer report %s\n' "$f"
        head -n 60 "$f"
    done
    if [ -e "$WORK/log/pgpitr.log" ] && grep -Eq "$SAN_PATTERN" "$WORK/log/pgpitr.log"; then
        printf '=== sanitizer output in %s\n' "$WORK/log/pgpitr.log"
        grep -E -A 20 "$SAN_PATTERN" "$WORK/log/pgpitr.log" | head -n 60
    fi
}

_cleanup() {
    local rc=$? name pid m reports
    trap - EXIT
    set +e
    for pid in "${TRACKED_PIDS[@]}"; do
        _kill_pid "$pid" KILL
    done
    for name in "${!CLUSTER_PID[@]}"; do
        # SIGQUIT is PostgreSQL's immediate shutdown; SIGKILL if it does not go.
        _kill_pid "${CLUSTER_PID[$name]}" QUIT
    done
    for m in "${MOUNTS[@]}"; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || printf 'warning: cannot umount %s\n' "$m" >&2
    done
    reports=$(san_reports)
    if [ -n "$reports" ]; then
        printf '%s\n' "$reports" >&2
        _fail_msg "sanitizer reported errors (see above)"
        [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] && rc=1
    fi
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
        local f
        for f in "$WORK"/*/server.log; do
            [ -e "$f" ] || continue
            printf '=== tail of %s\n' "$f" >&2
            tail -n 15 "$f" >&2
        done
    fi
    if [ "${PGPITR_KEEP_WORK:-0}" = 1 ]; then
        printf 'work dir kept: %s\n' "$WORK" >&2
    else
        cd /
        rm -rf "$WORK"
    fi
    exit "$rc"
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgpitr-it.XXXXXX")
SAN_LOG_PREFIX="$WORK/san/report"
SAN_PATTERN='AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:'
trap _cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
chmod 0700 "$WORK"
[ "$IS_ROOT" -eq 1 ] && chown "$PG_USER:" "$WORK"
if [ "$IS_ROOT" -eq 1 ]; then
    AS_PG=(setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --init-groups --
           env HOME="$WORK" USER="$PG_USER" LOGNAME="$PG_USER")
else
    AS_PG=(env)
fi
cd "$WORK"

# as_pg CMD...: run CMD as the user that owns the clusters (postgres when root).
as_pg() { "${AS_PG[@]}" "$@"; }
# own PATH...: give paths created by the test shell to that user.
own() { [ "$IS_ROOT" -eq 1 ] && chown -R "$PG_USER:" "$@"; return 0; }
# mkdir_pg DIR...: directories the postgres user may write.
mkdir_pg() { mkdir -p "$@"; own "$@"; }

mkdir_pg "$WORK/bin" "$WORK/san" "$WORK/log" "$WORK/tmp"
: >"$WORK/log/pgpitr.log"   # appended to by the test shell and by the postgres user's wrappers
own "$WORK/log/pgpitr.log"
PGPITR="$WORK/bin/pgpitr"
cp "$PGPITR_BIN" "$PGPITR"
chmod 0755 "$PGPITR"
own "$PGPITR"

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SAN_LOG_PREFIX"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$SAN_LOG_PREFIX"
# Nothing from the caller's environment may pick a repository or config for us (S3 settings
# and credentials included: repo_lib.sh exports the test server's).
unset PGPITR_REPO PGPITR_CONFIG PGHOST PGPORT PGDATA PGUSER PGDATABASE
# shellcheck disable=SC2046  # one name a word
unset $(compgen -v PGPITR_S3_ || true) $(compgen -v AWS_ || true)

# ---------------------------------------------------------------------------------------------
# assertions
# ---------------------------------------------------------------------------------------------
assert_eq() {  # expected actual what
    [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}
assert_ne() {  # unexpected actual what
    [ "$1" != "$2" ] || fail "$3: got '$2', which it must not be"
}
assert_gt() {  # actual bound what   (integers)
    [ "$1" -gt "$2" ] || fail "$3: expected > $2, got $1"
}
assert_contains() {  # haystack needle what
    case "$1" in
        *"$2"*) ;;
        *) fail "$3: '$2' not found in: $1" ;;
    esac
}
assert_icontains() {  # haystack needle(regex, case-insensitive) what
    # A here-string, not printf | grep -q: bash writes a multi-line text line by line, grep -q
    # may exit at a match in the first line, and the next write's SIGPIPE then fails the pipe
    # under pipefail (seen in CI under load)
    grep -Eqi -- "$2" <<<"$1" || fail "$3: /$2/ not found in: $1"
}
assert_file() { [ -f "$1" ] || fail "${2:-file missing}: $1 does not exist"; }
assert_absent() {
    if [ -e "$1" ] || [ -L "$1" ]; then fail "${2:-must not exist}: $1 exists"; fi
}
assert_same_file() {  # a b what
    cmp -s "$1" "$2" || fail "$3: $1 and $2 differ ($(cmp "$1" "$2" 2>&1 | head -n 1))"
}

# Sanitizer output in a file (UBSan writes to stderr even with log_path when linked with ASan).
check_san_stderr() {  # FILE WHAT
    if grep -Eq "$SAN_PATTERN" "$1" 2>/dev/null; then
        cat "$1" >&2
        fail "sanitizer report from pgpitr ($2)"
    fi
}

# Run pgpitr as the cluster user. pgp ARGS...  (stderr is also appended to $WORK/log/pgpitr.log)
pgp() {
    local rc=0
    as_pg "$PGPITR" "$@" 2>"$WORK/pgp.err" || rc=$?
    cat "$WORK/pgp.err" >&2
    cat "$WORK/pgp.err" >>"$WORK/log/pgpitr.log"
    check_san_stderr "$WORK/pgp.err" "pgpitr $*"
    return "$rc"
}
# pgp_capture ARGS...: run pgpitr without aborting; sets RC, OUT, ERR.
# shellcheck disable=SC2034  # OUT and ERR are read by the tests
pgp_capture() {
    local rc=0
    as_pg "$PGPITR" "$@" >"$WORK/last.out" 2>"$WORK/last.err" || rc=$?
    RC=$rc
    OUT=$(cat "$WORK/last.out")
    ERR=$(cat "$WORK/last.err")
    cat "$WORK/last.err" >>"$WORK/log/pgpitr.log"
    check_san_stderr "$WORK/last.err" "pgpitr $*"
    return 0
}
# Like pgp_capture, for any command run as the cluster user.
# shellcheck disable=SC2034
as_pg_capture() {
    local rc=0
    as_pg "$@" >"$WORK/last.out" 2>"$WORK/last.err" || rc=$?
    RC=$rc
    OUT=$(cat "$WORK/last.out")
    ERR=$(cat "$WORK/last.err")
    return 0
}
# schema_python: a python3 that has jsonschema (python3-jsonschema, from install-deps).
schema_python() {
    local p
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import jsonschema' 2>/dev/null; then
            printf '%s\n' "$p"
            return 0
        fi
    done
    fail "no python3 with jsonschema (run contrib/install-deps.sh: python3-jsonschema)"
}
# validate_schema SCHEMA FILE: FILE's JSON validates against the JSON schema SCHEMA (draft
# 2020-12); fails naming every violation.
validate_schema() {
    local py out
    py=$(schema_python)
    out=$("$py" - "$1" "$2" <<'PY' 2>&1
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
jsonschema.Draft202012Validator.check_schema(schema)
errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
for e in errors:
    print("%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message))
sys.exit(1 if errors else 0)
PY
    ) || fail "$2 does not validate against $(basename "$1"): $out"
}
# bg_pgp NAME ARGS...: pgpitr in the background as the cluster user; sets BG_PID. A simple
# command, so that $! is pgpitr itself (setpriv and env exec). Output in $WORK/bg.NAME.{out,err}.
bg_pgp() {
    local name=$1
    shift
    "${AS_PG[@]}" "$PGPITR" "$@" >"$WORK/bg.$name.out" 2>"$WORK/bg.$name.err" &
    BG_PID=$!
    track_pid "$BG_PID"
}
# bg_wait PID NAME: waits for a bg_pgp; sets RC, OUT, ERR.
# shellcheck disable=SC2034  # OUT and ERR are read by the tests
bg_wait() {
    local rc=0
    wait "$1" || rc=$?
    untrack_pid "$1"
    RC=$rc
    OUT=$(cat "$WORK/bg.$2.out")
    ERR=$(cat "$WORK/bg.$2.err")
    cat "$WORK/bg.$2.err" >>"$WORK/log/pgpitr.log"
    check_san_stderr "$WORK/bg.$2.err" "background pgpitr $2"
}
assert_rc() {  # expected what    (after pgp_capture)
    [ "$RC" -eq "$1" ] || fail "$2: expected exit $1, got $RC; stderr: $ERR"
}
# The error contract: one line "pgpitr: error: ...", optionally one "HINT: ..." line.
assert_one_line_error() {  # what
    local n first second
    n=$(printf '%s\n' "$ERR" | grep -c '') || true
    first=$(printf '%s\n' "$ERR" | sed -n 1p)
    second=$(printf '%s\n' "$ERR" | sed -n 2p)
    [ -n "$ERR" ] || fail "$1: stderr is empty, expected an error line"
    case "$first" in
        "pgpitr: error: "*) ;;
        *) fail "$1: stderr does not start with 'pgpitr: error: ': $ERR" ;;
    esac
    if [ "$n" -gt 2 ] || { [ "$n" -eq 2 ] && [ "${second#HINT: }" = "$second" ]; }; then
        fail "$1: expected one error line (plus an optional HINT line), got $n lines: $ERR"
    fi
}

# ---------------------------------------------------------------------------------------------
# files and bytes
# ---------------------------------------------------------------------------------------------
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
file_size() { stat -c %s "$1"; }

# flip_bit FILE OFFSET: xor bit 0x10 of the byte at OFFSET, in place.
flip_bit() {
    local f=$1 off=$2 byte
    byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
    [ -n "$byte" ] || fail "flip_bit: offset $off beyond end of $f"
    # shellcheck disable=SC2059
    printf "\\$(printf '%03o' $((byte ^ 16)))" |
        dd of="$f" bs=1 seek="$off" count=1 conv=notrunc status=none
}

# Final-name objects / temp files of a repository, as absolute paths: local repositories only
# (repo_lib.sh's repo_keys/repo_debris work on both kinds).
repo_objects() { [ -d "$1/archive" ] && find "$1/archive" -type f ! -name '.tmp.*' | sort; return 0; }
repo_tmpfiles() { [ -d "$1" ] && find "$1" -name '.tmp.*' | sort; return 0; }
repo_all_files() { [ -d "$1" ] && find "$1" -type f | sort; return 0; }
# The hex an object's name carries for content with SHA-256 SHA: repo_content_hex SHA [REPO];
# SHA itself, or in an encrypted run its keyed name in REPO (default $REPO) from repo-name.
repo_content_hex() {
    local n
    if [ "${REPO_ENCRYPT:-0}" != 1 ]; then
        printf '%s\n' "$1"
        return 0
    fi
    n=$(as_pg "$PGPITR" --repo "${2:-$REPO}" repo-name "$1") ||
        fail "repo_content_hex: pgpitr repo-name failed"
    printf '%s\n' "${n##*/}"
}
# Expected key of a WAL file's object: repo_object_key NAME SHA EXT [REPO]; in an encrypted
# run the name carries the keyed name of SHA in REPO (default $REPO), from `pgpitr repo-name`.
repo_object_key() {
    local name=$1 sha
    sha=$(repo_content_hex "$2" "${4:-$REPO}")
    local ext=$3
    case "$name" in
        *.history) printf 'archive/history/%s-%s%s\n' "$name" "$sha" "$ext" ;;
        *) printf 'archive/wal/%s/%s-%s%s\n' "${name:0:16}" "$name" "$sha" "$ext" ;;
    esac
}
# ... and its path in a local repository: repo_object_path REPO NAME SHA EXT
repo_object_path() { printf '%s/%s\n' "$1" "$(repo_object_key "$2" "$3" "$4")"; }
# WAL file name of an object path: strip dir, "-<64 hex>" and the codec extension.
object_walname() {
    local b
    b=$(basename "$1")
    printf '%s\n' "$b" | sed -E 's/-[0-9a-f]{64}(\.zst|\.lz4)?$//'
}

# accounts_md5 NAME: a checksum of cluster NAME's pgbench_accounts (aid and abalance of every row).
accounts_md5() {
    psql_c "$1" "SELECT md5(string_agg(aid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts"
}

# compare_done REPO DATA: every segment PostgreSQL marked done in data directory DATA comes back
# from REPO byte for byte (archive_get_cmp); how many in n (a global: fail must end the test,
# not a subshell).
compare_done() {
    local done_file name
    n=0
    for done_file in "$2"/pg_wal/archive_status/*.done; do
        name=$(basename "$done_file" .done)
        if [[ ! "$name" =~ ^[0-9A-F]{24}$ ]] || [ ! -f "$2/pg_wal/$name" ]; then continue; fi
        archive_get_cmp "$1" "$name" "$2/pg_wal/$name"
        n=$((n + 1))
    done
}

# archive_get_cmp REPO NAME ORIGINAL: fetch NAME and compare it with ORIGINAL byte for byte.
archive_get_cmp() {
    local repo=$1 name=$2 orig=$3 dest
    dest="$WORK/tmp/get.$name.$$"
    rm -f "$dest"
    pgp_capture --repo "$repo" archive-get "$name" "$dest"
    assert_rc 0 "archive-get $name"
    assert_same_file "$orig" "$dest" "archive-get $name returned different bytes"
    rm -f "$dest"
    [ -z "$(dest_debris)" ] || fail "archive-get $name left files beside DEST: $(dest_debris)"
}
# Hidden (temp) files left in $WORK/tmp, where archive-get writes.
dest_debris() { find "$WORK/tmp" -mindepth 1 -name '.*' | sort; }

# ---------------------------------------------------------------------------------------------
# ports and clusters
# ---------------------------------------------------------------------------------------------
port_in_use() {
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ] && return 0
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    [ -e "/tmp/.s.PGSQL.$1" ] && return 0
    return 1
}
# free_port [LOW HIGH]: a port nobody listens on, in LOW-HIGH (default 20000-39999).
free_port() {
    local p i low=${1:-20000} high=${2:-39999}
    for ((i = 0; i < 200; i++)); do
        p=$((low + RANDOM % (high - low + 1)))
        port_in_use "$p" || { printf '%s\n' "$p"; return 0; }
    done
    fail "no free TCP port found in $low-$high"
}

cluster_dir() { printf '%s/%s\n' "$WORK" "$1"; }
cluster_data() { printf '%s/%s/data\n' "$WORK" "$1"; }
cluster_port() { cat "$WORK/$1/port"; }
cluster_sysid() {
    as_pg "$PG_BIN/pg_controldata" "$(cluster_data "$1")" |
        sed -n 's/^Database system identifier: *//p'
}

# pg_conf NAME 'key = value'...: append settings to the cluster's postgresql.conf.
pg_conf() {
    local name=$1 line
    shift
    for line in "$@"; do
        printf '%s\n' "$line" >>"$(cluster_data "$name")/postgresql.conf"
    done
}

# pg_init NAME [initdb options...]: a new cluster in $WORK/NAME (socket dir $WORK/NAME).
pg_init() {
    local name=$1 dir
    shift
    dir=$(cluster_dir "$name")
    mkdir_pg "$dir"
    as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 \
        --locale=C "$@" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; fail "initdb $name failed"; }
    free_port >"$dir/port"
    pg_conf "$name" "" "# pgpitr integration test settings" \
        "port = $(cat "$dir/port")" \
        "listen_addresses = '127.0.0.1'" \
        "unix_socket_directories = '$dir'" \
        "fsync = off" \
        "shared_buffers = 32MB" \
        "max_wal_size = 1GB" \
        "wal_keep_size = 2GB" \
        "logging_collector = off" \
        "log_min_messages = info"
}

# archive_wrapper NAME REPO [extra pgpitr archive-push options...]: writes
# $WORK/NAME/archive.sh, which exports the sanitizer settings and runs archive-push,
# appending stderr to $WORK/log/pgpitr.log; prints the archive_command line to use.
archive_wrapper() {
    local name=$1 repo=$2 w
    shift 2
    w="$(cluster_dir "$name")/archive.sh"
    {
        printf '#!/bin/sh\n'
        printf 'export ASAN_OPTIONS=%q UBSAN_OPTIONS=%q\n' "$ASAN_OPTIONS" "$UBSAN_OPTIONS"
        repo_env_exports
        printf 'exec %q --repo %q archive-push' "$PGPITR" "$repo"
        [ $# -gt 0 ] && printf ' %q' "$@"
        # shellcheck disable=SC2016  # $1 is for the wrapper script
        printf ' "$1" 2>>%q\n' "$WORK/log/pgpitr.log"
    } >"$w"
    chmod 0755 "$w"
    own "$w"
    printf "%s %%p\n" "$w"
}
restore_wrapper() {  # NAME REPO -> prints the restore_command line
    local name=$1 repo=$2 w
    w="$(cluster_dir "$name")/restore.sh"
    {
        printf '#!/bin/sh\n'
        printf 'export ASAN_OPTIONS=%q UBSAN_OPTIONS=%q\n' "$ASAN_OPTIONS" "$UBSAN_OPTIONS"
        repo_env_exports
        # shellcheck disable=SC2016  # $1 $2 are for the wrapper script
        printf 'exec %q --repo %q archive-get "$1" "$2" 2>>%q\n' "$PGPITR" "$repo" "$WORK/log/pgpitr.log"
    } >"$w"
    chmod 0755 "$w"
    own "$w"
    printf '%s %%f "%%p"\n' "$w"
}

# pg_enable_archiving NAME REPO [archive-push options...]
pg_enable_archiving() {
    local name=$1 repo=$2 cmd
    shift 2
    cmd=$(archive_wrapper "$name" "$repo" "$@")
    pg_conf "$name" "archive_mode = on" "archive_command = '$cmd'" "archive_timeout = 0"
}

# pg_start NAME: start and wait; on a port taken meanwhile, retry on another port.
pg_start() {
    local name=$1 dir data try pid
    dir=$(cluster_dir "$name")
    data=$(cluster_data "$name")
    for ((try = 0; try < 5; try++)); do
        if as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 120 start >"$dir/pg_ctl.log" 2>&1; then
            pid=$(head -n 1 "$data/postmaster.pid")
            [ -n "$pid" ] || fail "pg_start $name: no pid in postmaster.pid"
            CLUSTER_PID[$name]=$pid
            return 0
        fi
        if [ -f "$data/postmaster.pid" ]; then
            pid=$(head -n 1 "$data/postmaster.pid")
            [ -n "$pid" ] && CLUSTER_PID[$name]=$pid
        fi
        if grep -q 'could not bind\|Address already in use\|could not create any TCP/IP sockets' "$dir/server.log" 2>/dev/null; then
            free_port >"$dir/port"
            pg_conf "$name" "port = $(cat "$dir/port")"
            continue
        fi
        cat "$dir/pg_ctl.log" >&2
        tail -n 30 "$dir/server.log" >&2 || true
        fail "pg_start $name failed"
    done
    fail "pg_start $name: no usable port after $try tries"
}

# pg_stop NAME [mode]: clean shutdown (fast by default); the archiver drains on shutdown.
pg_stop() {
    local name=$1 mode=${2:-fast} pid
    pid=${CLUSTER_PID[$name]:-}
    [ -n "$pid" ] || return 0
    as_pg "$PG_BIN/pg_ctl" -D "$(cluster_data "$name")" -m "$mode" -w -t 120 stop >/dev/null ||
        fail "pg_stop $name failed"
    # pg_ctl returns when postmaster.pid is gone; the process exits right after.
    wait_gone "$pid" 30 || fail "pg_stop $name: postmaster $pid still alive"
    unset "CLUSTER_PID[$name]"
}

# psql_c NAME SQL: run SQL, print unaligned tuples.
psql_c() {
    local name=$1 sql=$2
    as_pg PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$(cluster_dir "$name")" \
        -p "$(cluster_port "$name")" -U postgres -d postgres -c "$sql"
}
pgbench_c() {  # NAME pgbench-args...
    local name=$1
    shift
    as_pg "$PG_BIN/pgbench" -h "$(cluster_dir "$name")" -p "$(cluster_port "$name")" \
        -U postgres "$@" postgres >>"$(cluster_dir "$name")/pgbench.log" 2>&1 ||
        { tail -n 20 "$(cluster_dir "$name")/pgbench.log" >&2; fail "pgbench $* failed"; }
}

# switch_wal NAME: write something, switch; prints the name of the segment just completed.
switch_wal() {
    psql_c "$1" "CREATE TABLE IF NOT EXISTS pgpitr_switch(i int); INSERT INTO pgpitr_switch VALUES (1);" >/dev/null
    psql_c "$1" "SELECT pg_walfile_name(pg_switch_wal())"
}

# wait_archived NAME SEGMENT [timeout_s]: until pg_stat_archiver.last_archived_wal >= SEGMENT.
wait_archived() {
    local name=$1 seg=$2 timeout=${3:-120} last i
    for ((i = 0; i < timeout * 5; i++)); do
        last=$(psql_c "$name" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        if [ -n "$last" ] && [[ ! "$last" < "$seg" ]]; then
            return 0
        fi
        sleep 0.2
    done
    psql_c "$name" "SELECT * FROM pg_stat_archiver" >&2 || true
    tail -n 20 "$WORK/log/pgpitr.log" >&2 2>/dev/null || true
    fail "archiving of $seg did not complete within ${timeout}s on $name (last archived: '$last')"
}

# wake_until NAME SECONDS CMD...: until CMD succeeds (checked every 0.2 s), at most SECONDS;
# reloads cluster NAME every second meanwhile. A reload wakes the postmaster, which starts an
# archiver it refused within PGARCH_RESTART_INTERVAL (10 s) only when its loop wakes, and
# wakes an archiver waiting its minute after three failures in a row. Returns 1 on timeout.
wake_until() {
    local name=$1 seconds=$2 i
    shift 2
    for ((i = 0; i < seconds * 5; i++)); do
        "$@" && return 0
        [ $((i % 5)) -eq 4 ] && psql_c "$name" "SELECT pg_reload_conf()" >/dev/null
        sleep 0.2
    done
    return 1
}

# make_segments DIR COUNT [initdb options...]: copies COUNT complete, real WAL segments of a
# throwaway cluster (pgbench data) into DIR; prints nothing. The cluster is "seg-<basename DIR>".
make_segments() {
    local dir=$1 count=$2 name names n cur i=0
    shift 2
    name="seg-$(basename "$dir")"
    mkdir_pg "$dir"
    pg_init "$name" "$@"
    pg_start "$name"
    pgbench_c "$name" -i -q -s 1
    while :; do
        switch_wal "$name" >/dev/null
        cur=$(psql_c "$name" "SELECT pg_walfile_name(pg_current_wal_lsn())")
        names=$(psql_c "$name" "SELECT name FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}\$' AND name < '$cur' ORDER BY name")
        n=$(printf '%s\n' "$names" | grep -c . || true)
        [ "$n" -ge "$count" ] && break
        i=$((i + 1))
        [ "$i" -lt 200 ] || fail "make_segments: could not produce $count segments"
        pgbench_c "$name" -i -q -s 1
    done
    for n in $(printf '%s\n' "$names" | head -n "$count"); do
        as_pg cp "$(cluster_data "$name")/pg_wal/$n" "$dir/$n"
    done
    pg_stop "$name" immediate
}

# ---------------------------------------------------------------------------------------------
# restored clusters
# ---------------------------------------------------------------------------------------------
# conninfo NAME [USER]: libpq connection string of a cluster, for pgpitr backup --pg-conn.
conninfo() { printf 'host=%s port=%s user=%s' "$(cluster_dir "$1")" "$(cluster_port "$1")" "${2:-postgres}"; }

# wait_promoted NAME [SECONDS]: until NAME has finished recovery and promoted (default 120 s).
wait_promoted() {
    local i
    for ((i = 0; i < ${2:-120} * 10; i++)); do
        [ "$(psql_c "$1" "SELECT pg_is_in_recovery()")" = f ] && return 0
        sleep 0.1
    done
    fail "$1 did not finish recovery and promote"
}

# start_restored NAME [archive]: own port and socket; archive_mode off unless "archive" (then
# it keeps the backup's archive_command: the source's wrapper into $REPO; the restore must
# have been made with --archive-mode preserve, or its archive_mode = off wins).
start_restored() {
    local name=$1
    pg_conf "$name" "" "# restored copy" "port = $(cat "$WORK/$name/port")" \
        "unix_socket_directories = '$WORK/$name'"
    [ "${2:-}" = archive ] || pg_conf "$name" "archive_mode = off"
    pg_start "$name"
    wait_promoted "$name"
}

# streaming_standby NAME PRIMARY: pg_standby with restore_command from $REPO, so that a
# promotion (a failover: PRIMARY's archive settings then act) picks a timeline ID above every
# one archived, with recovery_target_timeline = 'current': a standby must follow its primary,
# not a higher timeline some copy archived.
streaming_standby() {
    mkdir_pg "$(cluster_dir "$1")"   # restore_wrapper writes its script there, before pg_standby
    pg_standby "$1" "$2" "restore_command = '$(restore_wrapper "$1" "$REPO")'" \
        "recovery_target_timeline = 'current'"
}

# pg_standby NAME PRIMARY [SETTING...]: a streaming standby of the running cluster PRIMARY in $WORK/NAME
# (pg_basebackup -R: standby.signal and primary_conninfo), on its own port and socket
# directory, started and streaming when this returns. It inherits PRIMARY's configuration,
# archive_command included; with archive_mode = on a standby archives nothing (only 'always'
# would), so the repository still gets its WAL from the primary alone. SETTINGs are extra
# postgresql.conf lines.
pg_standby() {
    local name=$1 primary=$2 dir i st=""
    shift 2
    dir=$(cluster_dir "$name")
    mkdir_pg "$dir"
    as_pg "$PG_BIN/pg_basebackup" -h "$(cluster_dir "$primary")" -p "$(cluster_port "$primary")" \
        -U postgres -D "$dir/data" -R -X stream -c fast --no-sync >"$dir/basebackup.log" 2>&1 ||
        { cat "$dir/basebackup.log" >&2; fail "pg_basebackup of $primary for standby $name failed"; }
    free_port >"$dir/port"
    pg_conf "$name" "" "# standby of $primary" "port = $(cat "$dir/port")" \
        "unix_socket_directories = '$dir'" "$@"
    pg_start "$name"
    for ((i = 0; i < 600; i++)); do
        st=$(psql_c "$name" "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)
        [ "$st" = streaming ] && return 0
        sleep 0.1
    done
    fail "standby $name of $primary does not stream (walreceiver status '$st')"
}

# pgbench_bg NAME SECONDS: pgbench (4 clients) on NAME in the background for at most SECONDS;
# sets BENCH_PID (pgbench itself: setpriv and env exec). Output in $WORK/pgbench.log.
pgbench_bg() {
    "${AS_PG[@]}" "$PG_BIN/pgbench" -h "$(cluster_dir "$1")" -p "$(cluster_port "$1")" \
        -U postgres -n -c 4 -j 2 -T "$2" postgres >"$WORK/pgbench.log" 2>&1 &
    BENCH_PID=$!
    track_pid "$BENCH_PID"
}
# pgbench_stop: ends pgbench_bg's pgbench (SIGTERM: background jobs of a non-interactive shell
# ignore SIGINT) and waits for it.
pgbench_stop() {
    local rc=0
    kill -TERM "$BENCH_PID"
    wait "$BENCH_PID" || rc=$?
    untrack_pid "$BENCH_PID"
    log "pgbench stopped (exit $rc)"
}
# pgbench_history_above NAME N: waits (30 s) until NAME's pgbench_history holds more than N
# rows, then prints how many it holds.
pgbench_history_above() {
    local i n=0
    for ((i = 0; i < 300; i++)); do
        n=$(psql_c "$1" "SELECT count(*) FROM pgbench_history")
        [ "$n" -gt "$2" ] && break
        sleep 0.1
    done
    assert_gt "$n" "$2" "pgbench transactions in pgbench_history on $1"
    printf '%s\n' "$n"
}
# xact_commits NAME: transactions committed so far in database postgres.
xact_commits() { psql_c "$1" "SELECT xact_commit FROM pg_stat_database WHERE datname = 'postgres'"; }
# assert_pgbench_consistent NAME ACCOUNTS: pgbench's invariants hold on NAME (the sums of
# account, teller and branch balances each equal the sum of history deltas), pgbench_accounts
# has ACCOUNTS rows, and pg_amcheck (heap and btree, heapallindexed) finds nothing.
assert_pgbench_consistent() {
    local a t b h
    read -r a t b h <<<"$(psql_c "$1" "SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts) || ' ' ||
        (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers) || ' ' ||
        (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches) || ' ' ||
        (SELECT coalesce(sum(delta), 0) FROM pgbench_history)")"
    log "balances on $1: accounts $a, tellers $t, branches $b, history $h"
    assert_eq "$h" "$a" "sum(abalance) = sum(delta) on $1"
    assert_eq "$h" "$t" "sum(tbalance) = sum(delta) on $1"
    assert_eq "$h" "$b" "sum(bbalance) = sum(delta) on $1"
    assert_eq "$2" "$(psql_c "$1" "SELECT count(*) FROM pgbench_accounts")" "pgbench_accounts rows on $1"
    as_pg_capture "$PG_BIN/pg_amcheck" -h "$(cluster_dir "$1")" -p "$(cluster_port "$1")" \
        -U postgres --all --heapallindexed
    [ "$RC" -eq 0 ] || fail "pg_amcheck --all on $1 (exit $RC): $OUT $ERR"
}

# ---------------------------------------------------------------------------------------------
# the repository: its kind (PGPITR_IT_REPO_KIND), $REPO, and the repo_* vocabulary
# ---------------------------------------------------------------------------------------------
# shellcheck source=s3_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/s3_lib.sh"
# shellcheck source=repo_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/repo_lib.sh"
repo_kind_check "$TEST_FILE"
repo_encryption_check "$TEST_FILE"
repo_kind_setup
