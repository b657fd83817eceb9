# shellcheck shell=bash
# tests/bench/lib.sh -- what the `make bench` scripts (run.sh, backup.sh, restore.sh, s3.sh, drain.sh,
# sustained.sh) share:
# logging, locating PostgreSQL, stopping a postmaster by pid, the outer part (dependencies, work
# directory, privilege drop and re-run of the script as its inner part) and the cleanup traps.
# Sourced, not run. The sourcing script sets, before sourcing:
#   SELF      its own absolute path (the outer part copies it, and this file, into $W/bin so the
#             inner re-run as `postgres` finds both)
#   BENCH_LOG the prefix of its log lines ("bench", "bench-backup", ...)
# and may redefine stop_all (what the cleanup traps stop) after sourcing.

log() { printf '%s: %s\n' "$BENCH_LOG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$BENCH_LOG" "$*" >&2; exit 1; }

# pg_bindir [VERSION]: the PostgreSQL server binaries; VERSION's if installed, else the newest
# installed, else wherever initdb is on PATH.
pg_bindir() {
  local d=""
  [ -n "${1:-}" ] && d=/usr/lib/postgresql/$1/bin
  # shellcheck disable=SC2012  # version-sorted directory names
  [ -n "$d" ] && [ -x "$d/initdb" ] || d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] || d=$(dirname "$(command -v initdb 2>/dev/null || echo /x/x)")
  [ -x "$d/initdb" ] || die "PostgreSQL server binaries not found; run contrib/install-deps.sh"
  echo "$d"
}

# Stop a postmaster started from data directory $1, by the pid in its postmaster.pid.
stop_postmaster() {
  local pidfile=$1/postmaster.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid" 2>/dev/null || true          # fast shutdown
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# What both cleanup traps stop; a script with more servers or helpers redefines it.
stop_all() { stop_postmaster "$W/pgdata"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# psql_q SQL: one query on the server at socket directory $SOCK, port $PORT, as $PSQL_USER if set
# (else the OS user's role).
psql_q() {
  "$PGBIN/psql" -X -q -At -h "$SOCK" -p "$PORT" ${PSQL_USER:+-U "$PSQL_USER"} -d postgres \
    -v ON_ERROR_STOP=1 -c "$1"
}

# children_cpu_ms -> CPU_MS: CPU time (user + sys, ms) of all waited-for children so far, from
# the `times` builtin (no fork; millisecond resolution).
# shellcheck disable=SC2034  # CPU_MS is read by the sourcing script
children_cpu_ms() {
  local u s total=0 v
  times >"$W/.times"
  { read -r _ _; read -r u s; } <"$W/.times"
  for v in "$u" "$s"; do
    [[ "$v" =~ ^([0-9]+)m([0-9]+)[.,]([0-9]{3})s$ ]] || { CPU_MS=0; return 0; }
    total=$(( total + 10#${BASH_REMATCH[1]} * 60000 + 10#${BASH_REMATCH[2]} * 1000 + 10#${BASH_REMATCH[3]} ))
  done
  CPU_MS=$total
}

host_line() {
  echo "host: $(nproc) CPU ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)), work dir on $(stat -f -c %T "$W") ($(df --output=source "$W" | tail -n 1))"
}

# ---------------------------------------------------------------------------------------------
# Outer part: dependencies, work directory, privilege drop. Runs as whoever called make.
# ---------------------------------------------------------------------------------------------

# need_commands CMD...: install the benchmark dependencies if any CMD is missing.
need_commands() {
  local c root_dir
  for c in "$@"; do
    command -v "$c" >/dev/null && continue
    root_dir=$(cd "$(dirname "$SELF")/../.." && pwd)
    log "installing missing benchmark dependencies"
    PGPITR_WITH_BENCH=1 "$root_dir/contrib/install-deps.sh"
    return 0
  done
}

# outer_run WORKNAME SKIPPED NAME=VALUE...: make the work directory ${TMPDIR:-/tmp}/WORKNAME.XXXXXX
# with this script, lib.sh, the pgpitr binary and BENCH_EXTRA_BINS in $W/bin, then run the script's inner part
# there (as `postgres` when root) with BENCH_INNER=1, BENCH_WORK, the NAME=VALUE settings and
# PATH. SKIPPED ends the message logged when PGPITR_BIN is unusable. Returns the inner status.
outer_run() {
  local name=$1 skipped=$2 rc=0 script
  shift 2
  script=$(basename "$SELF")
  W=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
  trap 'outer_cleanup' EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$W/bin"
  cp "$SELF" "$W/bin/$script"
  cp "$(dirname "$SELF")/lib.sh" "$W/bin/lib.sh"
  # BENCH_EXTRA_BINS: more executables the inner part runs, space-separated, each PATH (copied
  # under its own name) or NAME=PATH, into $W/bin so the unprivileged user can run them
  # whatever the build directory's modes.
  local extra
  for extra in ${BENCH_EXTRA_BINS:-}; do
    case $extra in
      *=*) cp "${extra#*=}" "$W/bin/${extra%%=*}" ;;
      *) cp "$extra" "$W/bin/" ;;
    esac
  done
  if [ -n "${PGPITR_BIN:-}" ]; then
    if [ -x "$PGPITR_BIN" ]; then cp "$PGPITR_BIN" "$W/bin/pgpitr"
    else log "PGPITR_BIN='$PGPITR_BIN' is not an executable file; $skipped"; fi
  fi
  # An older pgpitr to compare with in the same run (tests/bench/backup.sh), if given.
  if [ -n "${BENCH_PGPITR_BASELINE:-}" ]; then
    if [ -x "$BENCH_PGPITR_BASELINE" ]; then cp "$BENCH_PGPITR_BASELINE" "$W/bin/pgpitr-baseline"
    else log "BENCH_PGPITR_BASELINE='$BENCH_PGPITR_BASELINE' is not an executable file; ignored"; fi
  fi
  local envs=(BENCH_INNER=1 BENCH_WORK="$W" "$@" PATH="$PATH")
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user"
    chown -R postgres: "$W"
    chmod 0700 "$W"
    runuser -u postgres -- env "${envs[@]}" bash "$W/bin/$script" || rc=$?
  else
    env "${envs[@]}" bash "$W/bin/$script" || rc=$?
  fi
  return $rc
}

outer_cleanup() {
  local rc=$?
  stop_all
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "work directory kept: $W"; else rm -rf "$W"; fi
  exit $rc
}

# ---------------------------------------------------------------------------------------------
# Inner part: runs as an unprivileged user inside $W.
# ---------------------------------------------------------------------------------------------

# inner_start DIR...: enter the work directory, set the cleanup traps, make DIRs under it.
# SOCK (psql_q's socket directory) defaults to the work directory.
inner_start() {
  local d
  W=$BENCH_WORK
  SOCK=$W
  cd "$W" || exit 1
  trap 'inner_cleanup' EXIT
  trap 'exit 130' INT TERM
  for d in "$@"; do mkdir -p "$W/$d"; done
}

inner_cleanup() {
  local rc=$?
  stop_all
  exit $rc
}

# --- restore benchmarks (restore.sh, s3.sh) --------------------------------------------------

# The wrapper every contestant's restore_command goes through: logs "start end status" per call.
write_wrapper() {
  cat >"$W/bin/timed.sh" <<'EOF'
#!/bin/bash
log=$1
shift
t0=$EPOCHREALTIME
"$@"
rc=$?
echo "$t0 $EPOCHREALTIME $rc" >>"$log"
exit $rc
EOF
  chmod 0755 "$W/bin/timed.sh"
}

# Log timestamp "2026-11-22 04:17:21.268 UTC" of the first line matching $2 in $1 -> epoch ms.
log_ms() {
  local line
  line=$(grep -m1 -- "$2" "$1" | cut -d' ' -f1-2) || return 1
  [ -n "$line" ] || return 1
  date -u -d "$line" +%s%3N
}

# start_source: the source cluster in $W/pgdata on a free port (pick_port SOURCE_PORT_LOW
# SOURCE_PORT_HIGH; a script with its own pick_port may ignore them), socket in $W/sock.
start_source() {
  local try
  for try in 1 2 3 4 5; do
    PORT=$(pick_port "${SOURCE_PORT_LOW:-41000}" "${SOURCE_PORT_HIGH:-42000}")
    "$PGBIN/pg_ctl" -D "$W/pgdata" -l "$W/log/source.log" -w -t 120 \
      -o "-p $PORT -k $W/sock -c listen_addresses=''" start >/dev/null && return 0
    log "postgres did not start on port $PORT (attempt $try), retrying"
  done
  tail -n 20 "$W/log/source.log" >&2 || true
  die "cannot start postgres"
}

# make_source PGPITR_REPO_ARGS [vacuum]: the bench's source cluster in $W/pgdata, loaded with
# pgbench at $SCALE under wal_level minimal, then archiving into pgbackrest's stanza and (when
# $PGPITR is set) into pgpitr's repository named by PGPITR_REPO_ARGS; "vacuum" freezes the
# tables first (no anti-wraparound writes during the timed runs). $CONF is pgBackRest's
# configuration; empty: no pgBackRest (tests/bench/encryption.sh). ARCHIVE_EXTRA, if
# set, is one more command run (after those, && %p) by archive_command: more repositories.
make_source() {
  log "initdb + pgbench -i -s $SCALE (wal_level = minimal for the load)"
  "$PGBIN/initdb" -D "$W/pgdata" -U postgres -A trust --no-sync >"$W/log/initdb.log" 2>&1 \
    || { cat "$W/log/initdb.log" >&2; die "initdb failed"; }
  cat >>"$W/pgdata/postgresql.conf" <<EOF
log_line_prefix = '%m [%p] '
shared_buffers = '128MB'
max_wal_size = '1GB'
checkpoint_timeout = '30s'
wal_keep_size = '4GB'
synchronous_commit = off
autovacuum = off
wal_level = minimal
max_wal_senders = 0
archive_mode = off
EOF
  start_source
  "$PGBIN/pgbench" -h "$W/sock" -p "$PORT" -U postgres -i -q -s "$SCALE" postgres \
    >"$W/log/pgbench-init.log" 2>&1 || { tail -n 20 "$W/log/pgbench-init.log" >&2; die "pgbench -i failed"; }
  [ "${2:-}" = vacuum ] && psql_q "VACUUM (FREEZE, ANALYZE)"
  stop_postmaster "$W/pgdata"
  local cmds=()
  [ -n "$PGPITR" ] && cmds+=("$PGPITR $1 archive-push %p")
  [ -n "$CONF" ] && cmds+=("pgbackrest --config=$CONF --stanza=bench archive-push %p")
  [ -n "${ARCHIVE_EXTRA:-}" ] && cmds+=("$ARCHIVE_EXTRA")
  [ ${#cmds[@]} -gt 0 ] || die "make_source: nothing to archive into"
  local archive_command=${cmds[0]} c
  for c in "${cmds[@]:1}"; do archive_command+=" && $c"; done
  cat >>"$W/pgdata/postgresql.conf" <<EOF
wal_level = replica
max_wal_senders = 10
archive_mode = on
archive_command = '$archive_command'
EOF
  start_source
  [ -z "$CONF" ] || sed -i "/^pg1-port=/d; s|^\[bench\]\$|[bench]\npg1-port=$PORT|" "$CONF"
  DATA_BYTES=$(du -sb --exclude=pg_wal "$W/pgdata" | cut -f1)
  log "data directory (without pg_wal): $((DATA_BYTES / 1048576)) MiB"
}

# --- the S3 test server (s3.sh, drain.sh, restore.sh) ------------------------------------------------------

# The s3-test-server script (../shared/tools), or S3_TEST_SERVER.
s3_tool() {
  local top c
  top=$(cd "$(dirname "$SELF")/../.." && pwd)
  for c in "${S3_TEST_SERVER:-}" "$top/../shared/tools/s3-test-server" \
      "$top/../../shared/tools/s3-test-server" /work/shared/tools/s3-test-server; do
    [ -n "$c" ] && [ -x "$c" ] && { readlink -f "$c"; return 0; }
  done
  die "s3-test-server not found (set S3_TEST_SERVER to its path)"
}

# pick_port LOW HIGH -> a free port (TCP, and no PostgreSQL socket of that number in $W/sock)
pick_port() {  # LOW HIGH -> a free port
  local p
  for _ in $(seq 1 100); do
    p=$(( $1 + RANDOM % ($2 - $1 + 1) ))
    if port_free "$p" && [ ! -e "$W/sock/.s.PGSQL.$p" ] && [ ! -e "/tmp/.s.PGSQL.$p" ]; then
      echo "$p"; return 0
    fi
  done
  die "no free port in $1-$2"
}

# start_s3: the S3 test server over TLS on a free port in S3_PORT_LOW..S3_PORT_HIGH (default
# 46500-46999), state and data under $W/s3, bucket $BUCKET; exports its S3_TEST_* settings.
start_s3() {
  local try port out
  for try in 1 2 3 4 5; do
    port=$(pick_port "${S3_PORT_LOW:-46500}" "${S3_PORT_HIGH:-46999}")
    if out=$("$S3_TOOL" start --port "$port" --state-dir "$W/s3/state" --dir "$W/s3/data" \
        --bucket "$BUCKET" --tls 2>"$W/log/s3-start.log"); then
      eval "$out"
      log "S3 test server (TLS) at $S3_TEST_ENDPOINT, pid $S3_TEST_PID"
      return 0
    fi
    log "S3 test server did not start on port $port (attempt $try)"
  done
  tail -n 5 "$W/log/s3-start.log" >&2
  die "cannot start the S3 test server"
}

# start_proxy: tests/tools/s3-fault-proxy.js (copied into $W/bin by the outer part) in front of
# the S3 server without faults, adding DELAY_MS to every request, listening with TLS under a
# certificate of its own (pgBackRest speaks only https; the certificate names DNS:localhost,
# which pgBackRest checks). Sets PROXY_PORT and PROXY_PID; the cert is $W/proxy/cert.pem.
start_proxy() {
  local d=$W/proxy port
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench proxy" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$d/key.pem" -out "$d/cert.pem" \
    >"$W/log/proxy-cert.log" 2>&1 || die "cannot make the proxy's certificate"
  node "$W/bin/s3-fault-proxy.js" --upstream "$S3_TEST_ENDPOINT" --upstream-ca "$S3_TEST_CA_FILE" \
    --fault-rate 0 --delay-ms "$DELAY_MS" --tls-cert "$d/cert.pem" --tls-key "$d/key.pem" \
    --log "$W/log/proxy.log" >"$d/out" 2>"$W/log/proxy.err" &
  PROXY_PID=$!
  for _ in $(seq 1 100); do grep -q '^listening' "$d/out" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/^listening //p' "$d/out")
  [ -n "$port" ] || die "the proxy did not start: $(cat "$W/log/proxy.err")"
  PROXY_PORT=$port
  log "latency proxy (+$DELAY_MS ms a request, TLS) at https://127.0.0.1:$port, pid $PROXY_PID"
}

# pgbr_common_settings: the [global] lines every pgBackRest configuration of the benches has
# (paths under $W/pgbr, quiet logs, zstd level 1 like pgpitr's default).
pgbr_common_settings() {
  cat <<EOF
lock-path=$W/pgbr/lock
log-path=$W/pgbr/log
spool-path=$W/pgbr/spool
log-level-console=warn
log-level-stderr=warn
log-level-file=off
compress-type=zst
compress-level=1
EOF
}

# write_s3_configs PGBR_LOCAL_CONF: the S3 test server's settings (start_s3) for both tools:
# $W/pgbr/s3.conf, PGBR_LOCAL_CONF with an S3 repository at /pgbackrest (endpoint "localhost":
# pgBackRest checks only DNS names of the certificate) and spool $W/pgbr/spool-s3; and
# $W/pgpitr-s3.conf (mode 0600: it holds the key), for pgpitr --config ... --repo s3://BUCKET/...
write_s3_configs() {
  sed -e "s|^repo1-path=.*|repo1-type=s3\nrepo1-path=/pgbackrest\nrepo1-s3-bucket=$BUCKET\nrepo1-s3-endpoint=localhost\nrepo1-s3-port=$S3_TEST_PORT\nrepo1-s3-uri-style=path\nrepo1-s3-region=$S3_TEST_REGION\nrepo1-s3-key=$S3_TEST_ACCESS_KEY\nrepo1-s3-key-secret=$S3_TEST_SECRET_KEY\nrepo1-s3-ca-file=$S3_TEST_CA_FILE|" \
    -e "s|^spool-path=.*|spool-path=$W/pgbr/spool-s3|" "$1" >"$W/pgbr/s3.conf"
  ( umask 077; { echo "[global]"; pgpitr_s3_settings; } >"$W/pgpitr-s3.conf" )
}

# pgpitr_s3_settings: the S3 test server's settings (start_s3) as pgpitr.conf lines.
pgpitr_s3_settings() {
  cat <<EOF
s3-endpoint = $S3_TEST_ENDPOINT
s3-region = $S3_TEST_REGION
s3-uri-style = path
s3-key = $S3_TEST_ACCESS_KEY
s3-key-secret = $S3_TEST_SECRET_KEY
s3-ca-file = $S3_TEST_CA_FILE
EOF
}

# write_proxy_configs PGBR_REPO_PATH: after write_s3_configs and start_proxy, the same through
# the proxy: $W/pgbr/proxy.conf (repository PGBR_REPO_PATH, spool $W/pgbr/spool-p) and
# $W/pgpitr-proxy.conf.
write_proxy_configs() {
  sed -e "s|^repo1-s3-port=.*|repo1-s3-port=$PROXY_PORT|" -e "s|^repo1-s3-ca-file=.*|repo1-s3-ca-file=$W/proxy/cert.pem|" \
    -e "s|^repo1-path=.*|repo1-path=$1|" -e "s|^spool-path=.*|spool-path=$W/pgbr/spool-p|" \
    "$W/pgbr/s3.conf" >"$W/pgbr/proxy.conf"
  ( umask 077; sed -e "s|^s3-endpoint = .*|s3-endpoint = https://127.0.0.1:$PROXY_PORT|" \
    -e "s|^s3-ca-file = .*|s3-ca-file = $W/proxy/cert.pem|" "$W/pgpitr-s3.conf" >"$W/pgpitr-proxy.conf" )
}

# --- the archive module (drain.sh, sustained.sh) -------------------------------------------------

archiver_pid() { psql_q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'archiver'"; }

# set_module REPO CONFIG: archive through the module (empty REPO: no module, archive_command
# rules again). A changed archive_library makes the archiver exit (after the segment it is on,
# and the module's shutdown waits for its pushes ahead) and the postmaster start a new one:
# wait for that, so that nothing of the previous contestant still runs.
set_module() {
  local old new i
  old=$(archiver_pid)
  if [ -n "$1" ]; then
    # ALTER SYSTEM knows pgpitr.* only in a session that loaded the module
    "$PGBIN/psql" -X -q -At -h "$SOCK" -p "$PORT" -U "$PSQL_USER" -d postgres -v ON_ERROR_STOP=1 \
      -c "LOAD '$W/bin/pgpitr.so'" -c "ALTER SYSTEM SET pgpitr.repo = '$1'" \
      -c "ALTER SYSTEM SET pgpitr.config = '$2'" -c "ALTER SYSTEM SET pgpitr.jobs = 4" \
      -c "ALTER SYSTEM SET archive_library = '$W/bin/pgpitr.so'" >/dev/null
  else
    psql_q "ALTER SYSTEM RESET archive_library" >/dev/null
  fi
  psql_q "SELECT pg_reload_conf()" >/dev/null
  # The postmaster starts an archiver at most once in 10 s; one refused then is started when
  # its loop wakes up, which a reload makes happen at once.
  for i in $(seq 1 1200); do
    new=$(archiver_pid)
    [ -n "$new" ] && [ "$new" != "$old" ] && return 0
    [ $((i % 40)) -eq 0 ] && psql_q "SELECT pg_reload_conf()" >/dev/null
    sleep 0.05
  done
  die "the archiver did not restart after archive_library changed"
}

# pgbench_until_wal BYTES MAXSEC: pgbench runs of 10 s against the bench cluster ($W, $PORT)
# until BYTES of WAL were written or MAXSEC seconds passed, a CHECKPOINT between runs (the next
# run's first change of every page is a full-page image again, as in production right after
# checkpoints, and WAL comes quicker); then a WAL switch, waited for in the archive. Sets
# WAL_MADE (bytes written) and WAL_LAST (the segment the switch closed, archived).
pgbench_until_wal() {
  local need=$1 maxsec=$2 start_lsn t0=$SECONDS
  start_lsn=$(psql_q "SELECT pg_current_wal_lsn()")
  WAL_MADE=0
  while :; do
    "$PGBIN/pgbench" -h "$W/sock" -p "$PORT" -U postgres -n -c 4 -j 2 -T 10 postgres \
      >>"$W/log/pgbench-run.log" 2>&1 || { tail -n 20 "$W/log/pgbench-run.log" >&2; die "pgbench failed"; }
    WAL_MADE=$(psql_q "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$start_lsn')::bigint")
    [ "$WAL_MADE" -ge "$need" ] && break
    psql_q "CHECKPOINT"
    [ $((SECONDS - t0)) -ge "$maxsec" ] && { log "stopping pgbench after ${maxsec} s"; break; }
  done
  WAL_LAST=$(psql_q "SELECT pg_walfile_name(pg_switch_wal())")
  for _ in $(seq 1 6000); do [ -e "$W/pgdata/pg_wal/archive_status/$WAL_LAST.done" ] && break; sleep 0.1; done
  [ -e "$W/pgdata/pg_wal/archive_status/$WAL_LAST.done" ] ||
    die "segment $WAL_LAST was not archived: $(tail -n 3 "$W/log/source.log" 2>/dev/null)"
}

