/*
 * wal_get.c - fetch one archived WAL file into dest (see wal_get.h for the contract).
 *
 * The object streams through object_io's read_verify into a temp file beside dest; only when
 * the checksum equals the one in the object's name is the temp renamed to dest. The temp file is
 * not fsynced: PostgreSQL restores into RECOVERYXLOG (or a history file) and makes the file
 * durable itself (durable_rename in KeepFileRestoredFromArchive) when it keeps it; after a
 * crash it asks for the file again, so an fsync here would only add latency to replay.
 *
 * The SHA-256 runs on a worker thread (object_io's hash_thread), because hashing a 16 MiB
 * segment costs more than decoding and writing it: done in line it would nearly double the
 * time PostgreSQL waits for each file during recovery. The digest still covers exactly the
 * bytes written, and nothing is renamed before both are finished and the digest is compared.
 */
#include "pgpitr/archive/wal_get.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/object_io.h"

#define GET_CHUNK (1u << 20)

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

/* The object through object_io into the temp file, hashed on a worker thread. */
static int stream_object(Repo *repo, const RepoArchiveObject *obj, DestFile *d, WalGetResult *out,
                         PgpErr *err)
{
    uint8_t *buf = malloc(GET_CHUNK);
    if (buf == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    ObjectReadOptions opt = {.codec = obj->codec, .expect_sha256 = obj->sha256_hex,
                             .expect_name = true, .hash_thread = true, .buf = buf,
                             .buf_size = GET_CHUNK};
    char ad[REPO_PATH_MAX];
    ObjectReadResult res = {0};
    int rc = repo_archive_seal(repo, obj, &opt.seal, ad, err);
    if (rc == 0)
        rc = object_io_read_verify(repo_storage(repo), obj->path, &opt,
                                   (PipeSink){dest_write, d}, &res, err);
    out->size = res.size;
    memcpy(out->content_sha256, res.content_sha256, sizeof out->content_sha256);
    free(buf);
    return rc;
}

int wal_get_file(Repo *repo, const char *walname, const char *dest, WalGetResult *res,
                 PgpErr *err)
{
    RepoArchiveObject obj;
    memset(res, 0, sizeof *res);
    int rc = repo_archive_find(repo, walname, &obj, err);
    return rc != 0 ? rc : wal_get_object(repo, &obj, walname, dest, res, err);
}

int wal_get_object(Repo *repo, const RepoArchiveObject *obj, const char *walname,
                   const char *dest, WalGetResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    res->object = *obj;
    DestFile d = {.fd = -1};
    int rc = dest_open(&d, dest, err);
    if (rc == 0)
        rc = stream_object(repo, &res->object, &d, res, err);
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
