#!/usr/bin/env bash
# A drill of a cluster with a tablespace: the tablespace is restored inside the drill's work
# directory, never into its original location (which still holds the cluster's files, as on a
# production host); the drill passes and counts the rows of the table that lives there, and the
# original location is untouched (same files, sizes and times).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$(dirname "$0")/drill_lib.sh"

TS="$WORK/ts"
pg_init src
pg_enable_archiving src "$REPO"
pg_start src
mkdir_pg "$TS"
psql_c src "CREATE TABLESPACE ts LOCATION '$TS'"
psql_c src "CREATE TABLE in_ts TABLESPACE ts AS SELECT generate_series(1, 777) AS i"
wait_archived src "$(switch_wal src)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label ts1 --jobs 2
assert_rc 0 "pgpitr backup"
psql_c src "INSERT INTO in_ts SELECT generate_series(778, 1000)"
wait_archived src "$(switch_wal src)"
pg_stop src   # its files stay where they are; stopped, nothing changes them during the drill
ts_before=$(cd "$TS" && find . -printf '%y %p %s %T@\n' | sort)

drill --output json
printf '%s\n' "$ERR" >&2
assert_rc 0 "drill of a cluster with a tablespace"
assert_eq 1000 "$(table_rows public.in_ts)" "rows of the table in the tablespace"
assert_eq "$ts_before" "$(cd "$TS" && find . -printf '%y %p %s %T@\n' | sort)" \
    "the original tablespace location after the drill"
printf '%s\n' "$OUT" >"$WORK/ts.json"
validate_report "$WORK/ts.json"
assert_no_drill_left
