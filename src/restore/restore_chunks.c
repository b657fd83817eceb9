/*
 * restore_chunks.c - restores a file stored as chunks (manifest format 3, docs/chunking.md):
 * its chunk list read and checked (chunk_list_load), then every chunk fetched, its SHA-256
 * compared with the list's digest, and written at its offset. The whole-file rules of
 * restore_file hold: created with O_EXCL, mode and mtime set, fsynced if asked, removed on any
 * failure. A missing or damaged chunk names the file, the chunk, its byte range and object.
 *
 * Also --delta over an existing file (restore_file_chunks_delta): the live file is read and
 * hashed chunk by chunk, and only the chunks that differ are fetched, through the same
 * fetch_chunk, and written in place. Why in place and not a new file beside it: a one-page
 * change to a 1 GiB segment would otherwise cost a 1 GiB copy; the safety a fresh file gives
 * (nothing half written under the final name) comes here from restore.c removing pg_control
 * before any file is touched and from the next --delta checking every chunk again.
 */
#include "pgpitr/restore/restore_files.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/chunk_load.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/common/fdio.h"

/* Bytes of one chunk, written at off + written; more than len is corruption. */
typedef struct ChunkSink {
    int fd;
    uint64_t off, len, written;
    atomic_uint_fast64_t *progress;
} ChunkSink;

static int chunk_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    ChunkSink *c = ud;
    if (len > c->len - c->written)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "larger than the %" PRIu64 " bytes of the chunk",
                        c->len);
    size_t n = 0;
    int e = fd_write_all(c->fd, buf, len, (off_t)(c->off + c->written), &n);
    c->written += n;
    if (c->progress != NULL)
        atomic_fetch_add_explicit(c->progress, (uint_fast64_t)n, memory_order_relaxed);
    return e == 0 ? 0 : PGP_FAIL_SYS(err, e, "cannot write");
}

static int fetch_chunk(Storage *s, const ChunkList *l, size_t i, int fd, void *buf,
                       const RestoreFileOptions *opt, RestoreFileResult *res, PgpErr *err)
{
    char path[REPO_PATH_MAX], hex[PIPE_SHA256_HEX_LEN + 1];
    ChunkSink c = {.fd = fd, .progress = opt->bytes_done};
    chunk_list_extent(l, i, &c.off, &c.len);
    pipe_hex(l->digests[i], PIPE_SHA256_LEN, hex);
    int rc = chunk_list_object_path(l, i, path, err);
    ObjectReadOptions ro = {.codec = l->codec, .expect_sha256 = hex, .buf = buf,
                            .buf_size = l->chunk_size, .seal = {l->key, OBJECT_AD_CONTENT}};
    ObjectReadResult got = {0};
    if (rc == 0)
        rc = object_io_read_verify(s, path, &ro, (PipeSink){chunk_write, &c}, &got, err);
    if (rc == PGP_ERR_NOT_FOUND)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "the object is missing from the repository");
    if (rc == 0 && c.written != c.len)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "%" PRIu64 " bytes, the chunk has %" PRIu64,
                      c.written, c.len);
    res->stored_size += got.stored;
    res->size += c.written;
    res->chunks_fetched += rc == 0;
    if (rc != 0 && rc != PGP_ERR_NOMEM)
        pgp_err_context(err, "chunk %zu (bytes %" PRIu64 "..%" PRIu64 "): object \"%s\"", i,
                        c.off, c.off + c.len - 1, path);
    return rc;
}

static int finish(int fd, const ManifestEntry *e, bool sync, PgpErr *err)
{
    struct timespec ts[2] = {{.tv_sec = e->mtime}, {.tv_sec = e->mtime}};
    if (fchmod(fd, (mode_t)(e->mode & 07777)) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot set mode %04o", (unsigned)(e->mode & 07777));
    if (futimens(fd, ts) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot set modification time");
    int r;
    do
        r = sync ? fsync(fd) : 0;
    while (r != 0 && errno == EINTR);
    return r == 0 ? 0 : PGP_FAIL_SYS(err, errno, "cannot fsync");
}

/* A new file at dest (O_EXCL) with every chunk of l; removed on failure. */
static int write_new(Storage *s, const ManifestEntry *e, const ChunkList *l, void *buf,
                     const char *dest, const RestoreFileOptions *opt, RestoreFileResult *res,
                     PgpErr *err)
{
    int rc = 0, fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return PGP_FAIL_PATH(err, errno, dest, "cannot create the file");
    for (size_t i = 0; rc == 0 && i < l->n; i++)
        rc = fetch_chunk(s, l, i, fd, buf, opt, res, err);
    if (rc == 0)
        rc = finish(fd, e, opt->sync, err);
    if (close(fd) != 0 && rc == 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot close the file");
    if (rc != 0)
        unlink(dest);
    return rc;
}

/* The entry's list, checked, and a buffer of one chunk. */
static int load(Storage *s, const CryptoRepoKey *key, const ManifestEntry *e, ChunkList **l,
                void **buf, PgpErr *err)
{
    *buf = NULL;
    int rc = chunk_list_load(s, key, e, l, err);
    if (rc == 0 && (*buf = malloc((*l)->chunk_size)) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    return rc;
}

int restore_file_chunks(Storage *s, const ManifestEntry *e, const char *dest,
                        const RestoreFileOptions *opt, RestoreFileResult *res, PgpErr *err)
{
    static const RestoreFileOptions defaults = {0};
    opt = opt != NULL ? opt : &defaults;
    memset(res, 0, sizeof *res);
    ChunkList *l = NULL;
    void *buf = NULL;
    int rc = load(s, opt->key, e, &l, &buf, err);
    if (rc == 0)
        rc = write_new(s, e, l, buf, dest, opt, res, err);
    free(buf);
    chunk_list_free(l);
    if (rc != 0 && rc != PGP_ERR_NOMEM)
        pgp_err_context(err, "cannot restore \"%s\" (file \"%s\", stored as chunks)", dest,
                        e->path);
    return rc;
}

/* ---- --delta: over the existing file --------------------------------------------------- */

typedef struct Delta {
    Storage *s;
    const ManifestEntry *e;
    const char *dest;
    const RestoreFileOptions *opt;
    RestoreFileResult *res;
    ChunkList *l;
    void *buf;                          /* one chunk */
    bool *need;                         /* need[i]: chunk i to fetch */
    size_t n_need;
    uint64_t same_bytes;                /* bytes of the chunks not needed */
    int fd;                             /* the live file */
    bool writable;                      /* opened read-write */
    struct stat st;
    bool written;                       /* changed in place: removed on failure */
} Delta;

/* The live file, read-write when it can be, else read-only: a file without write permission
 * is still compared, and replaced only if it differs. */
static int open_live(Delta *d, PgpErr *err)
{
    d->writable = true;
    d->fd = open(d->dest, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (d->fd < 0 && (errno == EACCES || errno == EPERM)) {
        d->writable = false;
        d->fd = open(d->dest, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (d->fd < 0)
        return PGP_FAIL_PATH(err, errno, d->dest, "cannot open the existing file");
    if (fstat(d->fd, &d->st) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot check the existing file");
    if (!S_ISREG(d->st.st_mode)) /* replaced since restore_file_delta's lstat */
        return PGP_FAIL(err, PGP_ERR_IO, "the existing file is no longer a regular file");
    return 0;
}

/* Up to len bytes at off into buf; *got short only at the end of the file. */
static int read_at(int fd, void *buf, uint64_t len, uint64_t off, uint64_t *got, PgpErr *err)
{
    *got = 0;
    while (*got < len) {
        ssize_t n = pread(fd, (char *)buf + *got, (size_t)(len - *got), (off_t)(off + *got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return PGP_FAIL_SYS(err, errno, "cannot read the existing file");
        if (n == 0)
            break;
        *got += (uint64_t)n;
    }
    return 0;
}

/* need[i] for every chunk the live file does not hold as the list says: different bytes, or
 * not all there. Reads the file once, one chunk at a time; changes nothing. */
static int scan_live(Delta *d, PgpErr *err)
{
    const ChunkList *l = d->l;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t off, len, got = 0;
        uint8_t digest[PIPE_SHA256_LEN];
        chunk_list_extent(l, i, &off, &len);
        d->need[i] = true;
        if (off + len <= (uint64_t)d->st.st_size) {
            int rc = read_at(d->fd, d->buf, len, off, &got, err);
            if (rc == 0 && got == len)
                rc = pipe_sha256_buf(d->buf, (size_t)len, digest, err);
            if (rc != 0)
                return pgp_err_context(err, "chunk %zu", i);
            d->need[i] = got != len || memcmp(digest, l->digests[i], sizeof digest) != 0;
        }
        if (d->need[i])
            d->n_need++;
        else
            d->same_bytes += len;
    }
    return 0;
}

/* The chunks needed fetched and written in place, then the size, mode, mtime and fsync. */
static int rewrite(Delta *d, PgpErr *err)
{
    int rc = 0;
    d->written = true;
    for (size_t i = 0; rc == 0 && i < d->l->n; i++)
        if (d->need[i])
            rc = fetch_chunk(d->s, d->l, i, d->fd, d->buf, d->opt, d->res, err);
    while (rc == 0 && ftruncate(d->fd, (off_t)d->e->size) != 0)
        if (errno != EINTR)
            rc = PGP_FAIL_SYS(err, errno, "cannot truncate to %" PRIu64 " bytes", d->e->size);
    return rc == 0 ? finish(d->fd, d->e, d->opt->sync, err) : rc;
}

/* What the comparison found, acted on: keep the file, rewrite it in place, or replace it. */
static int apply(Delta *d, bool *kept, PgpErr *err)
{
    bool same = d->n_need == 0 && (uint64_t)d->st.st_size == d->e->size;
    int rc;
    if (same) {
        rc = finish(d->fd, d->e, d->opt->sync, err);
    } else if (!d->writable || d->st.st_nlink > 1) {
        /* a hard link's other names would change with it: a new file, as for whole files */
        close(d->fd);
        d->fd = -1;
        if (unlink(d->dest) != 0 && errno != ENOENT)
            return PGP_FAIL_SYS(err, errno, "cannot remove the existing file");
        return write_new(d->s, d->e, d->l, d->buf, d->dest, d->opt, d->res, err);
    } else {
        rc = rewrite(d, err);
    }
    if (rc != 0)
        return rc;
    *kept = same;
    d->res->chunks_kept = d->l->n - d->n_need;
    d->res->in_place = d->same_bytes;
    if (d->opt->bytes_done != NULL)
        atomic_fetch_add_explicit(d->opt->bytes_done, d->same_bytes, memory_order_relaxed);
    return 0;
}

int restore_file_chunks_delta(Storage *s, const ManifestEntry *e, const char *dest,
                              const RestoreFileOptions *opt, RestoreFileResult *res, bool *kept,
                              PgpErr *err)
{
    static const RestoreFileOptions defaults = {0};
    Delta d = {.s = s, .e = e, .dest = dest, .opt = opt != NULL ? opt : &defaults, .res = res,
               .fd = -1};
    memset(res, 0, sizeof *res);
    *kept = false;
    int rc = load(s, d.opt->key, e, &d.l, &d.buf, err);
    if (rc == 0 && (d.need = calloc(d.l->n, sizeof *d.need)) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = open_live(&d, err);
    if (rc == 0)
        rc = scan_live(&d, err);
    if (rc == 0)
        rc = apply(&d, kept, err);
    if (d.fd >= 0 && close(d.fd) != 0 && rc == 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot close the file");
    if (rc != 0 && d.written)
        unlink(dest); /* half rewritten: never left under its name (restore_files.h) */
    free(d.need);
    free(d.buf);
    chunk_list_free(d.l);
    if (rc != 0 && rc != PGP_ERR_NOMEM)
        pgp_err_context(err, "cannot restore \"%s\" over the existing file (file \"%s\", "
                        "stored as chunks)", dest, e->path);
    return rc;
}
