#!/usr/bin/env bash
# Restore from an S3 repository whose settings came from the environment and the command
# line: PostgreSQL runs restore_command with the server's environment, not restore's, so the
# restore_command restore writes must carry them. Endpoint, region, key id and CA file (TLS,
# given by a relative path: restore_command runs in the data directory) come from PGPITR_S3_*
# variables, the URI style from --s3-uri-style, the secret from a configuration file; the
# restored server is started without any of those variables and recovers to the end of the
# archive with the exact data (before, its first WAL fetch went to the default endpoint and
# recovery stopped). With the secret in the environment instead, restore says that
# restore_command will not have it, and writes it nowhere.
# repo-kinds: local -- starts its own S3 server (TLS)
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

s3_start --tls --secret-key "sEcReT-$$-$RANDOM"   # not the key id, so that grep finds only it
export PGPITR_S3_CA_FILE=$S3_TEST_CA_FILE
REPO=s3://$S3_IT_BUCKET/envrestore
pg_init src
pg_enable_archiving src "$REPO"
pg_start src
pgbench_c src -i -q -s 1
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label b1
assert_rc 0 "backup to S3 ($ERR)"
psql_c src "CREATE TABLE after_backup AS SELECT g FROM generate_series(1, 500) g"
pgbench_c src -n -t 200
seg=$(switch_wal src)
wait_archived src "$seg"
expect=$(psql_c src "SELECT sum(abalance) FROM pgbench_accounts")
pg_stop src

log "the secret in a configuration file, the rest from the environment and a flag"
CONF="$WORK/conf/pgpitr.conf"
mkdir_pg "$WORK/conf"
(umask 077 && printf '[global]\ns3-key = %s\ns3-key-secret = %s\n' "$S3_TEST_ACCESS_KEY" \
    "$S3_TEST_SECRET_KEY" >"$CONF")
own "$CONF"
unset PGPITR_S3_KEY PGPITR_S3_KEY_SECRET PGPITR_S3_URI_STYLE
cp "$S3_TEST_CA_FILE" "$WORK/ca.pem"
own "$WORK/ca.pem"
export PGPITR_S3_CA_FILE=ca.pem                       # relative to $WORK, the test's directory
mkdir_pg "$WORK/dst"
free_port >"$WORK/dst/port"
pgp_capture --config "$CONF" --repo "$REPO" --s3-uri-style path restore --pgdata "$WORK/dst/data"
assert_rc 0 "restore with settings from the environment ($ERR)"
if grep -q "come from the environment" <<<"$ERR"; then
    fail "restore warned about credentials that come from the configuration file: $ERR"
fi
auto=$(cat "$WORK/dst/data/postgresql.auto.conf")
assert_contains "$auto" "PGPITR_S3_ENDPOINT=$S3_TEST_ENDPOINT" "restore_command carries the endpoint"
assert_contains "$auto" "PGPITR_S3_CA_FILE=$WORK/ca.pem" "restore_command carries the CA file, made absolute"
assert_contains "$auto" "PGPITR_S3_URI_STYLE=path" "restore_command carries the flag's URI style"
if grep -qF "$S3_TEST_SECRET_KEY" -r "$WORK/dst/data"; then
    fail "the secret key is in the restored data directory"
fi
# The server gets none of restore's S3 variables, as under systemd.
unset PGPITR_S3_ENDPOINT PGPITR_S3_REGION PGPITR_S3_CA_FILE
start_restored dst
assert_eq "$expect" "$(psql_c dst "SELECT sum(abalance) FROM pgbench_accounts")" "pgbench data"
assert_eq 500 "$(psql_c dst "SELECT count(*) FROM after_backup")" "table made after the backup"
pg_stop dst

log "the secret in the environment: restore says restore_command will not have it"
s3_env
export PGPITR_S3_CA_FILE=$S3_TEST_CA_FILE
mkdir_pg "$WORK/dst2"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/dst2/data"
assert_rc 0 "restore with the secret in the environment ($ERR)"
assert_contains "$ERR" "the S3 credentials come from the environment (PGPITR_S3_KEY_SECRET)" \
    "restore's warning"
if grep -qrF "$S3_TEST_SECRET_KEY" "$WORK/dst2/data"; then
    fail "the secret key from the environment is in the restored data directory"
fi
log "ok"
