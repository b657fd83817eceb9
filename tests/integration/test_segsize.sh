#!/usr/bin/env bash
# Clusters with non-default WAL segment sizes (1 MiB and 64 MiB) archive through pgpitr and
# round trip; repo.json records the size read from the segments' long page header.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

for mb in 1 64; do
    c="seg$mb"
    REPO=$(repo_url "repo-$mb")
    bytes=$((mb * 1024 * 1024))
    log "cluster with --wal-segsize=$mb"
    pg_init "$c" --wal-segsize="$mb"
    pg_enable_archiving "$c" "$REPO"
    pg_conf "$c" "min_wal_size = $((mb * 4))MB"
    pg_start "$c"
    assert_eq "${mb}MB" "$(psql_c "$c" "SHOW wal_segment_size")" "wal_segment_size of $c"
    pgbench_c "$c" -i -q -s 1
    pgbench_c "$c" -c 2 -j 2 -t 200 -n
    seg=""
    for _ in 1 2 3; do
        seg=$(switch_wal "$c")
    done
    wait_archived "$c" "$seg"
    assert_eq 0 "$(psql_c "$c" "SELECT failed_count FROM pg_stat_archiver")" "failed_count on $c"

    assert_repo_has "$REPO" repo.json "repo.json of $c"
    rj=$(repo_read "$REPO" repo.json)
    grep -Eq "(^|[^0-9])$bytes([^0-9]|$)" <<<"$rj" ||
        fail "repo.json does not record the segment size $bytes: $rj"
    grep -q "$(cluster_sysid "$c")" <<<"$rj" || fail "repo.json does not record the system identifier"

    data=$(cluster_data "$c")
    n=0
    for done_file in "$data"/pg_wal/archive_status/*.done; do
        name=$(basename "$done_file" .done)
        [[ "$name" =~ ^[0-9A-F]{24}$ ]] || continue
        [ -f "$data/pg_wal/$name" ] || continue
        assert_eq "$bytes" "$(file_size "$data/pg_wal/$name")" "size of $name"
        assert_repo_has "$REPO" "$(repo_object_key "$name" "$(sha256_of "$data/pg_wal/$name")" .zst)" "object of $name"
        archive_get_cmp "$REPO" "$name" "$data/pg_wal/$name"
        n=$((n + 1))
    done
    log "$c: $n segments round-tripped"
    assert_gt "$n" 2 "segments verified for $c"
    pg_stop "$c"
done

# A 1 MiB segment pushed into the 64 MiB repository does not belong there (other cluster,
# other size): refused, repository unchanged.
one=$(find "$(cluster_data seg1)/pg_wal" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9A-F]{24}' | sort | head -n 1)
before=$(repo_listing "$REPO"; repo_debris "$REPO")   # the 64 MiB one, the loop's last
pgp_capture --repo "$REPO" archive-push "$one"
[ "$RC" -ne 0 ] || fail "a 1 MiB segment was accepted by a 64 MiB repository"
assert_one_line_error "1 MiB segment into the 64 MiB repository"
assert_eq "$before" "$(repo_listing "$REPO"; repo_debris "$REPO")" "64 MiB repository after the refused push"
log "ok"
