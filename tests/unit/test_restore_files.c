/*
 * test_restore_files.c - unit tests of restore's per-file work (restore_file), the worker
 * pool, backup selection, and the restore command itself on fabricated repositories: a real
 * posix Storage in a mkdtemp directory, objects written through the pipe compress filters,
 * manifests through manifest_save.
 */
#include "fx_dir.h"
#include "pgpitr/restore/restore_files.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/repo.h"

#define MTIME 1700000000
#define SYSID 7300000000000000001ULL

static char tdir[128];
static char root[256];
static Storage *st;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    umask(022);
    snprintf(tdir, sizeof tdir, "/tmp/pgpitr_test_restore.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
    snprintf(root, sizeof root, "%s/repo", tdir);
    PgpErr err = {0};
    st = NULL;
    ck_assert_int_eq(storage_posix_new(root, true, &st, &err), 0);
}

static void teardown(void)
{
    storage_free(st);
    st = NULL;
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ----------------------------------------------------------------------------- */

static int file_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    (void)err;
    ck_assert_uint_eq(fwrite(buf, 1, len, ud), len);
    return 0;
}

/* Content that is neither trivially compressible nor random. */
static unsigned char *make_content(size_t len, unsigned seed)
{
    unsigned char *p = malloc(len + 1);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)((i / 7 + seed * 31) ^ (i % 13 == 0 ? seed : 0));
    return p;
}

/* Stores data as an object and fills e (path, size, mode 0640, MTIME, sha256, object). */
static void put_object(const void *data, size_t len, PipeCodec codec, const char *path,
                       ManifestEntry *e)
{
    PgpErr err = {0};
    char *out = NULL;
    size_t out_len = 0;
    FILE *mem = open_memstream(&out, &out_len);
    PipeFilter *comp = NULL;
    ck_assert_int_eq(pipe_compress_new(codec, codec == PIPE_CODEC_ZSTD ? 1 : 0, 0,
                                       (PipeSink){file_write, mem}, &comp, &err), 0);
    if (len > 0)
        ck_assert_int_eq(pipe_filter_push(comp, data, len, &err), 0);
    ck_assert_int_eq(pipe_filter_finish(comp, &err), 0);
    pipe_filter_free(comp);
    ck_assert_int_eq(fclose(mem), 0);
    uint8_t digest[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(data, len, digest, NULL), 0);
    memset(e, 0, sizeof *e);
    pipe_hex(digest, sizeof digest, e->sha256);
    char obj[REPO_PATH_MAX];
    repo_object_path(e->sha256, codec, obj, NULL);
    ck_assert_int_eq(storage_put_all(st, obj, STORAGE_WRITE_REPLACE, out, out_len, &err), 0);
    e->path = strdup(path);
    e->object = strdup(obj);
    e->type = MANIFEST_FILE;
    e->size = len;
    e->stored_size = out_len;
    e->mode = 0640;
    e->mtime = MTIME;
    free(out);
}

static void entry_clear(ManifestEntry *e)
{
    free(e->path);
    free(e->object);
    free(e->link_target);
    memset(e, 0, sizeof *e);
}

#define object_file(e, out, size) snprintf((out), (size), "%s/%s", root, (e)->object)

static bool exists(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0;
}

static void check_file(const char *p, const void *data, size_t len)
{
    int fd = open(p, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    unsigned char *buf = malloc(len + 1);
    ssize_t n = read(fd, buf, len + 1);
    close(fd);
    ck_assert_int_eq((long)n, (long)len);
    ck_assert(len == 0 || memcmp(buf, data, len) == 0);
    free(buf);
}

/* ---- restore_file -------------------------------------------------------------------------- */

START_TEST(test_good_object)
{
    static const PipeCodec codecs[] = {PIPE_CODEC_ZSTD, PIPE_CODEC_LZ4, PIPE_CODEC_NONE};
    for (size_t c = 0; c < 3; c++) {
        size_t len = 300000 + c;
        unsigned char *data = make_content(len, (unsigned)c + 1);
        ManifestEntry e;
        put_object(data, len, codecs[c], "base/1/1259", &e);
        char dest[512];
        snprintf(dest, sizeof dest, "%s/out%zu", tdir, c);
        PgpErr err = {0};
        RestoreFileOptions opt = {.sync = true};
        RestoreFileResult res;
        ck_assert_int_eq(restore_file(st, &e, dest, &opt, &res, &err), 0);
        ck_assert_uint_eq(res.size, len);
        ck_assert_uint_eq(res.stored_size, e.stored_size);
        check_file(dest, data, len);
        struct stat sb;
        ck_assert_int_eq(stat(dest, &sb), 0);
        ck_assert_uint_eq(sb.st_mode & 07777, 0640);
        ck_assert_int_eq((long)sb.st_mtime, MTIME);
        free(data);
        entry_clear(&e);
    }
}
END_TEST

START_TEST(test_empty_file_and_progress)
{
    ManifestEntry e;
    put_object("", 0, PIPE_CODEC_ZSTD, "empty", &e);
    e.mode = 0600;
    char dest[512];
    snprintf(dest, sizeof dest, "%s/empty", tdir);
    PgpErr err = {0};
    atomic_uint_fast64_t bytes;
    atomic_init(&bytes, 0);
    RestoreFileOptions opt = {.bytes_done = &bytes};
    RestoreFileResult res;
    ck_assert_int_eq(restore_file(st, &e, dest, &opt, &res, &err), 0);
    check_file(dest, "", 0);
    entry_clear(&e);

    unsigned char *data = make_content(5000, 9);
    put_object(data, 5000, PIPE_CODEC_LZ4, "f", &e);
    snprintf(dest, sizeof dest, "%s/f", tdir);
    ck_assert_int_eq(restore_file(st, &e, dest, &opt, &res, &err), 0);
    ck_assert_uint_eq(atomic_load(&bytes), 5000);
    free(data);
    entry_clear(&e);
}
END_TEST

START_TEST(test_checksum_mismatch)
{
    size_t len = 10000;
    unsigned char *data = make_content(len, 3);
    ManifestEntry e;
    put_object(data, len, PIPE_CODEC_NONE, "base/1/2", &e);
    fx_flip_bit(root, e.object, 1234);
    data[1234] ^= FX_FLIP_MASK;
    uint8_t digest[PIPE_SHA256_LEN];
    char actual[PIPE_SHA256_HEX_LEN + 1];
    ck_assert_int_eq(pipe_sha256_buf(data, len, digest, NULL), 0);
    pipe_hex(digest, sizeof digest, actual);

    char dest[512];
    snprintf(dest, sizeof dest, "%s/out", tdir);
    PgpErr err = {0};
    RestoreFileResult res;
    ck_assert_int_eq(restore_file(st, &e, dest, NULL, &res, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "checksum mismatch"));
    ck_assert_ptr_nonnull(strstr(err.msg, actual));
    ck_assert_ptr_nonnull(strstr(err.msg, e.sha256));
    ck_assert_ptr_nonnull(strstr(err.msg, dest));
    ck_assert(!exists(dest));
    free(data);
    entry_clear(&e);
}
END_TEST

START_TEST(test_wrong_size)
{
    size_t len = 70000;
    unsigned char *data = make_content(len, 6);
    ManifestEntry e;
    put_object(data, len, PIPE_CODEC_ZSTD, "base/1/4", &e);
    char dest[512];
    snprintf(dest, sizeof dest, "%s/out", tdir);
    PgpErr err = {0};
    RestoreFileResult res;
    e.size = len + 1; /* content shorter than the manifest says */
    ck_assert_int_eq(restore_file(st, &e, dest, NULL, &res, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "size mismatch"));
    ck_assert(!exists(dest));
    e.size = len - 1; /* longer: stopped as soon as it exceeds */
    ck_assert_int_eq(restore_file(st, &e, dest, NULL, &res, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "larger"));
    ck_assert(!exists(dest));
    free(data);
    entry_clear(&e);
}
END_TEST

/* A flipped byte in a compressed frame, or an object cut short: CORRUPT, nothing left. */
START_TEST(test_corrupt_or_truncated_object)
{
    static const PipeCodec codecs[] = {PIPE_CODEC_ZSTD, PIPE_CODEC_LZ4, PIPE_CODEC_NONE};
    for (size_t c = 0; c < 6; c++) {
        size_t len = 200000;
        unsigned char *data = make_content(len, 7);
        ManifestEntry e;
        put_object(data, len, codecs[c % 3], "base/1/5", &e);
        char p[512], dest[512];
        object_file(&e, p, sizeof p);
        if (c < 3)
            ck_assert_int_eq(truncate(p, (off_t)e.stored_size - 9), 0);
        else
            fx_flip_bit(root, e.object, (long)e.stored_size / 2);
        snprintf(dest, sizeof dest, "%s/out%zu", tdir, c);
        PgpErr err = {0};
        RestoreFileResult res;
        ck_assert_int_eq(restore_file(st, &e, dest, NULL, &res, &err), PGP_ERR_CORRUPT);
        ck_assert(!exists(dest));
        free(data);
        entry_clear(&e);
    }
}
END_TEST

START_TEST(test_missing_object_bad_ext_existing_dest)
{
    ManifestEntry e;
    put_object("hello", 5, PIPE_CODEC_ZSTD, "x", &e);
    char p[512], dest[512];
    object_file(&e, p, sizeof p);
    snprintf(dest, sizeof dest, "%s/out", tdir);
    PgpErr err = {0};
    RestoreFileResult res;

    /* dest exists: never overwritten */
    int fd = open(dest, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "keep", 4), 4);
    close(fd);
    ck_assert_int_ne(restore_file(st, &e, dest, NULL, &res, &err), 0);
    check_file(dest, "keep", 4);
    unlink(dest);

    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(restore_file(st, &e, dest, NULL, &res, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "missing"));
    ck_assert(!exists(dest));

    free(e.object);
    e.object = strdup("objects/ab/abc.gz");
    ck_assert_int_eq(restore_file(st, &e, dest, NULL, &res, &err), PGP_ERR_CORRUPT);
    ck_assert(!exists(dest));
    entry_clear(&e);
}
END_TEST

/* ---- the pool -------------------------------------------------------------------------------- */

typedef struct PoolFixture {
    ManifestEntry *e;
    ManifestPack *pack;                 /* e, as restore holds them */
    RestoreJob *jobs;
    char **dests;
    char *base;
    unsigned char **data;
    size_t n;
} PoolFixture;

static void pool_make(PoolFixture *f, size_t n, size_t size)
{
    f->n = n;
    f->base = NULL;
    f->e = calloc(n, sizeof *f->e);
    f->pack = manifest_pack_new();
    f->jobs = calloc(n, sizeof *f->jobs);
    f->dests = calloc(n, sizeof *f->dests);
    f->data = calloc(n, sizeof *f->data);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/pool", tdir);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof path, "f%zu", i);
        f->data[i] = make_content(size + i, (unsigned)i);
        put_object(f->data[i], size + i, i % 2 ? PIPE_CODEC_LZ4 : PIPE_CODEC_ZSTD, path, &f->e[i]);
        f->dests[i] = restore_path_join(dir, path);
        if (f->base == NULL)
            f->base = strdup(dir);
        PgpErr err = {0};
        ck_assert_int_eq(manifest_pack_add(f->pack, &f->e[i], &err), 0);
        f->jobs[i] = (RestoreJob){.item = manifest_pack_at(f->pack, i), .base = f->base};
    }
}

static void pool_free(PoolFixture *f)
{
    for (size_t i = 0; i < f->n; i++) {
        entry_clear(&f->e[i]);
        free(f->dests[i]);
        free(f->data[i]);
    }
    free(f->e);
    manifest_pack_free(f->pack);
    free(f->jobs);
    free(f->dests);
    free(f->base);
    free(f->data);
}

static void count_progress(void *ud, uint64_t files, uint64_t bytes)
{
    (void)files, (void)bytes;
    (*(int *)ud)++;
}

START_TEST(test_pool_all)
{
    PoolFixture f;
    pool_make(&f, 300, 3000);
    int calls = 0;
    RestorePoolOptions opt = {.workers = 4, .progress = count_progress, .progress_ud = &calls};
    RestorePoolResult res;
    PgpErr err = {0};
    ck_assert_int_eq(restore_pool_run(st, f.jobs, f.n, &opt, &res, &err), 0);
    ck_assert_uint_eq(res.files, 300);
    uint64_t total = 0;
    for (size_t i = 0; i < f.n; i++) {
        check_file(f.dests[i], f.data[i], f.e[i].size);
        total += f.e[i].size;
    }
    ck_assert_uint_eq(res.bytes, total);
    ck_assert_int_ge(calls, 1);
    /* no job at all */
    ck_assert_int_eq(restore_pool_run(st, f.jobs, 0, &opt, &res, &err), 0);
    ck_assert_uint_eq(res.files, 0);
    pool_free(&f);
}
END_TEST

START_TEST(test_pool_stops_on_first_error)
{
    PoolFixture f;
    pool_make(&f, 50, 2000);
    fx_flip_bit(root, f.e[3].object, 0); /* zstd frame magic: corrupt at once */
    RestorePoolOptions opt = {.workers = 1};
    RestorePoolResult res;
    PgpErr err = {0};
    ck_assert_int_eq(restore_pool_run(st, f.jobs, f.n, &opt, &res, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, f.dests[3]));
    ck_assert_uint_eq(res.files, 3);
    for (size_t i = 0; i < f.n; i++)
        ck_assert(exists(f.dests[i]) == (i < 3));
    pool_free(&f);
}
END_TEST

START_TEST(test_pool_parallel_error)
{
    PoolFixture f;
    pool_make(&f, 400, 20000);
    fx_flip_bit(root, f.e[0].object, 0);
    RestorePoolOptions opt = {.workers = 4};
    RestorePoolResult res;
    PgpErr err = {0};
    ck_assert_int_eq(restore_pool_run(st, f.jobs, f.n, &opt, &res, &err), PGP_ERR_CORRUPT);
    ck_assert_uint_lt(res.files, 399);
    ck_assert(!exists(f.dests[0]));
    size_t present = 0;
    for (size_t i = 0; i < f.n; i++)
        present += exists(f.dests[i]);
    ck_assert_uint_eq(present, res.files);
    pool_free(&f);
}
END_TEST

START_TEST(test_pool_cancel)
{
    PoolFixture f;
    pool_make(&f, 10, 100);
    volatile sig_atomic_t cancel = 1;
    RestorePoolOptions opt = {.workers = 2, .cancel = &cancel};
    RestorePoolResult res;
    PgpErr err = {0};
    ck_assert_int_ne(restore_pool_run(st, f.jobs, f.n, &opt, &res, &err), 0);
    ck_assert_uint_eq(res.files, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "interrupted"));
    pool_free(&f);
}
END_TEST

/* ---- selection ---------------------------------------------------------------------------------- */

static BackupManifest *new_manifest(const char *label, uint64_t stop_lsn, int64_t stop_time,
                                    const char *status)
{
    BackupManifest *m = manifest_new();
    ck_assert_ptr_nonnull(m);
    m->label = strdup(label);
    m->status = strdup(status);
    m->compress = strdup("zstd");
    m->system_identifier = SYSID;
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = 1;
    m->start_lsn = stop_lsn - 0x100;
    m->stop_lsn = stop_lsn;
    m->start_time = stop_time - 2;
    m->stop_time = stop_time;
    return m;
}

static void save_backup(const char *label, uint64_t stop_lsn, int64_t stop_time, const char *status)
{
    BackupManifest *m = new_manifest(label, stop_lsn, stop_time, status);
    PgpErr err = {0};
    ck_assert_int_eq(manifest_save(st, NULL, label, m, &err), 0);
    manifest_free(m);
}

static void make_incomplete(const char *label)
{
    char p[REPO_PATH_MAX];
    PgpErr err = {0};
    snprintf(p, sizeof p, "backup/%s/backup_manifest.zst", label);
    ck_assert_int_eq(storage_put_all(st, p, 0, "x", 1, &err), 0);
}

START_TEST(test_select_newest)
{
    save_backup("20260103T000000Z", 0x3000000, 1000, "complete");
    save_backup("20260101T000000Z", 0x5000000, 2000, "complete");
    save_backup("20260102T000000Z", 0x5000000, 3000, "complete"); /* same LSN, later */
    make_incomplete("20260104T000000Z");
    save_backup("20260105T000000Z", 0x9000000, 4000, "running");
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, "backup/not a label/x", 0, "x", 1, &err), 0);
    RestoreSelection sel;
    ck_assert_int_eq(restore_select_backup(st, NULL, NULL, &sel, &err), 0);
    ck_assert_str_eq(sel.manifest->label, "20260102T000000Z");
    ck_assert_uint_eq(sel.n_complete, 3);
    ck_assert_uint_eq(sel.n_incomplete, 2);
    ck_assert_ptr_nonnull(strstr(sel.why, "newest of 3 complete backups"));
    manifest_free(sel.manifest);

    ck_assert_int_eq(restore_select_backup(st, NULL, "20260103T000000Z", &sel, &err), 0);
    ck_assert_str_eq(sel.manifest->label, "20260103T000000Z");
    ck_assert_str_eq(sel.why, "requested with --backup");
    manifest_free(sel.manifest);

    ck_assert_int_eq(restore_select_backup(st, NULL, "20260104T000000Z", &sel, &err),
                     PGP_ERR_NOT_FOUND);
    ck_assert_ptr_null(sel.manifest);
    ck_assert_ptr_nonnull(strstr(err.msg, "incomplete"));
    ck_assert_ptr_nonnull(strstr(err.hint, "20260102T000000Z"));
    ck_assert_ptr_nonnull(strstr(err.hint, "20260101T000000Z"));
    ck_assert_ptr_nonnull(strstr(err.hint, "20260103T000000Z"));
    ck_assert_ptr_null(strstr(err.hint, "20260104T000000Z"));

    ck_assert_int_eq(restore_select_backup(st, NULL, "20260105T000000Z", &sel, &err),
                     PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "not complete"));
    ck_assert_int_eq(restore_select_backup(st, NULL, "nope", &sel, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not exist"));
}
END_TEST

START_TEST(test_select_none_and_corrupt)
{
    PgpErr err = {0};
    RestoreSelection sel;
    ck_assert_int_eq(restore_select_backup(st, NULL, NULL, &sel, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.hint, "pgpitr backup"));
    make_incomplete("B1");
    ck_assert_int_eq(restore_select_backup(st, NULL, NULL, &sel, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "1 incomplete"));
    ck_assert_int_eq(restore_select_backup(st, NULL, "B1", &sel, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.hint, "pgpitr backup"));

    /* An unreadable manifest stops selection instead of falling back to an older backup. */
    save_backup("B0", 0x1000000, 100, "complete");
    ck_assert_int_eq(storage_put_all(st, "backup/B2/manifest.json", 0, "{garbage", 8, &err), 0);
    ck_assert_int_eq(restore_select_backup(st, NULL, NULL, &sel, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "B2"));
    ck_assert_ptr_null(sel.manifest);
}
END_TEST

/* ---- the command on a fabricated repository ------------------------------------------------- */

static char pgdata[512], tsloc[512];

static void add_file(BackupManifest *m, const char *path, uint32_t ts, const char *content)
{
    ManifestEntry e;
    put_object(content, strlen(content), PIPE_CODEC_ZSTD, path, &e);
    e.tablespace = ts;
    e.mode = 0600;
    PgpErr err = {0};
    ck_assert_int_eq(manifest_add_entry(m, &e, &err), 0);
    entry_clear(&e);
}

static void add_other(BackupManifest *m, const char *path, uint32_t ts, const char *link)
{
    ManifestEntry e = {.path = (char *)path, .tablespace = ts, .mode = link ? 0777 : 0700,
                       .type = link ? MANIFEST_SYMLINK : MANIFEST_DIR, .mtime = MTIME,
                       .link_target = (char *)link};
    PgpErr err = {0};
    ck_assert_int_eq(manifest_add_entry(m, &e, &err), 0);
}

/* An archived WAL segment object (content irrelevant: restore's validation lists names). */
static void put_wal(const char *name)
{
    uint8_t digest[PIPE_SHA256_LEN];
    char hex[PIPE_SHA256_HEX_LEN + 1], path[REPO_PATH_MAX];
    ck_assert_int_eq(pipe_sha256_buf(name, strlen(name), digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    repo_archive_object_path(name, hex, PIPE_CODEC_NONE, path, NULL);
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(st, path, 0, name, strlen(name), &err), 0);
}

/* A bound repository with one backup "B1" of a tiny cluster with tablespace 16385, and its
 * WAL (segment 5 of timeline 1) archived. */
static void fabricate(bool corrupt)
{
    PgpErr err = {0};
    Repo *repo = NULL;
    ck_assert_int_eq(repo_open(st, &repo, &err), 0);
    RepoIdentity id = {.system_identifier = SYSID, .pg_major = 15, .wal_segsize = 16u << 20};
    ck_assert_int_eq(repo_bind(repo, &id, &err), 0);
    repo_free(repo);
    snprintf(pgdata, sizeof pgdata, "%s/new/data", tdir);
    snprintf(tsloc, sizeof tsloc, "%s/ts1", tdir);
    BackupManifest *m = new_manifest("B1", 0x5000100, 1795316107, "complete");
    ck_assert_int_eq(manifest_add_tablespace(m, 16385, tsloc, &err), 0);
    static const char *const dirs[] = {"global", "base", "base/1", "pg_wal", "pg_tblspc",
                                       "pg_logical"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        add_other(m, dirs[i], 0, NULL);
    add_other(m, "pg_tblspc/16385", 0, tsloc);
    add_other(m, "pg_logical/link", 0, "../base");
    add_file(m, "PG_VERSION", 0, "15\n");
    add_file(m, "global/pg_control", 0, "control");
    add_file(m, "base/1/1259", 0, corrupt ? "to be corrupted" : "relation");
    add_file(m, "postgresql.auto.conf", 0, "# auto\nwork_mem = '8MB'");
    add_other(m, "PG_15_202209061", 16385, NULL);
    add_other(m, "PG_15_202209061/1", 16385, NULL);
    add_file(m, "PG_15_202209061/1/16386", 16385, "in tablespace");
    ManifestEntry pm;
    put_object("{\"PostgreSQL-Backup-Manifest-Version\": 1}\n", 42, PIPE_CODEC_ZSTD, "pm", &pm);
    m->pg_manifest_object = strdup(pm.object);
    entry_clear(&pm);
    if (corrupt)
        for (size_t i = 0; i < m->n_entries; i++)
            if (strcmp(m->entries[i].path, "base/1/1259") == 0)
                fx_flip_bit(root, m->entries[i].object, 0);
    ck_assert_int_eq(manifest_save(st, NULL, "B1", m, &err), 0);
    manifest_free(m);
    put_wal("000000010000000000000005");
}

static int run_restore2(const char *target, const char *extra, const char *extra2, PgpErr *err)
{
    char *argv[] = {"restore", "--pgdata", (char *)target, "--jobs", "2",
                    (char *)extra, (char *)extra2, NULL};
    int argc = extra == NULL ? 5 : extra2 == NULL ? 6 : 7;
    CmdGlobal g = {.repo = root};
    setenv("PGPITR_CONFIG", "/dev/null", 1);
    ck_assert_ptr_nonnull(freopen("/dev/null", "w", stdout)); /* the command's report */
    return cmd_restore.run(&g, argc, argv, err);
}

static int run_restore(const char *target, const char *extra, PgpErr *err)
{
    return run_restore2(target, extra, NULL, err);
}

/* dir/rel in one of four rotating static buffers */
static const char *at(const char *dir, const char *rel)
{
    static char bufs[4][1024];
    static int next;
    char *p = bufs[next++ % 4];
    snprintf(p, sizeof bufs[0], "%s/%s", dir, rel);
    return p;
}

static void check_link(const char *p, const char *target)
{
    char link[512];
    ssize_t n = readlink(p, link, sizeof link - 1);
    ck_assert_int_gt(n, 0);
    link[n] = '\0';
    ck_assert_str_eq(link, target);
}

START_TEST(test_cmd_restore)
{
    fabricate(false);
    PgpErr err = {0};
    ck_assert_int_eq(run_restore(pgdata, NULL, &err), 0);
    check_file(at(pgdata, "global/pg_control"), "control", 7);
    check_file(at(tsloc, "PG_15_202209061/1/16386"), "in tablespace", 13);
    check_link(at(pgdata, "pg_tblspc/16385"), tsloc);
    check_link(at(pgdata, "pg_logical/link"), "../base");
    check_file(at(pgdata, "backup_manifest"), "{\"PostgreSQL-Backup-Manifest-Version\": 1}\n", 42);
    check_file(at(pgdata, "recovery.signal"), "", 0);
    ck_assert(exists(at(pgdata, "pg_wal/archive_status")));
    char buf[4096] = "";
    FILE *f = fopen(at(pgdata, "postgresql.auto.conf"), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_gt(fread(buf, 1, sizeof buf - 1, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "work_mem = '8MB'\n# added by pgpitr restore of backup B1\n"));
    /* no target: all archived WAL, on the timeline that was validated */
    ck_assert_ptr_nonnull(strstr(buf, "recovery_target_xid = ''\nrecovery_target_inclusive = "
                                      "'on'\nrecovery_target_timeline = '1'\n"));
    ck_assert_ptr_nonnull(strstr(buf, "recovery_target = ''\n"));  /* every target emptied */
    ck_assert_ptr_null(strstr(buf, "recovery_target_action"));
    /* a restored copy does not archive (written last: it wins over the backup's settings) */
    ck_assert_ptr_nonnull(strstr(buf, "archive_mode = 'off'\n"));
    ck_assert_ptr_nonnull(strstr(buf, root));
    struct stat sb;
    ck_assert_int_eq(stat(pgdata, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0700);

    /* Again into the same (now non-empty) directory: refused, nothing touched. */
    ck_assert_int_eq(run_restore(pgdata, NULL, &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "not empty"));
    ck_assert(exists(at(pgdata, "global/pg_control")));
}
END_TEST

START_TEST(test_cmd_restore_cleanup)
{
    fabricate(true);
    PgpErr err = {0};
    char parent[512];
    snprintf(parent, sizeof parent, "%s/new", tdir);
    ck_assert_int_eq(run_restore(pgdata, NULL, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "base/1/1259"));
    ck_assert(!exists(parent));   /* created with its parent: both removed */
    ck_assert(!exists(tsloc));

    /* existing empty directories stay, emptied */
    ck_assert_int_eq(mkdir(parent, 0755), 0);
    ck_assert_int_eq(mkdir(pgdata, 0755), 0);
    ck_assert_int_eq(mkdir(tsloc, 0700), 0);
    ck_assert_int_eq(run_restore(pgdata, NULL, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(rmdir(pgdata), 0);
    ck_assert_int_eq(rmdir(tsloc), 0);
}
END_TEST

START_TEST(test_cmd_refusals)
{
    fabricate(false);
    PgpErr err = {0};
    /* a live server's postmaster.pid (this process) */
    mkdir(at(tdir, "new"), 0700);
    mkdir(pgdata, 0700);
    FILE *f = fopen(at(pgdata, "postmaster.pid"), "w");
    fprintf(f, "%ld\n%s\n", (long)getpid(), pgdata);
    fclose(f);
    ck_assert_int_eq(run_restore(pgdata, NULL, &err), PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, "server is running"));
    ck_assert_int_eq(unlink(at(pgdata, "postmaster.pid")), 0);

    /* a non-empty tablespace location: refused before anything is written */
    ck_assert_int_eq(mkdir(tsloc, 0700), 0);
    fclose(fopen(at(tsloc, "junk"), "w"));
    ck_assert_int_eq(run_restore(pgdata, NULL, &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "tablespace 16385"));
    ck_assert_ptr_nonnull(strstr(err.hint, "--tablespace-map 16385=DIR"));
    ck_assert_ptr_null(strstr(err.hint, "--delta"));
    ck_assert(!exists(at(pgdata, "global")));

    ck_assert_int_eq(run_restore(pgdata, "--backup=../x", &err), PGP_ERR_USAGE);
    ck_assert_int_eq(run_restore(pgdata, "--target-time=2026-11-22 03:15:07", &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "no UTC offset"));
    ck_assert_int_eq(run_restore(pgdata, "--target-exclusive", &err), PGP_ERR_USAGE);
    ck_assert_int_eq(run_restore(pgdata, "--target-action=pause", &err), PGP_ERR_USAGE);
    ck_assert_int_eq(run_restore(pgdata, "--tablespace-map=16385", &err), PGP_ERR_USAGE);
    ck_assert_int_eq(run_restore(pgdata, "--tablespace-map=ts=/x", &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.hint, "16385"));
    ck_assert(!exists(at(pgdata, "global")));
    ck_assert_int_eq(run_restore(pgdata, "--backup=B9", &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.hint, "B1"));
}
END_TEST

/* --delta: which existing directories it restores over, and what a refusal leaves. */
START_TEST(test_cmd_delta_rules)
{
    fabricate(false);
    PgpErr err = {0};
    char parent[512];
    snprintf(parent, sizeof parent, "%s/new", tdir);

    /* a tablespace location with content the target does not link: refused, and the data
     * directory made for the attempt is gone again */
    ck_assert_int_eq(mkdir(tsloc, 0700), 0);
    fclose(fopen(at(tsloc, "PG_16_other"), "w"));
    ck_assert_int_eq(run_restore(pgdata, "--delta", &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "not the target's own"));
    ck_assert_ptr_nonnull(strstr(err.hint, "--tablespace-map 16385=DIR"));
    ck_assert(!exists(parent));
    ck_assert(exists(at(tsloc, "PG_16_other")));

    /* a non-empty directory that is no data directory: --delta would empty it */
    ck_assert_int_eq(mkdir(parent, 0700), 0);
    ck_assert_int_eq(mkdir(pgdata, 0700), 0);
    fclose(fopen(at(pgdata, "notes.txt"), "w"));
    ck_assert_int_eq(run_restore(pgdata, "--delta", &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not look like a PostgreSQL data directory"));
    ck_assert(exists(at(pgdata, "notes.txt")));
    ck_assert_int_eq(run_restore(pgdata, NULL, &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "is not empty"));
    ck_assert_ptr_null(strstr(err.hint, "--delta")); /* it does not look like one either */

    /* a data directory linking the location: --delta restores over both; the other
     * cluster's version directory stays */
    fclose(fopen(at(pgdata, "PG_VERSION"), "w"));
    ck_assert_int_eq(mkdir(at(pgdata, "pg_tblspc"), 0700), 0);
    ck_assert_int_eq(symlink(tsloc, at(pgdata, "pg_tblspc/16385")), 0);
    /* symlinks in the target are removed, never followed: not even to drop pg_control */
    char outside[512];
    snprintf(outside, sizeof outside, "%s/outside", tdir);
    ck_assert_int_eq(mkdir(outside, 0700), 0);
    fclose(fopen(at(outside, "pg_control"), "w"));
    ck_assert_int_eq(symlink(outside, at(pgdata, "global")), 0);
    ck_assert_int_eq(run_restore(pgdata, "--delta", &err), 0);
    ck_assert(exists(at(outside, "pg_control")));
    struct stat sb;
    ck_assert_int_eq(lstat(at(pgdata, "global"), &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    check_file(at(tsloc, "PG_15_202209061/1/16386"), "in tablespace", 13);
    ck_assert(exists(at(tsloc, "PG_16_other")));
    ck_assert(!exists(at(pgdata, "notes.txt")));
    check_file(at(pgdata, "global/pg_control"), "control", 7);

    /* --tablespace-map names a location with content: the DBA chose it */
    char moved[512], map[600];
    snprintf(moved, sizeof moved, "%s/moved", tdir);
    ck_assert_int_eq(mkdir(moved, 0700), 0);
    fclose(fopen(at(moved, "PG_16_other"), "w"));
    snprintf(map, sizeof map, "--tablespace-map=16385=%s", moved);
    ck_assert_int_eq(run_restore2(pgdata, map, NULL, &err), PGP_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.hint, "--delta"));
    ck_assert_int_eq(run_restore2(pgdata, "--delta", map, &err), 0);
    check_file(at(moved, "PG_15_202209061/1/16386"), "in tablespace", 13);
    check_link(at(pgdata, "pg_tblspc/16385"), moved);

    /* the target locked by someone else (here: this process, through another lock) */
    RestoreLocks held = {0};
    ck_assert_int_eq(restore_lock_dir(&held, pgdata, "target directory", &err), 0);
    ck_assert_int_eq(run_restore2(pgdata, "--delta", map, &err), PGP_ERR_LOCKED);
    ck_assert_ptr_nonnull(strstr(err.msg, "is locked by another process"));
    check_file(at(pgdata, "global/pg_control"), "control", 7);
    restore_locks_release(&held);
}
END_TEST

static TCase *new_case(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *suite_restore_files(void)
{
    Suite *s = suite_create("restore_files");
    TCase *tc = new_case(s, "file");
    tcase_add_test(tc, test_good_object);
    tcase_add_test(tc, test_empty_file_and_progress);
    tcase_add_test(tc, test_checksum_mismatch);
    tcase_add_test(tc, test_wrong_size);
    tcase_add_test(tc, test_corrupt_or_truncated_object);
    tcase_add_test(tc, test_missing_object_bad_ext_existing_dest);
    tc = new_case(s, "pool");
    tcase_add_test(tc, test_pool_all);
    tcase_add_test(tc, test_pool_stops_on_first_error);
    tcase_add_test(tc, test_pool_parallel_error);
    tcase_add_test(tc, test_pool_cancel);
    tc = new_case(s, "command");
    tcase_add_test(tc, test_select_newest);
    tcase_add_test(tc, test_select_none_and_corrupt);
    tcase_add_test(tc, test_cmd_restore);
    tcase_add_test(tc, test_cmd_restore_cleanup);
    tcase_add_test(tc, test_cmd_refusals);
    tcase_add_test(tc, test_cmd_delta_rules);
    return s;
}
