/*
 * wal_get.c - fetch one archived WAL file into dest (see wal_get.h for the contract).
 *
 * The object streams through decompress -> sha256 -> a temp file beside dest; only when the
 * checksum equals the one in the object's name is the temp renamed to dest. The temp file is
 * not fsynced: PostgreSQL restores into RECOVERYXLOG (or a history file) and makes the file
 * durable itself (durable_rename in KeepFileRestoredFromArchive) when it keeps it; after a
 * crash it asks for the file again, so an fsync here would only add latency to replay.
 *
 * The SHA-256 runs on a worker thread (a tee hands every decoded piece to the temp file and
 * to the hashing thread), because hashing a 16 MiB segment costs more than decoding and
 * writing it: done in line it would nearly double the time PostgreSQL waits for each file
 * during recovery. The digest still covers exactly the bytes written, and nothing is renamed
 * before both are finished and the digest is compared.
 */
#include "pgpitr/archive/wal_get.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/pipe/pipe.h"

#define GET_CHUNK (1u << 20)
/* Queue in front of the hashing thread: small enough to stay in cache, large enough that
 * the decoder rarely waits (it hands on 1 MiB pieces). */
#define HASH_QUEUE_BYTES (2u << 20)

typedef struct DestFile {
    int fd;
    char tmp[PATH_MAX];
    const char *dest;
} DestFile;

static int dest_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    DestFile *d = ud;
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(d->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : ENOSPC; /* a write of 0 bytes means the disk is full */
            return PGP_FAIL_SYS(err, e, "cannot write \"%s\"", d->tmp);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int dest_open(DestFile *d, const char *dest, PgpErr *err)
{
    d->dest = dest;
    const char *slash = strrchr(dest, '/');
    int dirlen = slash ? (int)(slash - dest + 1) : 0;
    const char *base = slash ? slash + 1 : dest;
    if (base[0] == '\0')
        return PGP_FAIL(err, PGP_ERR_USAGE, "destination \"%s\" is a directory", dest);
    int n = snprintf(d->tmp, sizeof d->tmp, "%.*s.%s.pgpitr-tmp.%ld", dirlen, dest, base,
                     (long)getpid());
    if (n < 0 || (size_t)n >= sizeof d->tmp)
        return PGP_FAIL(err, PGP_ERR_USAGE, "destination path \"%s\" is too long", dest);
    d->fd = open(d->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (d->fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create \"%s\"", d->tmp);
    return 0;
}

/* decompress -> tee(thread(sha256), size -> temp file): the hashing thread gets each piece
 * first so it works while this thread writes the piece. */
static int stream_object(Repo *repo, const RepoArchiveObject *obj, DestFile *d,
                         uint8_t digest[PIPE_SHA256_LEN], uint64_t *size, PgpErr *err)
{
    PipeFilter *sizef = NULL, *sha = NULL, *thread = NULL, *tee = NULL, *dec = NULL;
    uint8_t *buf = malloc(GET_CHUNK);
    PipeSink out = {dest_write, d};
    PipeSink discard = {NULL, NULL};
    int rc = buf ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = pipe_size_new(out, &sizef, err);
    if (rc == 0)
        rc = pipe_sha256_new(discard, &sha, err);
    if (rc == 0)
        rc = pipe_thread_new(pipe_filter_sink(sha), HASH_QUEUE_BYTES, &thread, err);
    if (rc == 0)
        rc = pipe_tee_new(pipe_filter_sink(thread), pipe_filter_sink(sizef), &tee, err);
    if (rc == 0)
        rc = pipe_decompress_new(obj->codec, pipe_filter_sink(tee), &dec, err);
    if (rc == 0)
        rc = cmd_pump_object(repo_storage(repo), obj->path, dec, buf, GET_CHUNK, NULL, err);
    /* cmd_pump_object finished dec, hence the whole chain (the thread joined: all hashed) */
    if (rc == 0) {
        pipe_sha256_result(sha, digest);
        *size = pipe_size_result(sizef);
    }
    pipe_filter_free(dec);
    pipe_filter_free(tee);
    pipe_filter_free(thread);   /* stops and joins the worker first if it still runs */
    pipe_filter_free(sha);
    pipe_filter_free(sizef);
    free(buf);
    return rc;
}

int wal_get_file(Repo *repo, const char *walname, const char *dest, WalGetResult *res,
                 PgpErr *err)
{
    memset(res, 0, sizeof *res);
    int rc = repo_archive_find(repo, walname, &res->object, err);
    if (rc != 0)
        return rc;

    DestFile d = {.fd = -1};
    rc = dest_open(&d, dest, err);
    uint8_t digest[PIPE_SHA256_LEN];
    if (rc == 0)
        rc = stream_object(repo, &res->object, &d, digest, &res->size, err);
    if (rc == 0) {
        char hex[PIPE_SHA256_HEX_LEN + 1];
        pipe_hex(digest, sizeof digest, hex);
        if (strcmp(hex, res->object.sha256_hex) != 0)
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT,
                          "checksum mismatch: content has sha256 %s, expected %s", hex,
                          res->object.sha256_hex);
    }
    if (d.fd >= 0 && close(d.fd) != 0 && rc == 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot write \"%s\"", d.tmp);
    if (rc == 0 && rename(d.tmp, dest) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot rename \"%s\" to \"%s\"", d.tmp, dest);
    if (rc != 0) {
        if (d.fd >= 0)
            unlink(d.tmp);
        /* NOT_FOUND means "not archived" to the caller (exit 1 for PostgreSQL): a missing
         * destination directory or an object that vanished while read is a real failure. */
        if (err != NULL && err->code == PGP_ERR_NOT_FOUND)
            err->code = PGP_ERR_IO;
        pgp_err_context(err, "cannot restore \"%s\" from archived object \"%s\"", walname,
                        res->object.path);
        return rc == PGP_ERR_NOT_FOUND ? PGP_ERR_IO : rc;
    }
    return 0;
}
