/*
 * fx_repo.c - fabricated repositories for unit tests (fx_repo.h).
 */
#include "fx_repo.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pgpitr/pipe/pipe.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/repo/object_io.h"

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

void fx_repo_init(FxRepo *fx, const char *name)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->tdir, sizeof fx->tdir, "/tmp/pgpitr_fx_%s.XXXXXX", name);
    ck_assert_ptr_nonnull(mkdtemp(fx->tdir));
    snprintf(fx->root, sizeof fx->root, "%s/repo", fx->tdir);
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(fx->root, true, &fx->st, &err), 0);
    ck_assert_int_eq(repo_open(fx->st, &fx->repo, &err), 0);
    RepoIdentity id = {.system_identifier = FX_SYSID, .pg_major = 15, .wal_segsize = FX_SEGSIZE};
    ck_assert_int_eq(repo_bind(fx->repo, &id, &err), 0);
}

void fx_repo_free(FxRepo *fx)
{
    repo_free(fx->repo);
    storage_free(fx->st);
    if (fx->tdir[0] != '\0')
        nftw(fx->tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    memset(fx, 0, sizeof *fx);
}

void fx_set_mtime(FxRepo *fx, const char *path, int64_t t)
{
    char full[512];
    snprintf(full, sizeof full, "%s/%s", fx->root, path);
    struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
    ck_assert_int_eq(utimensat(AT_FDCWD, full, ts, 0), 0);
}

static void wal_path(uint32_t tli, uint64_t segno, const char *seed, char path[REPO_PATH_MAX])
{
    char name[PG_WALNAME_SEG_LEN + 1], hex[PIPE_SHA256_HEX_LEN + 1];
    uint8_t digest[PIPE_SHA256_LEN];
    pg_walname_format(tli, segno, FX_SEGSIZE, name);
    const char *s = seed != NULL ? seed : name;
    ck_assert_int_eq(pipe_sha256_buf(s, strlen(s), digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    repo_archive_object_path(name, hex, PIPE_CODEC_ZSTD, path, NULL);
}

void fx_put_wal(FxRepo *fx, uint32_t tli, uint64_t segno, const char *seed, int64_t t,
                char out[REPO_PATH_MAX])
{
    char path[REPO_PATH_MAX];
    wal_path(tli, segno, seed, path);
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(fx->st, path, 0, "x", 1, &err), 0);
    fx_set_mtime(fx, path, t);
    if (out != NULL)
        memcpy(out, path, REPO_PATH_MAX);
}

void fx_remove_wal(FxRepo *fx, uint32_t tli, uint64_t segno)
{
    char path[REPO_PATH_MAX];
    wal_path(tli, segno, NULL, path);
    PgpErr err = {0};
    ck_assert_int_eq(storage_remove(fx->st, path, &err), 0);
}

static void put_history(FxRepo *fx, uint32_t tli, const char *text, char path[REPO_PATH_MAX])
{
    char name[32], hex[PIPE_SHA256_HEX_LEN + 1];
    uint8_t digest[PIPE_SHA256_LEN];
    snprintf(name, sizeof name, "%08X.history", (unsigned)tli);
    ck_assert_int_eq(pipe_sha256_buf(text, strlen(text), digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    repo_archive_object_path(name, hex, PIPE_CODEC_NONE, path, NULL);
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(fx->st, path, 0, text, strlen(text), &err), 0);
}

void fx_put_history(FxRepo *fx, uint32_t tli, const char *text)
{
    char path[REPO_PATH_MAX];
    put_history(fx, tli, text, path);
}

void fx_put_history_at(FxRepo *fx, uint32_t tli, const char *text, int64_t t)
{
    char path[REPO_PATH_MAX];
    put_history(fx, tli, text, path);
    fx_set_mtime(fx, path, t);
}

void fx_put_object(FxRepo *fx, const char *content, char path[REPO_PATH_MAX])
{
    char hex[PIPE_SHA256_HEX_LEN + 1];
    uint8_t digest[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(content, strlen(content), digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    repo_object_path(hex, PIPE_CODEC_NONE, path, NULL);
    fx_put_raw(fx, path, content);
}

void fx_put_raw(FxRepo *fx, const char *path, const char *content)
{
    PgpErr err = {0};
    ck_assert_int_eq(storage_put_all(fx->st, path, 0, content, strlen(content), &err), 0);
}

typedef struct FxBuf {
    char *p;
    size_t len;
} FxBuf;

static int fx_buf_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    (void)err;
    FxBuf *b = ud;
    char *np = realloc(b->p, b->len + len + 1);
    ck_assert_ptr_nonnull(np);
    memcpy(np + b->len, buf, len);
    b->p = np;
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

int fx_read_object_with(FxRepo *fx, const char *path, const ObjectReadOptions *opt, char **out,
                        size_t *len, PgpErr *err)
{
    FxBuf b = {calloc(1, 1), 0};
    ck_assert_ptr_nonnull(b.p);
    ObjectReadResult res;
    int rc = object_io_read_verify(fx->st, path, opt, (PipeSink){fx_buf_write, &b}, &res, err);
    *out = b.p;
    if (len != NULL)
        *len = b.len;
    return rc;
}

char *fx_read_object(FxRepo *fx, const char *path, PipeCodec codec, const char *expect_sha256,
                     size_t *len)
{
    ObjectReadOptions opt = {.codec = codec, .expect_sha256 = expect_sha256};
    char *text = NULL;
    PgpErr err = {0};
    int rc = fx_read_object_with(fx, path, &opt, &text, len, &err);
    ck_assert_msg(rc == 0, "reading \"%s\": %s", path, err.msg);
    return text;
}

bool fx_exists(FxRepo *fx, const char *path)
{
    char full[512];
    struct stat sb;
    snprintf(full, sizeof full, "%s/%s", fx->root, path);
    return lstat(full, &sb) == 0;
}

/* The sha256 of an object named by its content address, else a fixed fake one. */
static void entry_sha(const char *object, char sha[65])
{
    const char *base = strrchr(object, '/');
    base = base != NULL ? base + 1 : object;
    if (strspn(base, "0123456789abcdef") >= 64)
        memcpy(sha, base, 64);
    else
        memset(sha, 'a', 64);
    sha[64] = '\0';
}

BackupManifest *fx_manifest(const char *label, uint32_t tli, uint64_t start_lsn,
                            uint64_t stop_lsn, int64_t stop_time)
{
    BackupManifest *m = manifest_new();
    ck_assert_ptr_nonnull(m);
    m->label = strdup(label);
    m->status = strdup("complete");
    m->compress = strdup("zstd");
    m->system_identifier = FX_SYSID;
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = tli;
    m->start_lsn = start_lsn;
    m->stop_lsn = stop_lsn;
    m->start_time = stop_time - 2;
    m->stop_time = stop_time;
    return m;
}

void fx_save_backup_objects(FxRepo *fx, const char *label, uint32_t tli, uint64_t start_lsn,
                            uint64_t stop_lsn, int64_t stop_time, const char *const *objects,
                            size_t n, const char *pg_manifest)
{
    BackupManifest *m = fx_manifest(label, tli, start_lsn, stop_lsn, stop_time);
    if (pg_manifest != NULL)
        m->pg_manifest_object = strdup(pg_manifest);
    PgpErr err = {0};
    for (size_t i = 0; i < n; i++) {
        char path[16];
        snprintf(path, sizeof path, i == 0 ? "PG_VERSION" : "f%zu", i);
        ManifestEntry e = {.path = path, .type = MANIFEST_FILE, .size = 3, .mode = 0600,
                           .mtime = FX_T0, .object = (char *)objects[i], .stored_size = 3};
        entry_sha(objects[i], e.sha256);
        ck_assert_int_eq(manifest_add_entry(m, &e, &err), 0);
    }
    ck_assert_int_eq(manifest_save(fx->st, NULL, label, m, &err), 0);
    manifest_free(m);
}

void fx_save_backup(FxRepo *fx, const char *label, uint32_t tli, uint64_t start_lsn,
                    uint64_t stop_lsn, int64_t stop_time, const char *object)
{
    fx_save_backup_objects(fx, label, tli, start_lsn, stop_lsn, stop_time, &object,
                           object != NULL ? 1 : 0, NULL);
}

/* ---- a storage that fails on purpose --------------------------------------------------- */

typedef struct FailDrv {
    Storage *inner;
    FxFailStep step;
} FailDrv;

typedef struct FailWriter {
    StorageWriter base;     /* first: the vtable storage.c calls */
    StorageWriter *inner;
    FxFailStep step;
} FailWriter;

static int fw_write(StorageWriter *w, const void *buf, size_t len, PgpErr *err)
{
    FailWriter *f = (FailWriter *)w;
    if (f->step == FX_FAIL_WRITE)
        return PGP_FAIL(err, PGP_ERR_NO_SPACE, "fx: no space left on device");
    return storage_write(f->inner, buf, len, err);
}

static int fw_commit(StorageWriter *w, PgpErr *err)
{
    FailWriter *f = (FailWriter *)w;
    StorageWriter *inner = f->inner;
    FxFailStep step = f->step;
    free(f);
    if (step == FX_FAIL_COMMIT) {
        storage_writer_abort(inner);
        return PGP_FAIL(err, PGP_ERR_IO, "fx: commit failed");
    }
    return storage_writer_commit(inner, err);
}

static int fw_set_final_name(StorageWriter *w, const char *name, const char *path, PgpErr *err)
{
    FailWriter *f = (FailWriter *)w;
    return f->inner->set_final_name(f->inner, name, path, err);
}

static void fw_abort(StorageWriter *w)
{
    FailWriter *f = (FailWriter *)w;
    storage_writer_abort(f->inner);
    free(f);
}

static int fd_stat(void *drv, const char *path, StorageInfo *out, PgpErr *err)
{
    return storage_stat(((FailDrv *)drv)->inner, path, out, err);
}

static int fd_list(void *drv, const char *dir, StorageListFn fn, void *ud, PgpErr *err)
{
    return storage_list(((FailDrv *)drv)->inner, dir, fn, ud, err);
}

static int fd_open_read(void *drv, const char *path, StorageReader **out, PgpErr *err)
{
    return storage_open_read(((FailDrv *)drv)->inner, path, out, err);
}

static int fd_open_write(void *drv, const char *path, unsigned flags, StorageWriter **out,
                         PgpErr *err)
{
    FailDrv *d = drv;
    *out = NULL;
    if (d->step == FX_FAIL_OPEN)
        return PGP_FAIL(err, PGP_ERR_IO, "fx: cannot create \"%s\"", path);
    FailWriter *f = calloc(1, sizeof *f);
    ck_assert_ptr_nonnull(f);
    int rc = storage_open_write(d->inner, path, flags, &f->inner, err);
    if (rc != 0) {
        free(f);
        return rc;
    }
    f->base = (StorageWriter){fw_write, fw_commit, fw_set_final_name, fw_abort};
    f->step = d->step;
    *out = &f->base;
    return 0;
}

static int fd_remove(void *drv, const char *path, PgpErr *err)
{
    return storage_remove(((FailDrv *)drv)->inner, path, err);
}

static const StorageDriver fail_driver = {
    .name = "fx-fail", .features = STORAGE_FEATURE_PATH | STORAGE_FEATURE_FSYNC,
    .stat = fd_stat, .list = fd_list, .open_read = fd_open_read, .open_write = fd_open_write,
    .remove = fd_remove, .free = free,
};

Storage *fx_fail_storage(FxRepo *fx, FxFailStep step)
{
    FailDrv *d = calloc(1, sizeof *d);
    ck_assert_ptr_nonnull(d);
    d->inner = fx->st;
    d->step = step;
    Storage *s = storage_new(&fail_driver, d);
    ck_assert_ptr_nonnull(s);
    return s;
}

static int temp_count;

static int count_temp(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag;
    if (strncmp(p + ftw->base, ".tmp.", 5) == 0)
        temp_count++;
    return 0;
}

int fx_count_temp(FxRepo *fx)
{
    temp_count = 0;
    ck_assert_int_eq(nftw(fx->root, count_temp, 16, FTW_PHYS), 0);
    return temp_count;
}

static void put_le(uint8_t *b, size_t off, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[off + i] = (uint8_t)(v >> (8 * i));
}

void fx_good_wal_header(VerifyObject *o, uint32_t tli, uint64_t segno, uint64_t sysid)
{
    ck_assert_ptr_nonnull(o->head);   /* the plan gives WAL objects a head */
    memset(o->head, 0, VERIFY_HEAD_LEN);
    put_le(o->head, 0, 0xD110, 2);                 /* PostgreSQL 15 */
    put_le(o->head, 2, 0x0002, 2);                 /* XLP_LONG_HEADER */
    put_le(o->head, 4, tli, 4);
    put_le(o->head, 8, segno * FX_SEGSIZE, 8);
    put_le(o->head, 24, sysid, 8);
    put_le(o->head, 32, FX_SEGSIZE, 4);
    put_le(o->head, 36, 8192, 4);
    o->head_len = 40;
}
