#!/usr/bin/env bash
# harvest-seeds.sh DEST - collects real inputs for the fuzz seed corpus from one real run:
# a PostgreSQL 15 cluster with a tablespace archiving into a repository, a backup, a drill to
# the newest point (which promotes to timeline 2, kept with --keep) and pg_basebackup's tar
# output. Writes DEST/<harness>/<seed>, each cut to a few KiB (manifests keep a few entries
# and get their checksum recomputed; the tar stream keeps a few members per archive). The
# checked-in tests/fuzz/corpus was made this way, plus hand-written edge cases.
# Run like an integration test (it uses tests/integration/lib.sh):
#   PGPITR_BIN=$PWD/build/pgpitr tests/fuzz/harvest-seeds.sh /tmp/seeds
# shellcheck source=tests/integration/lib.sh
DEST=$(realpath -m "${1:?usage: harvest-seeds.sh DEST}")
IT=$(cd "$(dirname "$0")/../integration" && pwd)
source "$IT/lib.sh"
# shellcheck source=tests/integration/drill_lib.sh
source "$IT/drill_lib.sh"

log "a cluster with a tablespace, archiving, and a backup"
pg_init src
pg_conf src "track_commit_timestamp = on"
pg_enable_archiving src "$REPO"
pg_start src
mkdir_pg "$WORK/ts1"
psql_c src "CREATE TABLESPACE ts1 LOCATION '$WORK/ts1'"
psql_c src "CREATE TABLE t1 TABLESPACE ts1 AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g"
wait_archived src "$(switch_wal src)"
pgp_capture --repo "$REPO" backup --pg-conn "$(conninfo src)" --label base1
assert_rc 0 "pgpitr backup"
psql_c src "INSERT INTO t1 SELECT g, 'after' FROM generate_series(1, 10) g"
wait_archived src "$(switch_wal src)"

log "a drill (its lock holder is taken while it runs)"
mkdir_pg "$WORK/dtmp"
bg_pgp drill --repo "$REPO" drill --keep --workdir "$WORK/dtmp/d1"
for ((i = 0; i < 600; i++)); do
    holder=$(find "$REPO/locks" -name '*.json' 2>/dev/null | head -n 1)
    [ -n "$holder" ] && cp "$holder" "$WORK/holder.json" 2>/dev/null && break
    sleep 0.1
done
bg_wait "$BG_PID" drill
assert_rc 0 "pgpitr drill"

log "pg_basebackup -Ft for the tar stream"
mkdir_pg "$WORK/tar"
as_pg "$PG_BIN/pg_basebackup" -h "$(cluster_dir src)" -p "$(cluster_port src)" -U postgres \
    -D "$WORK/tar" -Ft -X none --manifest-checksums=SHA256 >/dev/null

log "writing $DEST"
mkdir -p "$DEST"/{repo_json,manifest,pgmanifest,lock_holder,drill_report,walhdr,timeline,serverlog,basebackup,walname,time}
cp "$REPO/repo.json" "$DEST/repo_json/real"
cp "$WORK/holder.json" "$DEST/lock_holder/real-read"
cp "$(find "$REPO/drill" -name '*.json' | head -n 1)" "$DEST/drill_report/real-passed"
first=$(find "$REPO/archive/wal" -type f -name '0*' | sort | head -n 1)
zstd -q -dc "$first" >"$WORK/segment"
head -c 8192 "$WORK/segment" >"$DEST/walhdr/real-page"
head -c 40 "$WORK/segment" >"$DEST/walhdr/real-header"
printf '\0\0\0\2' | cat - "$(find "$WORK/dtmp/d1" -name 00000002.history | head -n 1)" \
    >"$DEST/timeline/real-2"
for n in $(find "$REPO/archive" -type f -printf '%f\n' | sed -E 's/-[0-9a-f]{64}.*//' | sort -u); do
    printf '%s' "$n" >"$DEST/walname/real-$n"
done
grep -v 'checkpoint starting\|checkpoint complete' "$WORK/dtmp/d1/postgres.log" >"$WORK/drill.log"
head -c 4096 "$WORK/drill.log" >"$DEST/serverlog/real-drill"
zstd -dc "$REPO/backup/base1/backup_manifest.zst" >"$WORK/backup_manifest"

python3 - "$DEST" "$REPO/backup/base1/manifest.json" "$WORK/backup_manifest" "$WORK/tar" <<'EOF'
import hashlib, io, json, os, struct, sys, tarfile
dest, manifest_json, pg_manifest, tar_dir = sys.argv[1:5]

# pgpitr's manifest.json: one field or entry per line; keep every kind of entry, a few each.
lines = open(manifest_json).read().split("\n")
head, entries, tail, kinds = [], [], [], {}
for ln in lines:
    if ln.lstrip().startswith('{"path"'):
        kind = json.loads(ln.strip().rstrip(","))["type"]
        if kinds.get(kind, 0) < 3:
            kinds[kind] = kinds.get(kind, 0) + 1
            entries.append(ln.rstrip().rstrip(","))
    elif entries:
        tail.append(ln)
    else:
        head.append(ln)
text = "\n".join(head) + "\n" + ",\n".join(entries) + "\n" + "\n".join(tail)
json.loads(text)
open(f"{dest}/manifest/real", "w").write(text)

# backup_manifest: a few files, the checksum recomputed over everything before the last line.
def pg_manifest_cut(raw, keep):
    lines = raw.split("\n")
    files = [i for i, ln in enumerate(lines) if ln.startswith('{ "Path"')]
    kept = [lines[i].rstrip(",") for i in files[:keep]]
    rest = lines[files[-1] + 1:]
    body = "\n".join(lines[:files[0]]) + "\n" + ",\n".join(kept) + "\n" + "\n".join(rest[:-2]) + "\n"
    return body + '"Manifest-Checksum": "%s"}\n' % hashlib.sha256(body.encode()).hexdigest()
raw = open(pg_manifest).read()
small = pg_manifest_cut(raw, 4)
json.loads(small)
open(f"{dest}/pgmanifest/real", "w").write(small)

# The BASE_BACKUP copy stream: 'n' base.tar, 'd' chunks of a few tar members (PostgreSQL
# leaves out the end-of-archive blocks), 'p' progress, the same for the tablespace, 'm' and
# the manifest. Framed for fuzz_basebackup: 2-byte big-endian length, payload.
def members(path, count):
    with open(path, "rb") as f:
        data = f.read()
    out = b""
    with tarfile.open(path) as t:
        for m in t.getmembers()[:count]:
            end = m.offset_data + ((m.size + 511) // 512) * 512
            out += data[m.offset:end]
    return out
def frame(payload):
    return struct.pack(">H", len(payload)) + payload
stream = b""
base = members(f"{tar_dir}/base.tar", 5)
stream += frame(b"n" + b"base.tar\0\0")
for i in range(0, len(base), 1500):
    stream += frame(b"d" + base[i:i + 1500])
stream += frame(b"p" + struct.pack(">Q", len(base)))
ts = [f for f in os.listdir(tar_dir) if f.endswith(".tar") and f != "base.tar"][0]
tsdata = members(f"{tar_dir}/{ts}", 3)
stream += frame(b"n" + ts.encode() + b"\0/srv/ts1\0")
stream += frame(b"d" + tsdata[:3000])
stream += frame(b"m")
stream += frame(b"d" + pg_manifest_cut(open(f"{tar_dir}/backup_manifest").read(), 2).encode())
open(f"{dest}/basebackup/real", "wb").write(stream)

# Times as the manifest, the drill report and the server log print them.
m = json.loads(text)
for i, t in enumerate((m["start_time"], m["stop_time"])):
    open(f"{dest}/time/real-manifest-{i}", "w").write(t)
EOF
grep -ho 'last completed transaction was at log time [^"]*' "$DEST/serverlog/real-drill" |
    sed 's/.*log time //' | head -n 1 | tr -d '\n' >"$DEST/time/real-log"
log "done: $(find "$DEST" -type f | wc -l) files"
