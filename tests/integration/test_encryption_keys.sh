#!/usr/bin/env bash
# The two master key sources other than a key file, end to end (docs/encryption.md, "Master
# keys"): a repository keyed by a passphrase file and one keyed by a key command, each fed by
# archive_command, backed up, restored and recovered to a restore point by PostgreSQL through
# the restore_command pgpitr restore writes (which reaches the key through the configuration
# file), with exactly the rows before the restore point. A wrong passphrase, a key command that
# fails, one that prints garbage and one that prints another key are exit 14 with a one-line
# error and nothing written. pgpitr key rotate from a key file to a passphrase, then from that
# passphrase to a key command: no object touched, the old key refused after each, a backup
# with each new key; then restores and recoveries with the last key, from the backup before
# both rotations (WAL archived under three master keys replayed) and from the newest. Not one
# passphrase or key appears in any log or error output.
# Every repository here has its own key settings in a configuration file: an encrypted run's
# exported key settings (PGPITR_IT_ENCRYPT=1) are unset, since pgpitr refuses two key sources,
# and objects are read with repo_read_raw (repo.json and the key document are plaintext; an
# encrypted run's repo_read would decrypt with the run's key).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

unset PGPITR_ENCRYPTION PGPITR_ENCRYPTION_KEY_FILE PGPITR_ENCRYPTION_PASSPHRASE_FILE \
    PGPITR_ENCRYPTION_KEY_COMMAND

SECRETS=()   # every passphrase and key of the test, looked for in the logs at the end
mkdir_pg "$WORK/keys"
chmod 0700 "$WORK/keys"
# new_secret_file NAME hex|pass: a fresh key (64 hex digits) or passphrase in $WORK/keys/NAME,
# mode 0600, the cluster user's; prints its path.
new_secret_file() {
    local f="$WORK/keys/$1" s
    if [ "$2" = hex ]; then s=$(openssl rand -hex 32); else s="passphrase $(openssl rand -hex 12)"; fi
    SECRETS+=("$s")
    printf '%s\n' "$s" >"$f"
    chmod 0600 "$f"
    own "$f"
    printf '%s\n' "$f"
}
# key_command NAME BODY: an executable script $WORK/keys/NAME running BODY (sh); prints its path.
key_command() {
    local f="$WORK/keys/$1"
    printf '#!/bin/sh\n%s\n' "$2" >"$f"
    chmod 0700 "$f"
    own "$f"
    printf '%s\n' "$f"
}
# write_conf NAME SETTING-LINE: $WORK/NAME.conf, an encrypted setup with that key source.
write_conf() {
    printf '[global]\nencryption = aes-256-gcm\n%s\n' "$2" >"$WORK/$1.conf"
    own "$WORK/$1.conf"
}
pgc() { local c=$1 r=$2; shift 2; pgp_capture --config "$WORK/$c.conf" --repo "$r" "$@"; }

PASS_FILE=$(new_secret_file pass pass)
CMD_KEY=$(new_secret_file cmd.hex hex)
KEY_CMD=$(key_command get-key "exec cat $CMD_KEY")
ROT_FILE=$(new_secret_file rot.key hex)
write_conf pass "encryption-passphrase-file = $PASS_FILE"
write_conf cmd "encryption-key-command = $KEY_CMD"
write_conf rot "encryption-key-file = $ROT_FILE"
declare -A R=([pass]=$(repo_url pass) [cmd]=$(repo_url cmd) [rot]=$(repo_url rot))
NAMES=(pass cmd rot)

# archive_command: one wrapper pushing every segment into the repositories named in
# $WORK/archive-to, each through its configuration file (both read at each call: a rotation is
# followed by rewriting the configuration, and a repository done with is dropped, since every
# push into a passphrase's repository costs a scrypt). No encryption settings in its
# environment, only the S3 ones.
printf '%s\n' "${NAMES[@]}" >"$WORK/archive-to"
wrapper="$(cluster_dir src)/archive.sh"
mkdir_pg "$(cluster_dir src)"
{
    printf '#!/bin/bash\nset -e\n'
    printf 'export ASAN_OPTIONS=%q UBSAN_OPTIONS=%q\n' "$ASAN_OPTIONS" "$UBSAN_OPTIONS"
    while IFS= read -r kv; do [ -n "$kv" ] && printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"; done < <(repo_s3_env)
    printf 'declare -A R=('
    for n in "${NAMES[@]}"; do printf '[%s]=%q ' "$n" "${R[$n]}"; done
    printf ')\n'
    printf 'while read -r n; do\n'
    # shellcheck disable=SC2016  # $1, $n and ${R[$n]} are for the wrapper script
    printf '    %q --config %q/"$n".conf --repo "${R[$n]}" archive-push "$1" 2>>%q\n' "$PGPITR" "$WORK" \
        "$WORK/log/pgpitr.log"
    printf 'done <%q\n' "$WORK/archive-to"
} >"$wrapper"
chmod 0755 "$wrapper"
own "$wrapper"

pg_init src
pg_conf src "archive_mode = on" "archive_command = '$wrapper %p'" "archive_timeout = 0"
pg_start src
psql_c src "CREATE TABLE t(id int, v text)"
psql_c src "INSERT INTO t SELECT g, 'before' FROM generate_series(1, 1000) g"
wait_archived src "$(switch_wal src)"
for n in "${NAMES[@]}"; do
    assert_contains "$(repo_read_raw "${R[$n]}" repo.json)" '"encryption": "aes-256-gcm"' "repo.json of $n"
done
assert_contains "$(repo_read_raw "${R[pass]}" keys/repo-key.json)" '"master": "passphrase"' "the passphrase repository's key document"
assert_contains "$(repo_read_raw "${R[cmd]}" keys/repo-key.json)" '"master": "key"' "the key command repository's key document"

log "backups"
for n in "${NAMES[@]}"; do
    pgc "$n" "${R[$n]}" backup --pg-conn "$(conninfo src)" --label "${n}1"
    assert_rc 0 "backup into $n ($ERR)"
done
psql_c src "INSERT INTO t SELECT g, 'after1' FROM generate_series(1001, 1100) g"
psql_c src "SELECT pg_create_restore_point('rp1')" >/dev/null
psql_c src "INSERT INTO t SELECT g, 'late1' FROM generate_series(5001, 5010) g"
wait_archived src "$(switch_wal src)"

# The rows every restore below must bring back exactly (ids up to 1100 never change).
ROWS_SQL="SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t WHERE id <= 1100"
ROWS_MD5=$(psql_c src "$ROWS_SQL")

# restore_check CONF TARGET EXPECTED [restore options...]: restore CONF's repository into a new
# cluster, recover to restore point TARGET through the restore_command pgpitr writes, compare
# the "v:count" groups with EXPECTED and the rows up to id 1100 with the source's.
RESTORES=0
restore_check() {
    local c=$1 target=$2 want=$3 dst data
    RESTORES=$((RESTORES + 1))
    dst="dst$RESTORES"
    shift 3
    mkdir_pg "$WORK/$dst"
    free_port >"$WORK/$dst/port"
    data=$(cluster_data "$dst")
    pgc "$c" "${R[$c]}" restore --pgdata "$data" --target-name "$target" "$@"
    assert_rc 0 "restore from $c ($ERR)"
    assert_contains "$(cat "$data/postgresql.auto.conf")" "--config $WORK/$c.conf" "restore_command of $c names its configuration"
    start_restored "$dst"
    assert_eq "$want" "$(psql_c "$dst" "SELECT string_agg(v || ':' || n, ' ' ORDER BY v) FROM (SELECT v, count(*) n FROM t GROUP BY v) s")" \
        "rows recovered from $c to $target"
    assert_eq "$ROWS_MD5" "$(psql_c "$dst" "$ROWS_SQL")" "exact rows from $c"
    pg_stop "$dst"
}

log "restore and recovery: passphrase file, key command"
restore_check pass rp1 "after1:100 before:1000"
restore_check cmd rp1 "after1:100 before:1000"

printf '%s\n' cmd rot >"$WORK/archive-to"

log "wrong keys: exit 14, one line, nothing written"
# refused ARGS...: after pgc, exit 14, one error line, no secret in it, the listing unchanged.
refused() {  # CONF REPO WHAT ARGS...
    local c=$1 r=$2 what=$3 before
    shift 3
    before=$(repo_listing "$r" | md5sum)
    pgc "$c" "$r" "$@"
    assert_rc 14 "$what"
    assert_one_line_error "$what"
    assert_eq "$before" "$(repo_listing "$r" | md5sum)" "repository listing after $what"
}
seg=$(psql_c src "SELECT pg_walfile_name(pg_current_wal_lsn())")
write_conf wrongpass "encryption-passphrase-file = $(new_secret_file wrongpass pass)"
refused wrongpass "${R[pass]}" "a wrong passphrase (backup)" backup --pg-conn "$(conninfo src)" --label wp
assert_contains "$ERR" "wrong master key" "wrong passphrase message"
refused wrongpass "${R[pass]}" "a wrong passphrase (archive-push)" archive-push "$(cluster_data src)/pg_wal/$seg"
write_conf cmdfail "encryption-key-command = $(key_command fail 'exit 3')"
refused cmdfail "${R[cmd]}" "a failing key command" archive-push "$(cluster_data src)/pg_wal/$seg"
assert_contains "$ERR" "$WORK/keys/fail" "the failing command is named"
garbage="garbage-$(openssl rand -hex 6)"
write_conf cmdgarbage "encryption-key-command = $(key_command garbage "echo $garbage")"
refused cmdgarbage "${R[cmd]}" "a key command printing garbage" backup --pg-conn "$(conninfo src)" --label cg
if grep -q -- "$garbage" <<<"$ERR"; then fail "the key command's output is in the error: $ERR"; fi
write_conf cmdother "encryption-key-command = $(key_command other "cat $ROT_FILE")"
refused cmdother "${R[cmd]}" "a key command printing another key" info
assert_contains "$ERR" "wrong master key" "another key's message"

log "key rotate: key file -> passphrase file -> key command"
ROT_PASS=$(new_secret_file rot.pass pass)
ROT_KEY=$(new_secret_file rot.hex hex)
ROT_CMD=$(key_command rot-get-key "exec cat $ROT_KEY")
# rot_objects: its objects but the key document, once the archiver is idle (everything up to a
# fresh switch archived), so that only a rotation could change them meanwhile.
rot_objects() {
    wait_archived src "$(switch_wal src)"
    repo_listing "${R[rot]}" | grep -v '^keys/' | md5sum
}
objects_before=$(rot_objects)
# rotate_to KIND OPTION ARG SETTING: rotate rot's master key, check the key document's kind,
# that no object changed and that the old key is refused; then configure the new key and take
# a backup with it (label rotKIND).
rotate_to() {
    pgc rot "${R[rot]}" key rotate "$2" "$3"
    assert_rc 0 "key rotate $2 ($ERR)"
    assert_contains "$(repo_read_raw "${R[rot]}" keys/repo-key.json)" "\"master\": \"$1\"" "the key document after key rotate $2"
    assert_eq "$objects_before" "$(repo_listing "${R[rot]}" | grep -v '^keys/' | md5sum)" "no object touched by key rotate $2"
    refused rot "${R[rot]}" "the old master key after key rotate $2" info
    write_conf rot "$4"
    pgc rot "${R[rot]}" backup --pg-conn "$(conninfo src)" --label "rot$1"
    assert_rc 0 "backup after key rotate $2 ($ERR)"
    objects_before=$(rot_objects)
}
rotate_to passphrase --new-passphrase-file "$ROT_PASS" "encryption-passphrase-file = $ROT_PASS"
rotate_to key --new-key-command "$ROT_CMD" "encryption-key-command = $ROT_CMD"
psql_c src "INSERT INTO t SELECT g, 'after2' FROM generate_series(2001, 2100) g"
psql_c src "SELECT pg_create_restore_point('rp2')" >/dev/null
wait_archived src "$(switch_wal src)"
pg_stop src
# From the backup before both rotations: WAL archived under three master keys is replayed.
restore_check rot rp2 "after1:100 after2:100 before:1000 late1:10" --backup rot1
# From the newest backup, taken after the second rotation.
restore_check rot rp2 "after1:100 after2:100 before:1000 late1:10" --backup rotkey

log "no passphrase or key in any log"
logs=("$WORK/log/pgpitr.log")
while IFS= read -r f; do logs+=("$f"); done < <(find "$WORK" -name '*.log' -type f ! -path "$WORK/log/pgpitr.log")
for s in "${SECRETS[@]}"; do
    for f in "${logs[@]}"; do
        if grep -qiF -- "$s" "$f"; then fail "a secret appears in $f"; fi
    done
done
assert_gt "$(wc -l <"$WORK/log/pgpitr.log")" 3 "lines of pgpitr's log checked"
log "ok"
