#!/usr/bin/env bash
# --delta never writes into another cluster's tablespace (issue #9, defect 1). Production runs
# with its tablespace at the original location; restores into new directories must leave it
# alone: --delta is refused there (by the running-server check while production runs, by the
# ownership rule once it is stopped: the new directory's pg_tblspc does not link it), so is
# --tablespace-map naming that live location, and so is a target whose own pg_tblspc link
# points at it while production runs. No HINT suggests --delta for that location. The
# production files and rows are compared before and after. Then --tablespace-map to a fresh
# directory with --delta works, over a target full of symlinks that point outside it (pg_wal,
# global, a stray pg_tblspc link, a link to production's tablespace): nothing outside is
# touched.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

TS="$WORK/ts"
NEWTS="$WORK/ts_new"
pg_init src
# no autovacuum: the production files must not change by themselves while they are compared
pg_conf src "autovacuum = off"
pg_enable_archiving src "$REPO"
pg_start src
mkdir_pg "$TS"
psql_c src "CREATE TABLESPACE ts LOCATION '$TS'"
oid=$(psql_c src "SELECT oid FROM pg_tablespace WHERE spcname = 'ts'")
psql_c src "CREATE TABLE a TABLESPACE ts AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g"
psql_c src "CREATE TABLE b TABLESPACE ts AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g"
wait_archived src "$(switch_wal src)"
backup_of src base1
tables_sql="SELECT (SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM a) || ' ' ||
                   (SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM b)"
backup_rows=$(psql_c src "$tables_sql")
# production moves on: rows and a table the backup does not have (a delta restore over this
# location would delete the table and put b back to 20000 rows)
psql_c src "INSERT INTO b SELECT g, 'after the backup' FROM generate_series(20001, 40000) g"
psql_c src "CREATE TABLE c TABLESPACE ts AS SELECT g AS id, 'only production' AS v FROM generate_series(1, 1000) g"
prod_sql="$tables_sql || ' ' || (SELECT count(*) FROM c)"
prod_rows=$(psql_c src "$prod_sql")
wait_archived src "$(switch_wal src)"
psql_c src "CHECKPOINT"

# ts_state: every entry of production's tablespace location with its size and SHA-256.
ts_state() {
    (cd "$TS" && find . -printf '%y %p %s %l\n' | sort && find . -type f -exec sha256sum {} + | sort -k 2)
}
prod_files=$(ts_state)
# assert_prod_untouched WHAT: production's tablespace files are as they were.
assert_prod_untouched() {
    local now
    now=$(ts_state)
    [ "$now" = "$prod_files" ] ||
        fail "$1: production's tablespace $TS changed: $(diff <(printf '%s\n' "$prod_files") <(printf '%s\n' "$now") | head -n 8)"
}
# assert_no_delta_hint WHAT: the refusal suggests --tablespace-map, never --delta.
assert_no_delta_hint() {
    printf '%s\n' "$ERR"
    assert_contains "$ERR" "--tablespace-map $oid=DIR" "$1: hint"
    case "$ERR" in *"with --delta"*) fail "$1: the hint suggests --delta: $ERR" ;; esac
    assert_one_line_error "$1"
}

log "production running, tablespace $oid at $TS"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/n1/data" --delta --target-immediate
assert_prod_untouched "--delta into a new directory"
assert_rc 13 "--delta into a new directory while production uses the tablespace location"
assert_contains "$ERR" "tablespace $oid location \"$TS\" is in use by a running server" "refusal"
assert_contains "$ERR" "postmaster pid ${CLUSTER_PID[src]}" "refusal names production's postmaster"
assert_no_delta_hint "--delta into a new directory"
assert_absent "$WORK/n1" "directory of a refused restore"

pgp_capture --repo "$REPO" restore --pgdata "$WORK/n1/data" --target-immediate
assert_rc 13 "restore into a new directory while production uses the tablespace location"
assert_no_delta_hint "restore into a new directory"
assert_absent "$WORK/n1" "directory of a refused restore"

log "--tablespace-map naming production's live location"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/n1/data" --delta --target-immediate \
    --tablespace-map "$oid=$TS/"
assert_prod_untouched "--tablespace-map to the live location"
assert_rc 13 "--tablespace-map to a running server's tablespace location"
assert_contains "$ERR" "running server" "refusal"

log "a target whose own pg_tblspc link points at production's location (a copy made with cp)"
copy="$WORK/copy/data"
mkdir -p "$copy/global" "$copy/pg_tblspc"
echo 15 >"$copy/PG_VERSION"
ln -s "$TS" "$copy/pg_tblspc/$oid"
own "$WORK/copy"
pgp_capture --repo "$REPO" restore --pgdata "$copy" --delta --target-immediate
assert_prod_untouched "--delta over a copy linking production's location"
assert_rc 13 "--delta over a copy linking a running server's tablespace location"
assert_eq "$TS" "$(readlink "$copy/pg_tblspc/$oid")" "the copy's link is left as it was"

log "production stopped: the ownership rule alone keeps --delta out"
pg_stop src
prod_files=$(ts_state)
pgp_capture --repo "$REPO" restore --pgdata "$WORK/n1/data" --delta --target-immediate
assert_prod_untouched "--delta into a new directory (production stopped)"
assert_rc 2 "--delta into a new directory over a location it does not own"
assert_contains "$ERR" "tablespace $oid location \"$TS\" is not empty" "refusal"
assert_contains "$ERR" "not the target's own" "refusal says why"
assert_no_delta_hint "--delta into a new directory (production stopped)"
assert_absent "$WORK/n1" "directory of a refused restore"
pgp_capture --repo "$REPO" restore --pgdata "$WORK/n1/data" --target-immediate
assert_rc 2 "restore into a new directory over a non-empty location"
assert_no_delta_hint "restore into a new directory (production stopped)"
pg_start src
assert_eq "$prod_rows" "$(psql_c src "$prod_sql")" "production's rows after the refused restores"

log "--tablespace-map to a fresh directory with --delta, over a target full of outward symlinks"
data="$WORK/n1/data"
mkdir -p "$data/base" "$data/pg_tblspc" "$WORK/outside/wal" "$WORK/outside/ts" \
    "$WORK/outside/dir" "$WORK/outside/global"
echo 15 >"$data/PG_VERSION"
for d in wal ts dir; do echo "sentinel $d" >"$WORK/outside/$d/keep"; done
echo "another cluster's control file" >"$WORK/outside/global/pg_control"
ln -s "$WORK/outside/wal" "$data/pg_wal"
ln -s "$WORK/outside/global" "$data/global"
ln -s "$WORK/outside/ts" "$data/pg_tblspc/99999"
ln -s "$TS" "$data/pg_tblspc/$oid"
ln -s "$WORK/outside/dir" "$data/base/evil"
own "$WORK/n1" "$WORK/outside"
outside_before=$(cd "$WORK/outside" && find . -printf '%y %p %s\n' | sort)
free_port >"$WORK/n1/port"
pgp_capture --repo "$REPO" restore --pgdata "$data" --delta --target-immediate \
    --tablespace-map "$oid=$NEWTS" --jobs 2
assert_rc 0 "--delta with --tablespace-map to a fresh directory"
assert_eq "$outside_before" "$(cd "$WORK/outside" && find . -printf '%y %p %s\n' | sort)" \
    "directories outside the target, reached through its symlinks"
[ ! -L "$data/pg_wal" ] && [ -d "$data/pg_wal" ] || fail "pg_wal is still a symlink after --delta"
assert_absent "$data/pg_tblspc/99999" "a pg_tblspc link the backup does not have"
assert_eq "$NEWTS" "$(readlink "$data/pg_tblspc/$oid")" "pg_tblspc link"
psql_c src "CHECKPOINT"
prod_files=$(ts_state)
start_restored n1
assert_eq "$backup_rows" "$(psql_c n1 "$tables_sql")" "the restored copy's rows"
assert_eq "$NEWTS" "$(psql_c n1 "SELECT pg_tablespace_location($oid)")" "the copy's tablespace"
pg_stop n1
assert_prod_untouched "the restored copy ran"
assert_eq "$prod_rows" "$(psql_c src "$prod_sql")" "production's rows at the end"
log "ok"
