/*
 * posix_batch.c - batched commits of the posix driver (storage.h, "Batched commits").
 *
 * Owns the durability rules of a batch: a batch's writer writes a temp file in the batch's
 * own directory, "<dir>/.tmp.batch.<host>.<pid>.<hex>/<n>" (hidden from list like every temp
 * name), and its commit only closes the file, without fsync, and queues it. A flush then
 *   1. makes every queued file durable with one syncfs(2) of the repository's file system
 *      (per-file fsync where syncfs is missing),
 *   2. renames each into its final directory (RENAME_NOREPLACE unless the writer asked to
 *      replace; an object already there is kept: same address, same bytes),
 *   3. makes every new name durable with a second syncfs (where syncfs is missing, an fsync
 *      of each distinct final directory once).
 * So nothing is named before its bytes are durable, and a crash or SIGKILL at any point leaves
 * whole durable objects and temp files in the batch's directory, which the next batch opened
 * on the same dir by this host removes once their process is gone. Why syncfs: one call
 * instead of an fsync per object, each of which waits for a journal commit of its own
 * (docs/chunking.md has the figures); the same for the names: one call instead of an fsync of
 * each objects/XX directory (and of objects/ for each one created), each of which flushes
 * the disk's cache. A failed flush discards what it held and poisons the batch: the error is
 * sticky, so the backup that relies on it fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/fdio.h"

#include "posix_internal.h"

#define BATCH_PREFIX TMP_PREFIX "batch."

typedef struct Staged {
    char *tmp_name;             /* in the batch's directory; NULL once renamed or removed */
    char *final_path;           /* full path */
    uint64_t size;
    unsigned flags;
} Staged;

struct PosixBatch {
    PosixDrv *d;
    char *dir_path;             /* the batch's directory, full path */
    int sdfd;                   /* ... open */
    StorageBatchLimits lim;
    size_t rel_off;             /* where a final path's part relative to the root begins */
    pthread_mutex_t mu;         /* items, flying (their array, not tmp_name), seq, rc/err */
    pthread_mutex_t commit_mu;  /* one flush at a time, held from taking the items to the end */
    Staged *items;
    size_t n, cap;
    uint64_t bytes;
    Staged *flying;             /* the items of the flush under way, until all are named */
    size_t n_flying;
    unsigned long long seq;
    bool no_syncfs;             /* the kernel has none: an fsync per file and per directory */
    int rc;                     /* sticky: a flush failed */
    PgpErr err;
};

/* ---- what a killed process left ---------------------------------------------------------- */

/* Removes the batch directory `name` of pdfd and the temp files in it (best effort). */
static void remove_batch_dir(int pdfd, const char *name)
{
    DIR *dir = fd_opendir(pdfd, name);
    if (dir == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            unlinkat(dirfd(dir), de->d_name, 0);
    }
    closedir(dir);
    unlinkat(pdfd, name, AT_REMOVEDIR);
}

/* Batch directories of this host whose process is gone: what a SIGKILLed backup left. */
static void remove_stale_batches(PosixDrv *d, int pdfd)
{
    DIR *dir = fd_opendir(pdfd, ".");
    if (dir == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strncmp(de->d_name, BATCH_PREFIX, strlen(BATCH_PREFIX)) != 0)
            continue;
        pid_t pid = posix_tmp_owner(de->d_name + strlen(BATCH_PREFIX), d->host);
        if (pid > 0 && kill(pid, 0) == -1 && errno == ESRCH)
            remove_batch_dir(pdfd, de->d_name);
    }
    closedir(dir);
}

/* ---- the batch ----------------------------------------------------------------------------- */

/* Creates the batch's directory below dir (created durably if missing). */
static int make_batch_dir(PosixBatch *b, const char *dir, PgpErr *err)
{
    char *rel = NULL;
    if (asprintf(&rel, "%s/" BATCH_PREFIX "%s.%ld.%016llx", dir, b->d->host, (long)getpid(),
                 posix_random_u64()) < 0)
        return posix_nomem(err);
    b->dir_path = posix_join(b->d->root, rel);
    free(rel);
    if (b->dir_path == NULL)
        return posix_nomem(err);
    char *slash = strrchr(b->dir_path, '/');
    int pdfd = -1;
    int rc = posix_open_parent(b->d, b->dir_path, slash, &pdfd, err);
    if (rc != 0)
        return rc;
    remove_stale_batches(b->d, pdfd);
    if (mkdirat(pdfd, slash + 1, DIR_MODE) < 0)
        rc = PGP_FAIL_PATH(err, errno, b->dir_path, "cannot create directory \"%s\"",
                           b->dir_path);
    else if ((b->sdfd = openat(pdfd, slash + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        rc = PGP_FAIL_PATH(err, errno, b->dir_path, "cannot open directory \"%s\"",
                           b->dir_path);
    close(pdfd);
    return rc;
}

int posix_batch_new(void *drv, const char *dir, const StorageBatchLimits *lim, void **out,
                    PgpErr *err)
{
    *out = NULL;
    PosixBatch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return posix_nomem(err);
    b->d = drv;
    b->sdfd = -1;
    b->lim = *lim;
    b->rel_off = strlen(b->d->root) + (strcmp(b->d->root, "/") != 0);
    if (b->lim.max_objects == 0)
        b->lim.max_objects = 1;
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->commit_mu, NULL);
    int rc = make_batch_dir(b, dir, err);
    if (rc != 0) {
        posix_batch_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* Removes the temp files of items not renamed, and frees them. */
static void drop_items(PosixBatch *b, Staged *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i].tmp_name != NULL)
            unlinkat(b->sdfd, items[i].tmp_name, 0);
        free(items[i].tmp_name);
        free(items[i].final_path);
    }
    free(items);
}

void posix_batch_free(void *vb)
{
    PosixBatch *b = vb;
    if (b == NULL)
        return;
    drop_items(b, b->items, b->n);
    if (b->sdfd >= 0) {
        close(b->sdfd);
        rmdir(b->dir_path);         /* empty unless an unlink failed: then the next one's */
    }
    pthread_mutex_destroy(&b->commit_mu);
    pthread_mutex_destroy(&b->mu);
    free(b->dir_path);
    free(b);
}

int posix_batch_open_write(void *vb, const char *path, unsigned flags, StorageWriter **out,
                           PgpErr *err)
{
    PosixBatch *b = vb;
    *out = NULL;
    PosixWriter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return posix_nomem(err);
    posix_writer_init(w, b->d, flags);
    w->batch = b;
    w->dfd = b->sdfd;
    pthread_mutex_lock(&b->mu);
    unsigned long long seq = ++b->seq;
    pthread_mutex_unlock(&b->mu);
    int rc = 0;
    if ((w->rel_path = strdup(path)) == NULL ||
        (w->final_path = posix_join(b->d->root, path)) == NULL ||
        asprintf(&w->tmp_path, "%s/%llu", b->dir_path, seq) < 0) {
        w->tmp_path = NULL;
        rc = posix_nomem(err);
        goto out;
    }
    w->final_name = strrchr(w->final_path, '/') + 1;
    w->tmp_name = strrchr(w->tmp_path, '/') + 1;
    w->fd = openat(b->sdfd, w->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, FILE_MODE);
    if (w->fd < 0)
        rc = PGP_FAIL_PATH(err, errno, w->tmp_path, "cannot create \"%s\"", w->tmp_path);
out:
    if (rc != 0) {
        posix_writer_free(w);
        return rc;
    }
    *out = &w->base;
    return 0;
}

int posix_batch_commit_writer(PosixWriter *w, PgpErr *err)
{
    PosixBatch *b = w->batch;
    int rc = 0;
    bool full = false;
    Staged st = {.flags = w->flags};
    if (w->failed) {
        rc = PGP_FAIL(err, PGP_ERR_IO, "cannot commit \"%s\": an earlier write failed",
                      w->final_path);
        goto out;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) < 0 && errno != EINTR) {
        rc = PGP_FAIL_SYS(err, errno, "cannot close \"%s\"", w->final_path);
        goto out;
    }
    if ((st.tmp_name = strdup(w->tmp_name)) == NULL) {
        rc = posix_nomem(err);
        goto out;
    }
    st.final_path = w->final_path;
    pthread_mutex_lock(&b->mu);
    if (b->rc != 0) {
        rc = b->rc;
        if (err != NULL)
            *err = b->err;
    } else if ((rc = GROW(b->items, b->n, b->cap, 256, NULL, err)) == 0) {
        st.size = w->written;
        b->items[b->n++] = st;
        b->bytes += w->written;
        w->final_path = NULL;           /* the batch owns it now */
        st.tmp_name = NULL;
    }
    full = rc == 0 && (b->n >= b->lim.max_objects || b->bytes >= b->lim.max_bytes);
    pthread_mutex_unlock(&b->mu);
out:
    if (rc != 0)
        unlinkat(b->sdfd, w->tmp_name, 0);
    free(st.tmp_name);
    posix_writer_free(w);
    return rc == 0 && full ? posix_batch_flush(b, err) : rc;
}

/* ---- the flush ----------------------------------------------------------------------------- */

/* Step 1: every queued file durable. syncfs reports writeback errors of the file system since
 * the batch directory was opened (Linux 5.8 and later), hence also those of our files. */
static int make_durable(PosixBatch *b, Staged *items, size_t n, PgpErr *err)
{
    if (syncfs(b->sdfd) == 0)
        return 0;
    if (errno != ENOSYS)
        return PGP_FAIL_SYS(err, errno, "cannot make %zu new objects durable: syncfs of the "
                            "file system of \"%s\" failed", n, b->dir_path);
    b->no_syncfs = true;
    for (size_t i = 0; i < n; i++) {
        int fd = openat(b->sdfd, items[i].tmp_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || posix_fsync(fd) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            return PGP_FAIL_SYS(err, e, "cannot fsync \"%s/%s\" (for \"%s\")", b->dir_path,
                                items[i].tmp_name, items[i].final_path);
        }
        close(fd);
    }
    return 0;
}

/* Step 2 for one item: named, or (an object of that name exists) dropped. */
static int publish(PosixBatch *b, int dfd, Staged *it, PgpErr *err)
{
    const char *name = strrchr(it->final_path, '/') + 1;
    int r;
    if (it->flags & STORAGE_WRITE_REPLACE) {
        r = renameat(b->sdfd, it->tmp_name, dfd, name);
    } else {
        r = renameat2(b->sdfd, it->tmp_name, dfd, name, RENAME_NOREPLACE);
        if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
            /* No RENAME_NOREPLACE here: link() never replaces either. */
            r = linkat(b->sdfd, it->tmp_name, dfd, name, 0);
            if (r == 0)
                unlinkat(b->sdfd, it->tmp_name, 0);
        }
    }
    if (r < 0 && errno == EEXIST) {
        /* Another writer named the same content address first (durably): keep that one. */
        r = unlinkat(b->sdfd, it->tmp_name, 0) < 0 && errno != ENOENT ? -1 : 0;
    }
    if (r < 0)
        return PGP_FAIL_SYS(err, errno, "cannot rename \"%s/%s\" to \"%s\"", b->dir_path,
                            it->tmp_name, it->final_path);
    free(it->tmp_name);
    it->tmp_name = NULL;
    return 0;
}

/* Step 2 for items[0..n), which share one final directory (created if missing). */
static int rename_group(PosixBatch *b, Staged *items, size_t n, PgpErr *err)
{
    char *full = strdup(items[0].final_path);
    if (full == NULL)
        return posix_nomem(err);
    int dfd = -1;
    /* A directory created here is made durable by step 3's syncfs, as the names in it. */
    int rc = posix_open_parent_as(b->d, full, strrchr(full, '/'), b->no_syncfs, &dfd, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = publish(b, dfd, &items[i], err);
    if (dfd >= 0)
        close(dfd);
    free(full);
    return rc;
}

/* Step 3 for the directory of `path` (a full path). */
static int sync_dir_of(const char *path, PgpErr *err)
{
    char *dir = strndup(path, (size_t)(strrchr(path, '/') - path));
    if (dir == NULL)
        return posix_nomem(err);
    int rc = 0;
    int dfd = open(*dir != '\0' ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || posix_fsync(dfd) < 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot fsync directory \"%s\"", dir);
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return rc;
}

static int staged_cmp(const void *a, const void *b)
{
    return strcmp(((const Staged *)a)->final_path, ((const Staged *)b)->final_path);
}

static size_t dir_len(const char *path)
{
    return (size_t)(strrchr(path, '/') - path);
}

/* The end of items[i]'s group: the first item from i on in another final directory. */
static size_t group_end(const Staged *items, size_t n, size_t i)
{
    size_t len = dir_len(items[i].final_path), j = i + 1;
    while (j < n && dir_len(items[j].final_path) == len &&
           strncmp(items[j].final_path, items[i].final_path, len) == 0)
        j++;
    return j;
}

/* Step 3 where syncfs works: one more syncfs, after every rename of the flush, makes all their
 * directory entries durable with one journal commit. An fsync per final directory (the
 * fallback) cost 1-2 ms each on the bench VM's ext4, even with every rename of the flush done
 * before the first of them, and a flush of chunks touches up to 256 objects/XX directories
 * (docs/chunking.md, "Batched commits"). */
static int make_names_durable(PosixBatch *b, Staged *items, size_t n, size_t renamed,
                              PgpErr *err)
{
    if (!b->no_syncfs) {
        if (syncfs(b->sdfd) == 0)
            return 0;
        return PGP_FAIL_SYS(err, errno, "cannot make the names of %zu new objects durable: "
                            "syncfs of the file system of \"%s\" failed", n, b->dir_path);
    }
    int rc = 0;
    for (size_t i = 0; i < renamed; i = group_end(items, n, i)) {
        int r = sync_dir_of(items[i].final_path, rc == 0 ? err : NULL);
        if (rc == 0)
            rc = r;
    }
    return rc;
}

static int commit_items(PosixBatch *b, Staged *items, size_t n, PgpErr *err)
{
    int rc = make_durable(b, items, n, err);
    if (rc != 0)
        return rc;
    size_t renamed = 0;     /* items[0..renamed) are in groups whose renames were tried */
    for (size_t i = 0; rc == 0 && i < n; i = renamed) {
        renamed = group_end(items, n, i);
        rc = rename_group(b, items + i, renamed - i, err);
    }
    /* Also after a failed rename: what was named stays named, durably, since a later backup
     * may find it and reference it (it is whole: its bytes were made durable first). */
    int r = make_names_durable(b, items, n, renamed, rc == 0 ? err : NULL);
    return rc != 0 ? rc : r;
}

int posix_batch_flush(void *vb, PgpErr *err)
{
    PosixBatch *b = vb;
    pthread_mutex_lock(&b->commit_mu);
    pthread_mutex_lock(&b->mu);
    int rc = b->rc;
    if (rc != 0 && err != NULL)
        *err = b->err;
    Staged *items = b->items;
    size_t n = b->n;
    b->items = NULL;
    b->n = b->cap = 0;
    b->bytes = 0;
    if (n > 1)          /* one final directory after another; here, as holds reads them */
        qsort(items, n, sizeof *items, staged_cmp);
    b->flying = items;
    b->n_flying = n;
    pthread_mutex_unlock(&b->mu);
    if (rc == 0 && n > 0)
        rc = commit_items(b, items, n, err);
    pthread_mutex_lock(&b->mu);
    if (rc != 0 && b->rc == 0) {
        b->rc = rc;
        if (err != NULL)
            b->err = *err;
    }
    b->flying = NULL;   /* named by now (or the batch failed): storage_stat answers */
    b->n_flying = 0;
    pthread_mutex_unlock(&b->mu);
    drop_items(b, items, n);
    pthread_mutex_unlock(&b->commit_mu);
    return rc;
}

static bool find_in(const PosixBatch *b, const Staged *v, size_t n, const char *path,
                    uint64_t *size)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].final_path + b->rel_off, path) == 0) {
            if (size != NULL)
                *size = v[i].size;
            return true;
        }
    }
    return false;
}

/* A linear search: at most max_objects queued and as many flying, and a backup asks once per
 * object it would write. */
bool posix_batch_holds(void *vb, const char *path, uint64_t *size)
{
    PosixBatch *b = vb;
    pthread_mutex_lock(&b->mu);
    bool found = b->rc == 0 && (find_in(b, b->items, b->n, path, size) ||
                                find_in(b, b->flying, b->n_flying, path, size));
    pthread_mutex_unlock(&b->mu);
    return found;
}
