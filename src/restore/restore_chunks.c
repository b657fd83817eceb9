/*
 * restore_chunks.c - restores a file stored as chunks (manifest format 3, docs/chunking.md):
 * its chunk list read and checked (chunk_list_load), then every chunk fetched, its SHA-256
 * compared with the list's digest, and written at its offset. The whole-file rules of
 * restore_file hold: created with O_EXCL, mode and mtime set, fsynced if asked, removed on any
 * failure. A missing or damaged chunk names the file, the chunk, its byte range and object.
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
    const char *p = buf;
    while (len > 0) {
        ssize_t n = pwrite(c->fd, p, len, (off_t)(c->off + c->written));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* a write of 0 bytes means the disk is full */
            return PGP_FAIL_SYS(err, n < 0 ? errno : ENOSPC, "cannot write");
        p += n;
        len -= (size_t)n;
        c->written += (uint64_t)n;
        if (c->progress != NULL)
            atomic_fetch_add_explicit(c->progress, (uint_fast64_t)n, memory_order_relaxed);
    }
    return 0;
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
                            .buf_size = l->chunk_size};
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

int restore_file_chunks(Storage *s, const ManifestEntry *e, const char *dest,
                        const RestoreFileOptions *opt, RestoreFileResult *res, PgpErr *err)
{
    static const RestoreFileOptions defaults = {0};
    opt = opt != NULL ? opt : &defaults;
    memset(res, 0, sizeof *res);
    ChunkList *l = NULL;
    void *buf = NULL;
    int fd = -1;
    int rc = chunk_list_load(s, e, &l, err);
    if (rc == 0 && (buf = malloc(l->chunk_size)) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0 && (fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        rc = PGP_FAIL_PATH(err, errno, dest, "cannot create the file");
    for (size_t i = 0; rc == 0 && i < l->n; i++)
        rc = fetch_chunk(s, l, i, fd, buf, opt, res, err);
    if (rc == 0)
        rc = finish(fd, e, opt->sync, err);
    if (fd >= 0) {
        if (close(fd) != 0 && rc == 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot close the file");
        if (rc != 0)
            unlink(dest);
    }
    free(buf);
    chunk_list_free(l);
    if (rc != 0 && rc != PGP_ERR_NOMEM)
        pgp_err_context(err, "cannot restore \"%s\" (file \"%s\", stored as chunks)", dest,
                        e->path);
    return rc;
}
