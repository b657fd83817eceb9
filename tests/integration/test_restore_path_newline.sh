#!/usr/bin/env bash
# A line break in the repository path or in the path of the pgpitr binary would be written
# into restore_command in postgresql.auto.conf, which PostgreSQL then refuses to load (issue #9,
# defect 7). restore refuses such a path before it writes anything: exit 3, one line naming
# which path, the target directory not created. A tab in the repository path is carried by
# PostgreSQL's configuration parser and by /bin/sh: that restore works, and so does its replay.
# repo-kinds: local -- repository paths with a line break or a tab in them (directory names)
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

REPO="$WORK/repo"
backed_up_source src base1
add_row src 2 >/dev/null
wait_archived src "$(switch_wal src)"
pg_stop src
NL_REPO="$WORK/re"$'\n'"po"
mv "$REPO" "$NL_REPO"

log "repository path with a newline"
pgp_capture --repo "$NL_REPO" restore --pgdata "$WORK/n1/data"
assert_rc 3 "restore from a repository whose path holds a newline"
assert_one_line_error "restore from a repository whose path holds a newline"
assert_contains "$ERR" 'repository path "' "error names the repository path"
assert_contains "$ERR" 're\x0Apo' "error shows the newline"
assert_contains "$ERR" "line break" "error says why"
assert_absent "$WORK/n1" "target directory of a refused restore"

log "binary path with a newline"
mv "$NL_REPO" "$REPO"
NL_BIN="$WORK/b"$'\n'"in"
mkdir_pg "$NL_BIN"
cp "$PGPITR" "$NL_BIN/pgpitr"
own "$NL_BIN/pgpitr"
as_pg_capture "$NL_BIN/pgpitr" --repo "$REPO" restore --pgdata "$WORK/n2/data"
check_san_stderr "$WORK/last.err" "pgpitr restore from $NL_BIN"
assert_rc 3 "restore by a binary whose path holds a newline"
assert_one_line_error "restore by a binary whose path holds a newline"
assert_contains "$ERR" 'path of the pgpitr binary "' "error names the binary path"
assert_contains "$ERR" 'b\x0Ain/pgpitr' "error shows the newline"
assert_absent "$WORK/n2" "target directory of a refused restore"

log "a tab in the repository path is fine"
TAB_REPO="$WORK/re"$'\t'"po"
mv "$REPO" "$TAB_REPO"
REPO=$TAB_REPO
restored_rows r_tab
assert_eq "1,2" "$ROWS" "rows restored through a repository path with a tab"
log "ok"
