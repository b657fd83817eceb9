/*
 * test_backup_chunks.c - a backup storing large files as chunks (src/backup/backup_chunks.c,
 * backup_pool_submit_chunked in src/backup/backup_store.c, docs/chunking.md "Backup"), on a
 * temporary repository (fx_repo), through the pool with two workers:
 *   - the threshold: 8 MiB - 1 stays a whole object, 8 MiB is chunked;
 *   - exactly 8 MiB and 8 MiB + 12,345 bytes: every chunk stored under the SHA-256 of its
 *     bytes and holding them, the list naming them in order (read back with chunk_list_load
 *     as restore reads it), the result and the file's CRC-32C those of the whole file;
 *   - the same content twice (two files of one backup, then a second backup, and equal chunks
 *     inside one file) stores every chunk once; a second backup uploads nothing;
 *   - a storage failure names the file and the chunk; a short read fails cleanly;
 *   - the chunks a list names are named (batched commits flushed) before the list is stored;
 *   - a failing flush fails the backup with a one-line error and leaves no temp file;
 *   - on posix, what makes a chunked file durable does not grow with its chunks: two syncfs
 *     a flush, no fsync per chunk or per objects/XX directory (fx_syncs).
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fx_repo.h"
#include "fx_syncs.h"
#include "pgpitr/backup/backup_chunks.h"
#include "pgpitr/backup/backup_store.h"
#include "pgpitr/repo/chunk_load.h"

#define MIB ((size_t)1 << 20)

static FxRepo fx;

static void setup(void) { fx_repo_init(&fx, "backup_chunks"); }
static void teardown(void) { fx_repo_free(&fx); }

static const BackupStoreOptions zstd1 = {.codec = PIPE_CODEC_ZSTD, .level = 1};

/* Bytes that compress a little and differ per chunk unless seeds repeat: chunk i of the file
 * gets seed seeds[i]. */
static uint8_t *make_file(size_t size, const unsigned *seeds)
{
    uint8_t *b = malloc(size);
    ck_assert_ptr_nonnull(b);
    for (size_t off = 0; off < size; off++) {
        unsigned seed = seeds != NULL ? seeds[off / MIB] : (unsigned)(off / MIB);
        uint32_t x = (uint32_t)(off % MIB) * 2654435761u ^ (seed * 40503u + 7u);
        b[off] = (uint8_t)((x >> 13) & 0x3f);
    }
    return b;
}

typedef struct Seen {
    int done;
    BackupFileJob file;     /* the last file reported (path copied) */
    char path[64];
    BackupStoreResult res;
    uint64_t new_bytes;
} Seen;

static int on_done(void *ud, const BackupFileJob *job, const BackupStoreResult *res, PgpErr *err)
{
    (void)err;
    Seen *s = ud;
    s->done++;
    s->file = *job;
    snprintf(s->path, sizeof s->path, "%s", job->path);
    s->file.path = s->path;
    s->res = *res;
    s->new_bytes += res->new_stored_size;
    return 0;
}

typedef struct Reader {
    const uint8_t *data;
    size_t size, off;
} Reader;

static int read_mem(void *ud, void *buf, size_t len, PgpErr *err)
{
    Reader *r = ud;
    if (len > r->size - r->off)
        return PGP_FAIL(err, PGP_ERR_PG, "unexpected end of the stream");
    memcpy(buf, r->data + r->off, len);
    r->off += len;
    return 0;
}

/* Stores files[0..n) (each size bytes) as one backup would, the chunked ones as chunks. */
static int run_backup(Storage *st, uint8_t *const *files, size_t n, size_t size, Seen *seen,
                      PgpErr *err)
{
    BackupPool *p = NULL;
    memset(seen, 0, sizeof *seen);
    ck_assert_int_eq(backup_pool_new(st, &zstd1, 2, 4 * MIB, on_done, seen, &p, err), 0);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[32];
        snprintf(path, sizeof path, "base/5/%zu", 16384 + i);
        BackupFileJob meta = {.path = path, .mode = 0600, .mtime = FX_T0, .size = size};
        Reader r = {files[i], size, 0};
        rc = backup_pool_submit_chunked(p, &meta, read_mem, &r, err);
    }
    int frc = backup_pool_finish(p, err);
    backup_pool_free(p);
    return rc != 0 ? rc : frc;
}

static int objects_n;
static int count_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path, (void)sb, (void)ftw;
    if (flag == FTW_F)
        objects_n++;
    return 0;
}

static int count_objects(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/objects", fx.root);
    objects_n = 0;
    ck_assert_int_eq(nftw(dir, count_one, 16, FTW_PHYS), 0);
    return objects_n;
}

/* The file's storage as restore reads it: the list through chunk_list_load (digest, size,
 * count, codec checked against the entry), every chunk object decoded and compared with the
 * file's bytes at its offset; the CRC-32C that of the whole file. */
static void check_stored(const Seen *seen, const uint8_t *data, size_t size)
{
    ck_assert_int_eq(seen->res.chunk_shift, 20);
    ck_assert_uint_eq(seen->res.chunks, (size + MIB - 1) / MIB);
    ck_assert_uint_eq(seen->file.size, size);
    ck_assert(seen->file.has_crc32c);
    ck_assert_uint_eq(seen->file.crc32c,
                      pipe_crc32c_final(pipe_crc32c_update(PIPE_CRC32C_INIT, data, size)));
    ManifestEntry e = {.path = (char *)seen->path, .type = MANIFEST_FILE, .size = size,
                       .chunk_shift = seen->res.chunk_shift,
                       .chunk_list = (char *)seen->res.object};
    memcpy(e.sha256, seen->res.sha256_hex, sizeof e.sha256);
    ChunkList *l = NULL;
    PgpErr err = {0};
    ck_assert_msg(chunk_list_load(fx.st, NULL, &e, &l, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(l->n, seen->res.chunks);
    uint64_t stored = 0;
    StorageInfo info;
    ck_assert_int_eq(storage_stat(fx.st, seen->res.object, &info, &err), 0);
    stored += info.size;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t off, len;
        char path[REPO_PATH_MAX], hex[PIPE_SHA256_HEX_LEN + 1];
        chunk_list_extent(l, i, &off, &len);
        ck_assert_int_eq(chunk_list_object_path(l, i, path, &err), 0);
        pipe_hex(l->digests[i], PIPE_SHA256_LEN, hex);
        size_t got = 0;
        char *back = fx_read_object(&fx, path, PIPE_CODEC_ZSTD, hex, &got);
        ck_assert_uint_eq(got, len);
        ck_assert(memcmp(back, data + off, len) == 0);
        free(back);
        ck_assert_int_eq(storage_stat(fx.st, path, &info, &err), 0);
        stored += info.size;
    }
    /* Every chunk distinct here: stored_size is the list plus each chunk as stored. */
    ck_assert_uint_eq(seen->res.stored_size, stored);
    chunk_list_free(l);
}

START_TEST(threshold_is_8_mib)
{
    ck_assert(!backup_store_chunks(8 * MIB - 1));
    ck_assert(backup_store_chunks(8 * MIB));
    ck_assert(backup_store_chunks((size_t)1 << 30));
    ck_assert(!backup_store_chunks(0));
    /* Below the threshold the pool refuses to cut a file: it is stored whole. */
    BackupPool *p = NULL;
    Seen seen = {0};
    PgpErr err = {0};
    ck_assert_int_eq(backup_pool_new(fx.st, &zstd1, 1, 4 * MIB, on_done, &seen, &p, &err), 0);
    BackupFileJob meta = {.path = "base/5/1", .mode = 0600, .size = 8 * MIB - 1};
    Reader r = {NULL, 0, 0};
    ck_assert_int_eq(backup_pool_submit_chunked(p, &meta, read_mem, &r, &err),
                     PGP_ERR_INTERNAL);
    ck_assert_int_eq(backup_pool_finish(p, &err), 0);
    backup_pool_free(p);
    ck_assert_int_eq(seen.done, 0);
}
END_TEST

START_TEST(exactly_8_mib)
{
    size_t size = 8 * MIB;
    uint8_t *f = make_file(size, NULL);
    Seen seen;
    PgpErr err = {0};
    ck_assert_msg(run_backup(fx.st, &f, 1, size, &seen, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(seen.done, 1);
    ck_assert_str_eq(seen.path, "base/5/16384");
    ck_assert_uint_eq(seen.res.chunks, 8);
    ck_assert_uint_eq(seen.res.new_chunks, 8);
    ck_assert(!seen.res.reused);
    ck_assert_uint_eq(seen.res.new_stored_size, seen.res.stored_size);
    check_stored(&seen, f, size);
    ck_assert_int_eq(count_objects(), 9);     /* 8 chunks + the list */
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    free(f);
}
END_TEST

START_TEST(size_not_a_multiple_of_the_chunk)
{
    size_t size = 8 * MIB + 12345;
    uint8_t *f = make_file(size, NULL);
    Seen seen;
    PgpErr err = {0};
    ck_assert_msg(run_backup(fx.st, &f, 1, size, &seen, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(seen.done, 1);
    ck_assert_uint_eq(seen.res.chunks, 9);    /* the last one 12,345 bytes */
    check_stored(&seen, f, size);
    ck_assert_int_eq(count_objects(), 10);
    free(f);
}
END_TEST

START_TEST(same_content_stored_once)
{
    size_t size = 9 * MIB;
    uint8_t *a = make_file(size, NULL);
    uint8_t *b = make_file(size, NULL);
    uint8_t *files[] = {a, b};
    Seen seen;
    PgpErr err = {0};
    ck_assert_msg(run_backup(fx.st, files, 2, size, &seen, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(seen.done, 2);
    ck_assert_int_eq(count_objects(), 10);    /* 9 chunks + 1 list for both files */
    uint64_t first_new = seen.new_bytes;
    char list[REPO_PATH_MAX];
    snprintf(list, sizeof list, "%s", seen.res.object);

    /* A second backup of the same file: nothing uploaded, the same list. */
    ck_assert_int_eq(run_backup(fx.st, &a, 1, size, &seen, &err), 0);
    ck_assert(seen.res.reused);
    ck_assert_uint_eq(seen.res.new_chunks, 0);
    ck_assert_uint_eq(seen.new_bytes, 0);
    ck_assert_str_eq(seen.res.object, list);
    /* Two workers may both store a chunk of the two equal files at once (the loser's commit
     * is a conflict, taken as success): at least the file's bytes were new. */
    ck_assert_uint_ge(first_new, seen.res.stored_size);
    ck_assert_int_eq(count_objects(), 10);

    /* One chunk changed: one chunk and one list more. */
    a[3 * MIB + 100] ^= 0x40;
    ck_assert_int_eq(run_backup(fx.st, &a, 1, size, &seen, &err), 0);
    ck_assert(!seen.res.reused);
    ck_assert_uint_eq(seen.res.new_chunks, 1);
    ck_assert_uint_lt(seen.new_bytes, seen.res.stored_size / 4);
    check_stored(&seen, a, size);
    ck_assert_int_eq(count_objects(), 12);
    free(a);
    free(b);

    /* Equal chunks inside one file (a file of empty pages): one chunk object. */
    unsigned seeds[10];
    for (size_t i = 0; i < 10; i++)
        seeds[i] = 99;
    uint8_t *z = make_file(10 * MIB, seeds);
    ck_assert_int_eq(run_backup(fx.st, &z, 1, 10 * MIB, &seen, &err), 0);
    ck_assert_uint_eq(seen.res.chunks, 10);
    ck_assert_int_eq(count_objects(), 12 + 2);
    free(z);
}
END_TEST

/* The done callback of a chunked file runs once its list is stored: by then every chunk the
 * list names must be named (durable) in the repository, although the batch's limits (1,024
 * objects) were never reached: the list's store flushed them. */
static const uint8_t *named_data;
static int named_checked;

static int on_done_check_named(void *ud, const BackupFileJob *job, const BackupStoreResult *res,
                               PgpErr *err)
{
    (void)ud;
    for (uint64_t i = 0; i < res->chunks; i++) {
        size_t len = job->size - i * MIB < MIB ? job->size - i * MIB : MIB;
        uint8_t digest[PIPE_SHA256_LEN];
        char hex[PIPE_SHA256_HEX_LEN + 1], path[REPO_PATH_MAX];
        ck_assert_int_eq(pipe_sha256_buf(named_data + i * MIB, len, digest, err), 0);
        pipe_hex(digest, sizeof digest, hex);
        ck_assert_int_eq(repo_object_path(hex, PIPE_CODEC_ZSTD, path, err), 0);
        StorageInfo info;
        ck_assert_msg(storage_stat(fx.st, path, &info, err) == 0,
                      "chunk %llu not named when its list was stored", (unsigned long long)i);
        named_checked++;
    }
    return 0;
}

/* A flush that fails (here: the objects/XX directory of one chunk is a file) fails the whole
 * backup with that one-line error; no temp file is left, and nothing of the file is named
 * that is not whole (its list is never stored). */
START_TEST(failed_flush_fails_the_backup)
{
    size_t size = 8 * MIB;
    uint8_t *f = make_file(size, NULL);
    uint8_t digest[PIPE_SHA256_LEN];
    char hex[PIPE_SHA256_HEX_LEN + 1], dir[64];
    PgpErr err = {0};
    ck_assert_int_eq(pipe_sha256_buf(f + 3 * MIB, MIB, digest, &err), 0);
    pipe_hex(digest, sizeof digest, hex);
    snprintf(dir, sizeof dir, "objects/%.2s", hex);
    ck_assert_int_eq(storage_put_all(fx.st, dir, 0, "x", 1, &err), 0);
    Seen seen;
    ck_assert_int_ne(run_backup(fx.st, &f, 1, size, &seen, &err), 0);
    ck_assert_int_eq(seen.done, 0);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    ck_assert_msg(strstr(err.msg, dir) != NULL, "%s", err.msg);
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    ck_assert_int_le(count_objects(), 8);      /* some chunks (whole), the blocker, no list */
    free(f);
}
END_TEST

START_TEST(chunks_named_before_the_list)
{
    size_t size = 9 * MIB + 7;
    uint8_t *f = make_file(size, NULL);
    named_data = f;
    named_checked = 0;
    BackupPool *p = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(backup_pool_new(fx.st, &zstd1, 2, 4 * MIB, on_done_check_named, NULL, &p,
                                     &err), 0);
    BackupFileJob meta = {.path = "base/5/1", .mode = 0600, .mtime = FX_T0, .size = size};
    Reader r = {f, size, 0};
    ck_assert_int_eq(backup_pool_submit_chunked(p, &meta, read_mem, &r, &err), 0);
    ck_assert_msg(backup_pool_finish(p, &err) == 0, "%s", err.msg);
    backup_pool_free(p);
    ck_assert_int_eq(named_checked, 10);
    ck_assert_int_eq(count_objects(), 11);     /* and the list, named by the finish */
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    free(f);
}
END_TEST

/* 32 chunks (some equal: make_file's seeds repeat in the bits it keeps; the others in as many
 * objects/XX directories, most of them new) and the list: the list's
 * store flushes the chunks, the pool's finish the list, each flush two syncfs (bytes, then
 * names); no fsync at all, where each chunk used to cost a directory fsync or two. */
START_TEST(durability_does_not_grow_with_chunks)
{
    size_t size = 32 * MIB;
    uint8_t *f = make_file(size, NULL);
    Seen seen;
    PgpErr err = {0};
    char objects[512];
    snprintf(objects, sizeof objects, "%s/objects", fx.root);
    ck_assert_int_eq(mkdir(objects, 0750), 0);     /* as in a repository used before */
    fx_syncs_reset();
    ck_assert_msg(run_backup(fx.st, &f, 1, size, &seen, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(seen.res.chunks, 32);
    ck_assert_int_eq(fx_syncs.syncfs, 4);
    ck_assert_int_eq(fx_syncs.fsyncs + fx_syncs.fdatasyncs, 0);
    ck_assert_int_eq(fx_count_temp(&fx), 0);
    free(f);
}
END_TEST

START_TEST(failures_name_the_chunk)
{
    size_t size = 8 * MIB;
    uint8_t *f = make_file(size, NULL);
    Storage *s = fx_fail_storage(&fx, FX_FAIL_WRITE);
    Seen seen;
    PgpErr err = {0};
    ck_assert_int_eq(run_backup(s, &f, 1, size, &seen, &err), PGP_ERR_NO_SPACE);
    storage_free(s);
    ck_assert_int_eq(seen.done, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot back up \"base/5/16384\""));
    ck_assert_ptr_nonnull(strstr(err.msg, "chunk "));
    ck_assert_int_eq(fx_count_temp(&fx), 0);

    /* The stream ends early: the read's error, nothing reported. */
    BackupPool *p = NULL;
    ck_assert_int_eq(backup_pool_new(fx.st, &zstd1, 2, 4 * MIB, on_done, &seen, &p, &err), 0);
    BackupFileJob meta = {.path = "base/5/2", .mode = 0600, .size = size};
    Reader r = {f, size - 1, 0};
    ck_assert_int_eq(backup_pool_submit_chunked(p, &meta, read_mem, &r, &err), PGP_ERR_PG);
    ck_assert_int_eq(backup_pool_finish(p, &err), 0);
    backup_pool_free(p);
    ck_assert_int_eq(seen.done, 0);
    free(f);
}
END_TEST

Suite *suite_backup_chunks(void)
{
    Suite *s = suite_create("backup_chunks");
    TCase *tc = tcase_create("chunked files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, threshold_is_8_mib);
    tcase_add_test(tc, exactly_8_mib);
    tcase_add_test(tc, size_not_a_multiple_of_the_chunk);
    tcase_add_test(tc, same_content_stored_once);
    tcase_add_test(tc, failures_name_the_chunk);
    tcase_add_test(tc, chunks_named_before_the_list);
    tcase_add_test(tc, failed_flush_fails_the_backup);
    tcase_add_test(tc, durability_does_not_grow_with_chunks);
    suite_add_tcase(s, tc);
    return s;
}
