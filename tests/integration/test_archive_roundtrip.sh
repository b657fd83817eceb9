#!/usr/bin/env bash
# PostgreSQL archives through pgpitr (archive_command) under pgbench load; every archived
# segment comes back byte-identical through archive-get, and sits at the documented path.
# Then the same round trip by hand for each codec (zstd, lz4, none) in fresh repositories.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

pg_init main
pg_enable_archiving main "$REPO"
pg_start main

log "pgbench init + run"
pgbench_c main -i -q -s 5
pgbench_c main -c 2 -j 2 -T 5 -n
for _ in 1 2 3; do
    seg=$(switch_wal main)
done
log "waiting for $seg to be archived"
wait_archived main "$seg"

failed_count=$(psql_c main "SELECT failed_count FROM pg_stat_archiver")
assert_eq 0 "$failed_count" "pg_stat_archiver.failed_count"
archived_count=$(psql_c main "SELECT archived_count FROM pg_stat_archiver")
assert_gt "$archived_count" 5 "pg_stat_archiver.archived_count"

assert_repo_has "$REPO" repo.json "repository not created on first push"
sysid=$(cluster_sysid main)
rj=$(repo_read "$REPO" repo.json)
grep -q "$sysid" <<<"$rj" || fail "repo.json does not record system identifier $sysid: $rj"
grep -Eq '16777216' <<<"$rj" || fail "repo.json does not record the 16 MiB segment size: $rj"

# Every segment PostgreSQL considers archived (.done) is in the repository, at its path, and
# comes back identical.
data=$(cluster_data main)
n=0
for done_file in "$data"/pg_wal/archive_status/*.done; do
    [ -e "$done_file" ] || continue
    name=$(basename "$done_file" .done)
    [[ "$name" =~ ^[0-9A-F]{24}$ ]] || continue
    [ -f "$data/pg_wal/$name" ] || continue
    sha=$(sha256_of "$data/pg_wal/$name")
    assert_repo_has "$REPO" "$(repo_object_key "$name" "$sha" .zst)" "object of $name at its documented path"
    archive_get_cmp "$REPO" "$name" "$data/pg_wal/$name"
    # An independent decoder agrees: the object is a plain zstd frame of the original bytes.
    if command -v zstd >/dev/null; then
        repo_read "$REPO" "$(repo_object_key "$name" "$sha" .zst)" | zstd -q -d -c | cmp -s - "$data/pg_wal/$name" ||
            fail "zstd -d of the object of $name differs from the segment"
    fi
    n=$((n + 1))
done
log "$n archived segments verified"
assert_gt "$n" 5 "archived segments verified"
[ -z "$(repo_debris "$REPO")" ] || fail "debris left in the repository: $(repo_debris "$REPO")"
[ -z "$(grep -v '^$' "$WORK/log/pgpitr.log" 2>/dev/null || true)" ] ||
    fail "archive_command wrote to stderr: $(head -n 5 "$WORK/log/pgpitr.log")"

# Each codec, by hand, in a fresh repository.
cp_dir="$WORK/segs"
mkdir_pg "$cp_dir"
for done_file in $(find "$data/pg_wal/archive_status" -name '*.done' | sort | head -n 3); do
    name=$(basename "$done_file" .done)
    cp "$data/pg_wal/$name" "$cp_dir/"
done
own "$cp_dir"
mapfile -t segs < <(find "$cp_dir" -type f | sort)
[ "${#segs[@]}" -ge 2 ] || fail "need at least 2 archived segments for the codec round trip"
for codec in zstd lz4 none; do
    case $codec in zstd) ext=.zst ;; lz4) ext=.lz4 ;; none) ext= ;; esac
    r=$(repo_url "repo-$codec")
    for s in "${segs[@]}"; do
        name=$(basename "$s")
        pgp_capture --repo "$r" archive-push --compress "$codec" "$s"
        assert_rc 0 "archive-push --compress $codec $name"
        assert_eq "" "$ERR" "archive-push --compress $codec stderr"
        key=$(repo_object_key "$name" "$(sha256_of "$s")" "$ext" "$r")
        assert_repo_has "$r" "$key" "$codec object of $name"
        obj="$WORK/tmp/object"
        repo_read "$r" "$key" >"$obj"
        case $codec in
            none) assert_same_file "$s" "$obj" "uncompressed object of $name" ;;
            lz4) if command -v lz4 >/dev/null; then
                     lz4 -q -d -c "$obj" | cmp -s - "$s" || fail "lz4 -d of $obj differs from $name"
                 fi ;;
            zstd) if command -v zstd >/dev/null; then
                     zstd -q -d -c "$obj" | cmp -s - "$s" || fail "zstd -d of $obj differs from $name"
                 fi ;;
        esac
        if [ "$codec" != none ]; then
            [ "$(file_size "$obj")" -lt "$(file_size "$s")" ] || fail "$codec object of $name is not smaller than the segment"
        fi
        archive_get_cmp "$r" "$name" "$s"
    done
    # A .partial file (what a promoted standby archives) is stored under its own name.
    pdir="$WORK/partial-$codec"
    mkdir_pg "$pdir"
    pname="$(basename "${segs[0]}").partial"
    as_pg cp "${segs[0]}" "$pdir/$pname"
    pgp_capture --repo "$r" archive-push --compress "$codec" "$pdir/$pname"
    assert_rc 0 "archive-push --compress $codec $pname"
    assert_repo_has "$r" "$(repo_object_key "$pname" "$(sha256_of "$pdir/$pname")" "$ext" "$r")" "$codec object of $pname"
    archive_get_cmp "$r" "$pname" "$pdir/$pname"
    nobj=$(repo_keys "$r" archive | grep -c . || true)
    assert_eq $((${#segs[@]} + 1)) "$nobj" "objects in the $codec repository"
done

# archive-get of an archived segment into a path whose directory is missing fails cleanly.
pgp_capture --repo "$REPO" archive-get "$(basename "${segs[0]}")" "$WORK/no/such/dir/x"
assert_rc 255 "archive-get into a missing directory (1 would end recovery quietly)"
assert_one_line_error "archive-get into a missing directory"
log "ok"
