#!/usr/bin/env bash
# A running recovery never loses WAL to `pgpitr expire` (issue #9, 2c): recovery leases.
# Two backups with 13 WAL switches between them and one row per switch (15 rows). The oldest
# backup is restored and started with a restore_command that blocks at its third segment
# request, so the server is deterministically mid-replay, its WAL still in the archive. Then
# `expire --retain-full 1` runs, which removes b1 and, without a lease, every segment before
# b2's start: the server then ended recovery early with a few rows. With the lease the plan
# names it (text and JSON), keeps that WAL, and once released the recovery replays all 15
# rows. The lease is gone after promotion (the prefetcher removes it); a stale lease is listed
# as ignored and removed by that expire; the next expire removes the WAL the lease held; a
# drill leaves no lease behind.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"
# shellcheck source=tests/integration/pitr_lib.sh
source "$HERE/pitr_lib.sh"

GATE="$WORK/gate"
segno_of_lsn() { local hi=${1%/*} lo=${1#*/}; echo $(((16#$hi << 8) + (16#$lo >> 24))); }
segno_of_wal() { local n; n=$(basename "$1"); echo $(((16#${n:8:8} << 8) + 16#${n:16:8})); }
wal_below() {  # SEGNO: archived segment objects below it
    local f n=0
    while read -r f; do
        [ -n "$f" ] && [ "$(segno_of_wal "$f")" -lt "$1" ] && n=$((n + 1))
    done < <(repo_keys "$REPO" archive/wal)
    echo "$n"
}
leases() { repo_find "$REPO" leases '*.json'; }
leases_json() { local k; for k in $(leases); do repo_read "$REPO" "$k"; done; }
wait_file() {  # PATH SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do [ -e "$1" ] && return 0; sleep 0.1; done
    fail "$1 did not appear within $2 s"
}

source_cluster src
add_row src 1 >/dev/null
wait_archived src "$(switch_wal src)"
backup_of src b1
for i in $(seq 2 14); do
    add_row src "$i" >/dev/null
    wait_archived src "$(switch_wal src)"
done
backup_of src b2
add_row src 15 >/dev/null
wait_archived src "$(switch_wal src)"
pg_stop src
cut=$(segno_of_lsn "$(repo_read "$REPO" backup/b2/manifest.json | jq -r .start_lsn)")
b1_start=$(segno_of_lsn "$(repo_read "$REPO" backup/b1/manifest.json | jq -r .start_lsn)")
assert_gt "$((cut - b1_start))" 10 "segments between b1 and b2"

log "a lease-ttl out of range is refused before anything is written"
mkdir_pg "$WORK/bad"
PGPITR_LEASE_TTL=12 pgp_capture --repo "$REPO" restore --pgdata "$WORK/bad/data" --backup b1
assert_rc 3 "restore with lease-ttl 12"
assert_one_line_error "restore with lease-ttl 12"
assert_contains "$ERR" "lease-ttl" "the error names the setting"
assert_absent "$WORK/bad/data" "nothing restored"
cfg="$WORK/lease.conf"
printf '[global]\nlease-ttl = 7200\n' >"$cfg"
own "$cfg"

log "restore b1; its restore_command blocks at the third segment request"
PGPITR_CONFIG="$cfg" restore_to r --backup b1
lease_after_restore=$(leases_json)
data=$(cluster_data r)
mkdir_pg "$GATE"
gate="$WORK/r/gate.sh"
cat >"$gate" <<EOF
#!/bin/sh
export ASAN_OPTIONS='$ASAN_OPTIONS' UBSAN_OPTIONS='$UBSAN_OPTIONS'
$(repo_env_exports)
case "\$1" in
*.history|*.partial|*.backup) ;;
*)  n=\$(cat '$GATE/count' 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n >'$GATE/count'
    if [ "\$n" -eq 3 ]; then
        echo "\$1" >'$GATE/waiting'
        while [ ! -e '$GATE/open' ]; do sleep 0.1; done
    fi ;;
esac
exec '$PGPITR' --repo '$REPO' archive-get --spool-size 16MiB "\$1" "\$2" 2>>'$WORK/log/pgpitr.log'
EOF
chmod 0755 "$gate"
own "$gate"
sed -i "s|^restore_command = .*|restore_command = '$gate %f \"%p\"'|" "$data/postgresql.auto.conf"
grep -q "^restore_command = '$gate" "$data/postgresql.auto.conf" || fail "restore_command not replaced"
pg_conf r "port = $(cat "$WORK/r/port")" "unix_socket_directories = '$WORK/r'" "archive_mode = off"
# pg_start waits for connections, which a server blocked in recovery never takes
as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$WORK/r/server.log" -W start >/dev/null
wait_file "$data/postmaster.pid" 30
for ((i = 0; i < 100; i++)); do
    CLUSTER_PID[r]=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    [ -n "${CLUSTER_PID[r]}" ] && break
    sleep 0.1
done
wait_file "$GATE/waiting" 60
waiting=$(cat "$GATE/waiting")
log "server waits for $waiting, mid-replay"
assert_gt "$cut" "$(segno_of_wal "$waiting")" "the blocked segment lies before b2's start"
LEASES_MID=$(leases)
LEASE_MID_JSON=$(leases_json)
pgp_capture --repo "$REPO" info
INFO_TEXT=$OUT
pgp_capture --repo "$REPO" info --output json
INFO_JSON=$OUT

log "a stale lease of a recovery long gone"
repo_write "$REPO" leases/recovery-gone-0123456789abcdef.json <<EOF
{"format": 1, "host": "gone", "data_directory": "/srv/gone", "system_identifier": "1",
 "wal": "000000010000000000000001", "timeline": 1, "created_by": "restore",
 "since": "2020-01-01T00:00:00Z", "renewed": "2020-01-01T00:00:00Z",
 "expires": "2020-01-02T00:00:00Z", "ttl_s": 86400}
EOF

log "expire --retain-full 1 while the server replays b1's WAL"
below_before=$(wal_below "$cut")
pgp_capture --repo "$REPO" expire --retain-full 1 --dry-run --output json
assert_rc 0 "expire --dry-run --output json"
PLAN_JSON=$OUT
pgp_capture --repo "$REPO" expire --retain-full 1
assert_rc 0 "expire --retain-full 1"
PLAN_TEXT=$OUT
printf '%s\n' "$PLAN_TEXT"
assert_repo_absent "$REPO" backup/b1 "b1 is expired"
touch "$GATE/open"
wait_promoted r 120
assert_eq "$(seq -s, 1 15)" "$(rows r)" "rows after a recovery that expire ran during"

log "the lease existed mid-recovery and the plan named it"
assert_contains "$LEASES_MID" "leases/recovery-" "a lease object during recovery"
real_data=$(realpath "$data")
assert_eq "$real_data" "$(jq -r .data_directory <<<"$LEASE_MID_JSON")" "lease data directory"
assert_eq restore "$(jq -r .created_by <<<"$LEASE_MID_JSON")" "the lease was written by restore"
assert_eq "7200 $b1_start" "$(jq -r '.ttl_s' <<<"$lease_after_restore") $(segno_of_wal "$(jq -r .wal <<<"$lease_after_restore")")" "restore's lease: lease-ttl from the config, at b1's start"
lease_seg=$(segno_of_wal "$(jq -r .wal <<<"$LEASE_MID_JSON")")
[ "$lease_seg" -le "$(segno_of_wal "$waiting")" ] || fail "the lease ($lease_seg) is past the segment PostgreSQL waits for ($waiting)"
assert_contains "$INFO_TEXT" "RECOVERY LEASES" "info has a lease section"
assert_contains "$INFO_TEXT" "live: host" "info shows the live lease"
printf '%s\n' "$INFO_JSON" >"$WORK/info.json"
validate_schema "$HERE/../../docs/info.schema.json" "$WORK/info.json"
assert_eq "live $real_data" "$(jq -r '.leases[] | "\(.state) \(.data_directory)"' <<<"$INFO_JSON")" "info JSON: the lease"
assert_contains "$PLAN_TEXT" "data directory \"$real_data\"" "the text plan names the lease"
assert_contains "$PLAN_TEXT" "holds WAL back" "the text plan says it holds WAL back"
assert_contains "$PLAN_TEXT" "recovery leases lower the cut-off" "the text plan explains the cut-off"
assert_contains "$PLAN_TEXT" "ignored, removed" "the stale lease is ignored"
printf '%s\n' "$PLAN_JSON" >"$WORK/plan.json"
validate_schema "$HERE/../../docs/expire.schema.json" "$WORK/plan.json"
jqp() { jq -r "$1" <<<"$PLAN_JSON"; }
assert_eq "live true keep" "$(jqp ".leases[] | select(.data_directory == \"$real_data\") | \"\(.state) \(.holds_wal) \(.action)\"")" "JSON: the live lease"
assert_eq "stale false remove" "$(jqp '.leases[] | select(.host == "gone") | "\(.state) \(.holds_wal) \(.action)"')" "JSON: the stale lease"
assert_eq "$cut" "$(jqp .wal.policy_cutoff_segno)" "JSON: the policy's cut-off"
assert_eq "$lease_seg" "$(jqp .wal.cutoff_segno)" "JSON: the cut-off the lease lowered"
assert_gt "$(jqp .wal.kept_for_leases)" 0 "JSON: WAL kept for the lease"
assert_repo_absent "$REPO" leases/recovery-gone-0123456789abcdef.json "the stale lease after expire"
assert_gt "$below_before" 0 "WAL below b2's start before expire"

log "after promotion the lease is gone, and the next expire removes that WAL"
for ((i = 0; i < 300; i++)); do [ -z "$(leases)" ] && break; sleep 0.1; done
assert_eq "" "$(leases)" "leases after promotion"
pg_stop r
pgp_capture --repo "$REPO" expire --retain-full 1
assert_rc 0 "expire after the recovery"
assert_eq 0 "$(wal_below "$cut")" "WAL below b2's start once no lease holds it"

log "a drill leaves no lease behind"
mkdir_pg "$WORK/dtmp"
TMPDIR="$WORK/dtmp" pgp_capture --repo "$REPO" drill
assert_rc 0 "pgpitr drill"
assert_eq "" "$(leases)" "leases after a drill"
log "ok"
