/*
 * storage.c - the generic storage wrapper: owns a driver instance, validates every path
 * before it reaches a driver, and provides the whole-object helpers (get_all/put_all) and
 * batches (a passthrough for drivers without them).
 * It must not know anything about a particular backend (no paths on disk, no sockets).
 */
#include "pgpitr/storage/storage.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct Storage {
    const StorageDriver *vt;
    void *drv;
};

/* Prefix of temporary names: such an object would be invisible to list, so refuse it. */
#define STORAGE_TMP_PREFIX ".tmp."

Storage *storage_new(const StorageDriver *vt, void *drv)
{
    assert(vt != NULL);
    Storage *s = malloc(sizeof *s);
    if (s == NULL) {
        /* We own drv even when we cannot wrap it. */
        if (vt->free != NULL)
            vt->free(drv);
        return NULL;
    }
    s->vt = vt;
    s->drv = drv;
    return s;
}

void storage_free(Storage *s)
{
    if (s == NULL)
        return;
    if (s->vt->free != NULL)
        s->vt->free(s->drv);
    free(s);
}

unsigned storage_features(const Storage *s)
{
    return s->vt->features;
}

const char *storage_driver_name(const Storage *s)
{
    return s->vt->name;
}

bool storage_path_valid(const char *path)
{
    if (path == NULL || path[0] == '\0' || path[0] == '/')
        return false;
    const char *seg = path;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end != NULL ? (size_t)(end - seg) : strlen(seg);
        if (n == 0)                                     /* "a//b" or trailing "/" */
            return false;
        if (seg[0] == '.' && (n == 1 || (n == 2 && seg[1] == '.')))
            return false;
        if (end == NULL)
            return true;
        seg = end + 1;
    }
}

/* Why check lengths here and not let the driver fail: a posix write would first create the
 * directories that fit and only then fail, and another backend could cut the name. */
static int check_length(const char *path, PgpErr *err)
{
    size_t len = strlen(path);
    if (len > STORAGE_PATH_MAX)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME,
                        "storage path too long (%zu bytes, at most %d): \"%.64s...\"", len,
                        STORAGE_PATH_MAX, path);
    for (const char *seg = path; *seg != '\0';) {
        size_t n = strcspn(seg, "/");
        if (n > STORAGE_NAME_MAX)
            return PGP_FAIL(err, PGP_ERR_INVALID_NAME,
                            "storage path has a name too long (%zu bytes, at most %d): "
                            "\"%.64s...\"", n, STORAGE_NAME_MAX, seg);
        seg += n + (seg[n] == '/');
    }
    return 0;
}

static int check_path(const char *path, PgpErr *err)
{
    if (!storage_path_valid(path))
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "invalid storage path \"%s\"",
                        path != NULL ? path : "(null)");
    return check_length(path, err);
}

/* A writer's final name must not look like a temp file: list would never show it. */
static int check_write_path(const char *path, PgpErr *err)
{
    int rc = check_path(path, err);
    if (rc != 0)
        return rc;
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    if (strncmp(base, STORAGE_TMP_PREFIX, strlen(STORAGE_TMP_PREFIX)) == 0)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME,
                        "invalid storage path \"%s\": names starting with \"%s\" are reserved "
                        "for temporary files", path, STORAGE_TMP_PREFIX);
    return 0;
}

int storage_stat(Storage *s, const char *path, StorageInfo *out, PgpErr *err)
{
    int rc = check_path(path, err);
    if (rc != 0)
        return rc;
    return s->vt->stat(s->drv, path, out, err);
}

int storage_list(Storage *s, const char *dir, StorageListFn fn, void *ud, PgpErr *err)
{
    int rc = check_path(dir, err);
    if (rc != 0)
        return rc;
    return s->vt->list(s->drv, dir, fn, ud, err);
}

typedef struct PrefixFilter {
    const char *prefix;
    size_t len;
    StorageListFn fn;
    void *ud;
} PrefixFilter;

static int on_prefixed(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    PrefixFilter *f = ud;
    return strncmp(name, f->prefix, f->len) == 0 ? f->fn(f->ud, name, info, err) : 0;
}

int storage_list_prefix(Storage *s, const char *dir, const char *prefix, StorageListFn fn,
                        void *ud, PgpErr *err)
{
    int rc = check_path(dir, err);
    if (rc != 0)
        return rc;
    if (prefix[0] == '\0' || strchr(prefix, '/') != NULL)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "invalid name prefix \"%s\"", prefix);
    if (s->vt->list_prefix != NULL)
        return s->vt->list_prefix(s->drv, dir, prefix, fn, ud, err);
    PrefixFilter f = {.prefix = prefix, .len = strlen(prefix), .fn = fn, .ud = ud};
    return s->vt->list(s->drv, dir, on_prefixed, &f, err);
}

int storage_open_read(Storage *s, const char *path, StorageReader **out, PgpErr *err)
{
    *out = NULL;
    int rc = check_path(path, err);
    if (rc != 0)
        return rc;
    return s->vt->open_read(s->drv, path, out, err);
}

int storage_open_write(Storage *s, const char *path, unsigned flags, StorageWriter **out,
                       PgpErr *err)
{
    *out = NULL;
    int rc = check_write_path(path, err);
    if (rc != 0)
        return rc;
    return s->vt->open_write(s->drv, path, flags, out, err);
}

int storage_remove(Storage *s, const char *path, PgpErr *err)
{
    int rc = check_path(path, err);
    if (rc != 0)
        return rc;
    return s->vt->remove(s->drv, path, err);
}

int storage_remove_objects(Storage *s, const char *const *paths, size_t n, PgpErr *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = check_path(paths[i], err);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < n;) {
        size_t batch = n - i < STORAGE_REMOVE_BATCH ? n - i : STORAGE_REMOVE_BATCH;
        int rc = 0;
        if (s->vt->remove_objects != NULL) {
            rc = s->vt->remove_objects(s->drv, paths + i, batch, err);
        } else {
            for (size_t j = i; rc == 0 && j < i + batch; j++) {
                rc = s->vt->remove(s->drv, paths[j], err);
                if (rc == PGP_ERR_NOT_FOUND) {
                    pgp_err_clear(err);
                    rc = 0;
                }
            }
        }
        if (rc != 0)
            return rc;
        i += batch;
    }
    return 0;
}

bool storage_has_list_tree(const Storage *s)
{
    return s->vt->list_tree != NULL;
}

int storage_list_tree(Storage *s, const char *dir, StorageListFn fn, void *ud, PgpErr *err)
{
    int rc = check_path(dir, err);
    if (rc == 0 && s->vt->list_tree == NULL)
        rc = PGP_FAIL(err, PGP_ERR_INTERNAL, "storage driver %s cannot list a tree",
                      s->vt->name);
    return rc != 0 ? rc : s->vt->list_tree(s->drv, dir, fn, ud, err);
}

int storage_list_uploads(Storage *s, StorageUploadFn fn, void *ud, PgpErr *err)
{
    return s->vt->list_uploads != NULL ? s->vt->list_uploads(s->drv, fn, ud, err) : 0;
}

int storage_abort_upload(Storage *s, const char *path, const char *upload_id, PgpErr *err)
{
    int rc = check_path(path, err);
    if (rc == 0 && s->vt->abort_upload == NULL)
        rc = PGP_FAIL(err, PGP_ERR_INTERNAL, "storage driver %s has no uploads", s->vt->name);
    return rc != 0 ? rc : s->vt->abort_upload(s->drv, path, upload_id, err);
}

int storage_read(StorageReader *r, void *buf, size_t len, size_t *got, PgpErr *err)
{
    return r->read(r, buf, len, got, err);
}

void storage_reader_close(StorageReader *r)
{
    if (r != NULL)
        r->close(r);
}

/* ---- batches: the driver's, or a passthrough that commits each writer at once ---------- */

struct StorageBatch {
    Storage *s;
    void *drv_batch;    /* NULL: the driver has no batches */
};

int storage_batch_new(Storage *s, const char *dir, const StorageBatchLimits *lim,
                      StorageBatch **out, PgpErr *err)
{
    *out = NULL;
    int rc = check_path(dir, err);
    if (rc != 0)
        return rc;
    StorageBatch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    b->s = s;
    if (s->vt->batch_new != NULL && (rc = s->vt->batch_new(s->drv, dir, lim, &b->drv_batch,
                                                             err)) != 0) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

bool storage_batch_holds(StorageBatch *b, const char *path, uint64_t *size)
{
    return b != NULL && b->drv_batch != NULL &&
           b->s->vt->batch_holds(b->drv_batch, path, size);
}

bool storage_batch_deferred(const StorageBatch *b)
{
    return b != NULL && b->drv_batch != NULL;
}

int storage_batch_open_write(StorageBatch *b, const char *path, unsigned flags,
                             StorageWriter **out, PgpErr *err)
{
    *out = NULL;
    if (b->drv_batch == NULL)
        return storage_open_write(b->s, path, flags, out, err);
    int rc = check_write_path(path, err);
    if (rc != 0)
        return rc;
    return b->s->vt->batch_open_write(b->drv_batch, path, flags, out, err);
}

int storage_batch_flush(StorageBatch *b, PgpErr *err)
{
    return b->drv_batch != NULL ? b->s->vt->batch_flush(b->drv_batch, err) : 0;
}

void storage_batch_free(StorageBatch *b)
{
    if (b == NULL)
        return;
    if (b->drv_batch != NULL)
        b->s->vt->batch_free(b->drv_batch);
    free(b);
}

int storage_write(StorageWriter *w, const void *buf, size_t len, PgpErr *err)
{
    return w->write(w, buf, len, err);
}

int storage_writer_commit(StorageWriter *w, PgpErr *err)
{
    if (w == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "commit of a null storage writer");
    return w->commit(w, err);
}

int storage_writer_commit_as(StorageWriter *w, const char *path, PgpErr *err)
{
    if (w == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "commit of a null storage writer");
    const char *slash = strrchr(path, '/');
    int rc = check_path(path, err);
    if (rc == 0)
        rc = w->set_final_name(w, slash ? slash + 1 : path, path, err);
    if (rc != 0) {
        w->abort(w);
        return rc;
    }
    return w->commit(w, err);
}

void storage_writer_abort(StorageWriter *w)
{
    if (w != NULL)
        w->abort(w);
}

int storage_get_all(Storage *s, const char *path, size_t max_len, char **out, size_t *len,
                    PgpErr *err)
{
    *out = NULL;
    *len = 0;
    StorageReader *r = NULL;
    char *buf = NULL;
    size_t used = 0, cap = 0;
    /* Read at most max_len + 1 bytes: one byte more than allowed proves "too large". */
    size_t limit = max_len < SIZE_MAX - 1 ? max_len + 1 : SIZE_MAX - 1;
    int rc = storage_open_read(s, path, &r, err);
    if (rc != 0)
        goto out;
    for (;;) {
        if (used == cap) {
            if (cap >= limit)
                break;
            size_t ncap = cap == 0 ? 4096 : cap * 2;
            if (ncap < cap || ncap > limit)
                ncap = limit;
            char *nbuf = realloc(buf, ncap + 1);            /* + 1 for the NUL */
            if (nbuf == NULL) {
                rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory reading \"%s\"", path);
                goto out;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = 0;
        rc = storage_read(r, buf + used, cap - used, &got, err);
        if (rc != 0)
            goto out;
        if (got == 0)
            break;
        used += got;
    }
    if (used > max_len) {
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" is too large (more than %zu bytes)", path,
                      max_len);
        goto out;
    }
    if (buf == NULL && (buf = malloc(1)) == NULL) {
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory reading \"%s\"", path);
        goto out;
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    buf = NULL;
out:
    free(buf);
    storage_reader_close(r);
    return rc;
}

int storage_put_all(Storage *s, const char *path, unsigned flags, const void *buf, size_t len,
                    PgpErr *err)
{
    StorageWriter *w = NULL;
    int rc = storage_open_write(s, path, flags, &w, err);
    if (rc != 0)
        return rc;
    rc = storage_write(w, buf, len, err);
    if (rc != 0) {
        storage_writer_abort(w);
        return rc;
    }
    return storage_writer_commit(w, err);
}
