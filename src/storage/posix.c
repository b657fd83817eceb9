/*
 * posix.c - the posix storage driver: repository objects are files below a root directory.
 *
 * Owns the durability rules of a local repository: a write goes to a temp file in the same
 * directory as its final name, is fsync'ed, published with one rename (RENAME_NOREPLACE
 * unless the caller asked to replace, link()+unlink() where the filesystem lacks it) and
 * made durable with an fsync of the directory. Directories created on the way are made
 * durable too. Batched commits (many objects made durable at once) are posix_batch.c's. It must not know about repository layout, compression or checksums.
 *
 * Paths reaching this file were validated by storage.c (relative, no "."/".." segments).
 * Every error message quotes the full filesystem path so an operator can find the file.
 */
#include "pgpitr/storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "pgpitr/common/grow.h"

#include "posix_internal.h"

typedef struct PosixReader {
    StorageReader base;
    int fd;
    char *path;
} PosixReader;

/* ---- small helpers ------------------------------------------------------------------ */

char *posix_join(const char *root, const char *rel)
{
    char *p = NULL;
    if (strcmp(root, "/") == 0)
        root = "";
    if (asprintf(&p, "%s/%s", root, rel) < 0)
        return NULL;
    return p;
}

int posix_nomem(PgpErr *err)
{
    return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
}

int posix_fsync(int fd)
{
    int r;
    do
        r = fsync(fd);
    while (r < 0 && errno == EINTR);
    return r;
}

/* fsync the directory at path (whose entries just changed). */
static int fsync_dir_path(const char *path, PgpErr *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return PGP_FAIL_PATH(err, errno, path, "cannot open directory \"%s\"", path);
    if (posix_fsync(fd) < 0) {
        int e = errno;
        close(fd);
        return PGP_FAIL_SYS(err, e, "cannot fsync directory \"%s\"", path);
    }
    close(fd);
    return 0;
}

/*
 * Create every directory of `path` (mode 0750) below its first `skip` bytes, which are known
 * to exist; if `durable`, fsync the parent of each directory created so its entry survives a
 * crash (a batch's flush instead makes them durable with its syncfs after the renames).
 */
static int mkdirs(const char *path, size_t skip, bool durable, PgpErr *err)
{
    char *buf = strdup(path);
    if (buf == NULL)
        return posix_nomem(err);
    int rc = 0;
    size_t len = strlen(buf);
    for (size_t i = skip + 1; i <= len && rc == 0; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i - 1] == '/')                  /* "//" in a user-given root */
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, DIR_MODE) == 0) {
            char *slash = strrchr(buf, '/');
            if (!durable) {
                /* the caller makes it durable */
            } else if (slash == buf) {
                rc = fsync_dir_path("/", err);
            } else if (slash != NULL) {
                *slash = '\0';
                rc = fsync_dir_path(buf, err);
                *slash = '/';
            }
        } else if (errno == EEXIST) {
            struct stat st;
            if (stat(buf, &st) < 0)
                rc = PGP_FAIL_PATH(err, errno, buf, "cannot create directory \"%s\"", buf);
            else if (!S_ISDIR(st.st_mode))
                rc = PGP_FAIL(err, PGP_ERR_IO,
                              "cannot create directory \"%s\": a file of that name exists", buf);
        } else {
            rc = PGP_FAIL_PATH(err, errno, buf, "cannot create directory \"%s\"", buf);
        }
        buf[i] = saved;
    }
    free(buf);
    return rc;
}

/* ---- stat / list / remove ----------------------------------------------------------- */

static void info_from_stat(const struct stat *st, StorageInfo *out)
{
    out->is_dir = S_ISDIR(st->st_mode);
    out->size = out->is_dir ? 0 : (uint64_t)st->st_size;
    /* Callers compute with it (ages, microseconds): a file system that stores any 64-bit
     * time (tmpfs, a touch -d far off) must not make that arithmetic overflow. */
    int64_t t = (int64_t)st->st_mtime;
    out->mtime = t < 0 ? 0 : t > STORAGE_MTIME_MAX ? STORAGE_MTIME_MAX : t;
}

static int posix_stat(void *vd, const char *path, StorageInfo *out, PgpErr *err)
{
    PosixDrv *d = vd;
    char *full = posix_join(d->root, path);
    if (full == NULL)
        return posix_nomem(err);
    int rc = 0;
    struct stat st;
    if (stat(full, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rc = PGP_FAIL(err, PGP_ERR_NOT_FOUND, "\"%s\" does not exist", full);
        else
            rc = PGP_FAIL_PATH(err, errno, full, "cannot stat \"%s\"", full);
    } else {
        info_from_stat(&st, out);
    }
    free(full);
    return rc;
}

typedef struct ListEntry {
    char *name;
    StorageInfo info;
} ListEntry;

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const ListEntry *)a)->name, ((const ListEntry *)b)->name);
}

/* Read the entries of dir (already open) into *out, skipping temp files and, with a prefix,
 * the names without it before they cost a stat. */
static int list_collect(DIR *dir, const char *full, const char *prefix, ListEntry **out,
                        size_t *n, PgpErr *err)
{
    size_t cap = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (de == NULL) {
            if (errno != 0)
                return PGP_FAIL_PATH(err, errno, full, "cannot read directory \"%s\"", full);
            return 0;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 ||
            (prefix != NULL && strncmp(name, prefix, strlen(prefix)) != 0))
            continue;
        /* size and mtime need a stat anyway; d_type alone cannot fill StorageInfo. */
        struct stat st;
        if (fstatat(dirfd(dir), name, &st, 0) < 0) {
            if (errno == ENOENT)        /* removed meanwhile, or a dangling symlink */
                continue;
            return PGP_FAIL_PATH(err, errno, full, "cannot stat \"%s/%s\"", full, name);
        }
        if (GROW(*out, *n, cap, 64, NULL, err) != 0)
            return PGP_ERR_NOMEM;
        ListEntry *e = &(*out)[*n];
        if ((e->name = strdup(name)) == NULL)
            return posix_nomem(err);
        info_from_stat(&st, &e->info);
        (*n)++;
    }
}

/* Entries are reported in byte order of their names, like an S3 listing; with a prefix, only
 * those whose names begin with it. */
static int list_dir(PosixDrv *d, const char *dirpath, const char *prefix, StorageListFn fn,
                    void *ud, PgpErr *err)
{
    ListEntry *ents = NULL;
    size_t n = 0;
    DIR *dir = NULL;
    int rc = 0;
    char *full = posix_join(d->root, dirpath);
    if (full == NULL)
        return posix_nomem(err);
    int fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            rc = PGP_FAIL_PATH(err, errno, full, "cannot open directory \"%s\"", full);
        goto out;                       /* a missing directory lists nothing */
    }
    if ((dir = fdopendir(fd)) == NULL) {
        rc = PGP_FAIL_PATH(err, errno, full, "cannot open directory \"%s\"", full);
        close(fd);
        goto out;
    }
    rc = list_collect(dir, full, prefix, &ents, &n, err);
    if (rc != 0)
        goto out;
    closedir(dir);
    dir = NULL;
    if (n > 1)
        qsort(ents, n, sizeof *ents, entry_cmp);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(ud, ents[i].name, &ents[i].info, err);
out:
    if (dir != NULL)
        closedir(dir);
    for (size_t i = 0; i < n; i++)
        free(ents[i].name);
    free(ents);
    free(full);
    return rc;
}

static int posix_list(void *vd, const char *dirpath, StorageListFn fn, void *ud, PgpErr *err)
{
    return list_dir(vd, dirpath, NULL, fn, ud, err);
}

static int posix_list_prefix(void *vd, const char *dirpath, const char *prefix,
                             StorageListFn fn, void *ud, PgpErr *err)
{
    return list_dir(vd, dirpath, prefix, fn, ud, err);
}

static int posix_remove(void *vd, const char *path, PgpErr *err)
{
    PosixDrv *d = vd;
    char *full = posix_join(d->root, path);
    if (full == NULL)
        return posix_nomem(err);
    int rc = 0;
    char *slash = strrchr(full, '/');           /* always present: full = root "/" path */
    *slash = '\0';
    int dfd = open(slash == full ? "/" : full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int open_errno = errno;
    *slash = '/';
    if (dfd < 0) {
        if (open_errno == ENOENT || open_errno == ENOTDIR)
            rc = PGP_FAIL(err, PGP_ERR_NOT_FOUND, "cannot remove \"%s\": it does not exist", full);
        else
            rc = PGP_FAIL_SYS(err, open_errno, "cannot open directory of \"%s\"", full);
        goto out;
    }
    int r = unlinkat(dfd, slash + 1, 0);
    if (r < 0 && (errno == EISDIR || errno == EPERM))
        r = unlinkat(dfd, slash + 1, AT_REMOVEDIR);
    if (r < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rc = PGP_FAIL(err, PGP_ERR_NOT_FOUND, "cannot remove \"%s\": it does not exist", full);
        else
            rc = PGP_FAIL_SYS(err, errno, "cannot remove \"%s\"", full);
        goto out;
    }
    if (posix_fsync(dfd) < 0) {
        *slash = '\0';
        rc = PGP_FAIL_SYS(err, errno, "cannot fsync directory \"%s\"", slash == full ? "/" : full);
        *slash = '/';
    }
out:
    if (rc != 0 && rc != PGP_ERR_NOT_FOUND) {   /* a permission error names the directory */
        *slash = '\0';
        pgp_err_path(err, rc, slash == full ? "/" : full);
        *slash = '/';
    }
    if (dfd >= 0)
        close(dfd);
    free(full);
    return rc;
}

/* ---- reader ------------------------------------------------------------------------- */

static int reader_read(StorageReader *base, void *buf, size_t len, size_t *got, PgpErr *err)
{
    PosixReader *r = (PosixReader *)base;
    ssize_t n;
    *got = 0;
    do
        n = read(r->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return PGP_FAIL_SYS(err, errno, "cannot read \"%s\"", r->path);
    *got = (size_t)n;
    return 0;
}

static void reader_close(StorageReader *base)
{
    PosixReader *r = (PosixReader *)base;
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r);
}

static int posix_open_read(void *vd, const char *path, StorageReader **out, PgpErr *err)
{
    PosixDrv *d = vd;
    PosixReader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return posix_nomem(err);
    r->fd = -1;
    r->base.read = reader_read;
    r->base.close = reader_close;
    int rc = 0;
    if ((r->path = posix_join(d->root, path)) == NULL) {
        rc = posix_nomem(err);
        goto out;
    }
    r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rc = PGP_FAIL(err, PGP_ERR_NOT_FOUND, "\"%s\" does not exist", r->path);
        else
            rc = PGP_FAIL_PATH(err, errno, r->path, "cannot open \"%s\" for reading", r->path);
        goto out;
    }
    struct stat st;
    if (fstat(r->fd, &st) < 0) {
        rc = PGP_FAIL_SYS(err, errno, "cannot stat \"%s\"", r->path);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = PGP_FAIL(err, PGP_ERR_IO, "cannot open \"%s\" for reading: it is a directory",
                      r->path);
        goto out;
    }
out:
    if (rc != 0) {
        reader_close(&r->base);
        r = NULL;
    }
    *out = (StorageReader *)r;
    return rc;
}

/* ---- writer ------------------------------------------------------------------------- */

void posix_writer_free(PosixWriter *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->final_dfd >= 0 && w->final_dfd != w->dfd)
        close(w->final_dfd);
    if (w->dfd >= 0 && w->batch == NULL)     /* a batch's writer borrows its directory */
        close(w->dfd);
    free(w->rel_path);
    free(w->final_path);
    free(w->tmp_path);
    free(w);
}

/* Remove the temp file (best effort: it is garbage either way) and close it. */
static void writer_discard(PosixWriter *w)
{
    if (w->fd >= 0) {
        close(w->fd);
        w->fd = -1;
        unlinkat(w->dfd, w->tmp_name, 0);
    }
}

static int writer_write(StorageWriter *base, const void *buf, size_t len, PgpErr *err)
{
    PosixWriter *w = (PosixWriter *)base;
    if (w->failed)
        return PGP_FAIL(err, PGP_ERR_IO, "cannot write \"%s\": an earlier write failed",
                        w->final_path);
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* write() returning 0 (or a short write leaving errno 0) means a full disk. */
            int e = n == 0 || errno == 0 ? ENOSPC : errno;
            w->failed = true;
            writer_discard(w);
            return PGP_FAIL_SYS(err, e, "cannot write \"%s\"", w->final_path);
        }
        p += n;
        len -= (size_t)n;
        w->written += (uint64_t)n;
    }
    return 0;
}

/* Publish tmp under the final name without ever replacing an existing object. */
static int publish_noreplace(PosixWriter *w, PgpErr *err)
{
    if (renameat2(w->dfd, w->tmp_name, w->final_dfd, w->final_name, RENAME_NOREPLACE) == 0)
        return 0;
    int e = errno;
    if (e == EINVAL || e == ENOSYS) {
        /* The filesystem (or kernel) lacks RENAME_NOREPLACE: link() never replaces either. */
        if (linkat(w->dfd, w->tmp_name, w->final_dfd, w->final_name, 0) == 0) {
            /* Published. A temp left by a failing unlink is garbage, removed by a later push. */
            unlinkat(w->dfd, w->tmp_name, 0);
            return 0;
        }
        e = errno;
    }
    unlinkat(w->dfd, w->tmp_name, 0);
    if (e == EEXIST)
        return PGP_FAIL(err, PGP_ERR_CONFLICT, "\"%s\" already exists", w->final_path);
    return PGP_FAIL_SYS(err, e, "cannot rename \"%s\" to \"%s\"", w->tmp_path, w->final_path);
}

static int writer_commit(StorageWriter *base, PgpErr *err)
{
    PosixWriter *w = (PosixWriter *)base;
    if (w->batch != NULL)
        return posix_batch_commit_writer(w, err);
    int rc = 0;
    if (w->failed) {
        rc = PGP_FAIL(err, PGP_ERR_IO, "cannot commit \"%s\": an earlier write failed",
                      w->final_path);
        goto out;
    }
    /* An fsync error is never retried: the kernel may have dropped the dirty pages. */
    if (posix_fsync(w->fd) < 0) {
        rc = PGP_FAIL_SYS(err, errno, "cannot fsync \"%s\"", w->final_path);
        writer_discard(w);
        goto out;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) < 0 && errno != EINTR) {
        rc = PGP_FAIL_SYS(err, errno, "cannot close \"%s\"", w->final_path);
        unlinkat(w->dfd, w->tmp_name, 0);
        goto out;
    }
    if (w->flags & STORAGE_WRITE_REPLACE) {
        if (renameat(w->dfd, w->tmp_name, w->final_dfd, w->final_name) < 0) {
            rc = PGP_FAIL_SYS(err, errno, "cannot rename \"%s\" to \"%s\"", w->tmp_path,
                              w->final_path);
            unlinkat(w->dfd, w->tmp_name, 0);
            goto out;
        }
    } else if ((rc = publish_noreplace(w, err)) != 0) {
        goto out;
    }
    if (posix_fsync(w->final_dfd) < 0) {
        char *slash = strrchr(w->final_path, '/');
        *slash = '\0';
        rc = PGP_FAIL_SYS(err, errno, "cannot fsync directory \"%s\"",
                          slash == w->final_path ? "/" : w->final_path);
        *slash = '/';
    }
out:
    posix_writer_free(w);
    return rc;
}

static void writer_abort(StorageWriter *base)
{
    PosixWriter *w = (PosixWriter *)base;
    if (w == NULL)
        return;
    writer_discard(w);
    posix_writer_free(w);
}

/* Open (creating it and its parents if missing) the directory that will hold the file. */
int posix_open_parent(PosixDrv *d, char *full, char *slash, int *dfd, PgpErr *err)
{
    return posix_open_parent_as(d, full, slash, true, dfd, err);
}

int posix_open_parent_as(PosixDrv *d, char *full, char *slash, bool durable, int *dfd,
                         PgpErr *err)
{
    *slash = '\0';
    const char *dir = slash == full ? "/" : full;
    int rc = 0;
    *dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dfd < 0 && errno == ENOENT) {
        rc = mkdirs(dir, strlen(d->root), durable, err);
        if (rc == 0)
            *dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (rc == 0 && *dfd < 0)
        rc = PGP_FAIL_PATH(err, errno, dir, "cannot open directory \"%s\"", dir);
    *slash = '/';
    return rc;
}

/* Create the temp file, retrying on the (unlikely) collision of random suffixes. */
static int create_temp(PosixDrv *d, PosixWriter *w, PgpErr *err)
{
    size_t dir_len = (size_t)(w->final_name - w->final_path);
    for (int attempt = 0; attempt < 8; attempt++) {
        free(w->tmp_path);
        w->tmp_path = NULL;
        if (asprintf(&w->tmp_path, "%.*s" TMP_PREFIX "%s.%s.%ld.%016llx", (int)dir_len,
                     w->final_path, w->final_name, d->host, (long)getpid(), posix_random_u64()) < 0) {
            w->tmp_path = NULL;
            return posix_nomem(err);
        }
        w->tmp_name = w->tmp_path + dir_len;
        w->fd = openat(w->dfd, w->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, FILE_MODE);
        if (w->fd >= 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    return PGP_FAIL_PATH(err, errno, w->tmp_path, "cannot create \"%s\"", w->tmp_path);
}

/* The temp file lives in the directory it was opened in, so any basename there is published
 * by the same rename. Another directory of the repository (a content address known only at
 * the end) is opened, and created durably if missing, now: the rename then moves the file
 * across directories of the same filesystem, still atomically. A batch's writer opens its
 * final directory only when the batch commits. */
static int writer_set_final_name(StorageWriter *base, const char *name, const char *path,
                                 PgpErr *err)
{
    PosixWriter *w = (PosixWriter *)base;
    size_t dir_len = (size_t)(name - path);          /* "a/b/" of "a/b/name", 0 if none */
    const char *opened_slash = strrchr(w->rel_path, '/');
    size_t opened_dir_len = opened_slash ? (size_t)(opened_slash + 1 - w->rel_path) : 0;
    bool same_dir = dir_len == opened_dir_len && strncmp(path, w->rel_path, dir_len) == 0;
    char *full = posix_join(w->d->root, path);
    if (full == NULL)
        return posix_nomem(err);
    if (!same_dir && w->batch == NULL) {
        int dfd = -1;
        int rc = posix_open_parent(w->d, full, strrchr(full, '/'), &dfd, err);
        if (rc != 0) {
            free(full);
            return rc;
        }
        if (w->final_dfd != w->dfd)
            close(w->final_dfd);
        w->final_dfd = dfd;
    }
    free(w->final_path);
    w->final_path = full;
    w->final_name = strrchr(full, '/') + 1;
    return 0;
}

void posix_writer_init(PosixWriter *w, PosixDrv *d, unsigned flags)
{
    w->d = d;
    w->fd = -1;
    w->dfd = -1;
    w->final_dfd = -1;
    w->flags = flags;
    w->base.write = writer_write;
    w->base.commit = writer_commit;
    w->base.abort = writer_abort;
    w->base.set_final_name = writer_set_final_name;
}

static int posix_open_write(void *vd, const char *path, unsigned flags, StorageWriter **out,
                            PgpErr *err)
{
    PosixDrv *d = vd;
    *out = NULL;
    PosixWriter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return posix_nomem(err);
    posix_writer_init(w, d, flags);
    int rc = 0;
    if ((w->rel_path = strdup(path)) == NULL || (w->final_path = posix_join(d->root, path)) == NULL) {
        rc = posix_nomem(err);
        goto out;
    }
    char *slash = strrchr(w->final_path, '/');
    w->final_name = slash + 1;
    if ((rc = posix_open_parent(d, w->final_path, slash, &w->dfd, err)) != 0)
        goto out;
    w->final_dfd = w->dfd;
    posix_remove_stale_temps(d, w->dfd, w->final_name);
    rc = create_temp(d, w, err);
out:
    if (rc != 0) {
        posix_writer_free(w);
        return rc;
    }
    *out = &w->base;
    return 0;
}

/* ---- driver ------------------------------------------------------------------------- */

static void posix_free(void *vd)
{
    PosixDrv *d = vd;
    if (d == NULL)
        return;
    free(d->root);
    free(d);
}

static const StorageDriver posix_driver = {
    .name = "posix",
    .features = STORAGE_FEATURE_PATH | STORAGE_FEATURE_FSYNC,
    .stat = posix_stat,
    .list = posix_list,
    .list_prefix = posix_list_prefix,
    .open_read = posix_open_read,
    .open_write = posix_open_write,
    .remove = posix_remove,
    .free = posix_free,
    .batch_new = posix_batch_new,
    .batch_open_write = posix_batch_open_write,
    .batch_flush = posix_batch_flush,
    .batch_free = posix_batch_free,
    .batch_holds = posix_batch_holds,
};

/* Absolute form of root (without resolving symlinks) and without trailing slashes. */
static char *absolute_root(const char *root)
{
    char *abs = NULL;
    if (root[0] == '/') {
        abs = strdup(root);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (cwd == NULL)
            return NULL;
        if (asprintf(&abs, "%s/%s", cwd, root) < 0)
            abs = NULL;
        free(cwd);
    }
    if (abs == NULL)
        return NULL;
    size_t n = strlen(abs);
    while (n > 1 && abs[n - 1] == '/')
        abs[--n] = '\0';
    return abs;
}

int storage_posix_new(const char *root, bool create, Storage **out, PgpErr *err)
{
    *out = NULL;
    if (root == NULL || root[0] == '\0')
        return PGP_FAIL(err, PGP_ERR_CONFIG, "storage root is empty");
    PosixDrv *d = calloc(1, sizeof *d);
    if (d == NULL)
        return posix_nomem(err);
    int rc = 0;
    if ((d->root = absolute_root(root)) == NULL) {
        rc = PGP_FAIL_SYS(err, errno, "cannot resolve storage root \"%s\"", root);
        goto out;
    }
    posix_host_for_temp(d->host, sizeof d->host);
    struct stat st;
    if (stat(d->root, &st) < 0 && errno == ENOENT && create) {
        if ((rc = mkdirs(d->root, 0, true, err)) != 0)
            goto out;
    }
    if (stat(d->root, &st) < 0) {
        if (errno == ENOENT) {
            rc = PGP_FAIL(err, PGP_ERR_NOT_FOUND, "storage root \"%s\" does not exist", d->root);
            pgp_err_hint(err, "create it, or check the repository path in the configuration");
        } else {
            rc = PGP_FAIL_PATH(err, errno, d->root, "cannot access storage root \"%s\"", d->root);
        }
        goto out;
    }
    if (!S_ISDIR(st.st_mode)) {
        rc = PGP_FAIL(err, PGP_ERR_CONFIG, "storage root \"%s\" is not a directory", d->root);
        goto out;
    }
    if ((*out = storage_new(&posix_driver, d)) == NULL)
        return posix_nomem(err);              /* storage_new freed d */
    return 0;
out:
    posix_free(d);
    return rc;
}
