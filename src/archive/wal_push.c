/*
 * wal_push.c - archive one WAL file durably (see wal_push.h for the contract).
 *
 * Why the shape: PostgreSQL waits on archive_command for every segment, so the cost per
 * segment decides whether pg_wal fills the disk under heavy WAL. The source is mapped once
 * and handed to object_io_write, which hashes it on a worker thread while compressing it into
 * the storage writer, and decodes the compressed stream again on a second worker to compare
 * it with the mapping. So when the object is committed we know, without reading it back, that
 * it decodes to exactly the bytes whose checksum is in its name. The final name contains that
 * checksum, so the writer is committed under it at the end.
 */
#include "pgpitr/archive/wal_push.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/common/log.h"
#include "pgpitr/pg/walhdr.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/repo/object_io.h"


typedef struct SourceMap {
    int fd;
    const uint8_t *data;
    size_t size;
} SourceMap;

static int source_open(const char *path, SourceMap *src, PgpErr *err)
{
    src->fd = open(path, O_RDONLY | O_CLOEXEC);
    src->data = NULL;
    src->size = 0;
    if (src->fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", path);
    struct stat st;
    if (fstat(src->fd, &st) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot stat \"%s\"", path);
    if (!S_ISREG(st.st_mode))
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "\"%s\" is not a regular file", path);
    if (st.st_size == 0)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" is empty", path);
    src->size = (size_t)st.st_size;
    /* MAP_POPULATE: fault the pages in one go instead of one page fault per 4 KiB. */
    void *p = mmap(NULL, src->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, src->fd, 0);
    if (p == MAP_FAILED)
        return PGP_FAIL_SYS(err, errno, "cannot map \"%s\"", path);
    src->data = p;
    return 0;
}

static void source_close(SourceMap *src)
{
    if (src->data != NULL)
        munmap((void *)src->data, src->size);
    if (src->fd >= 0)
        close(src->fd);
}

/* A segment's content must match its name and the repository's cluster. */
static int check_segment(Repo *repo, const PgWalName *name, const char *base,
                         const SourceMap *src, PgpErr *err)
{
    PgWalHeader hdr;
    int rc = pg_walhdr_parse(src->data, src->size, &hdr, err);
    if (rc != 0)
        return pgp_err_context(err, "\"%s\" is not a valid WAL segment", base);
    if (src->size != hdr.segsize)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "\"%s\" has %zu bytes but its WAL segment size is %" PRIu32
                        " (truncated or damaged file)",
                        base, src->size, hdr.segsize);
    uint64_t segno = 0;
    if (!pg_walname_segno(name, hdr.segsize, &segno) || segno * hdr.segsize != hdr.pageaddr) {
        char lsn[20];
        pg_lsn_format(hdr.pageaddr, lsn);
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "\"%s\" starts at WAL position %s, which does not belong to that file name",
                        base, lsn);
    }
    RepoIdentity id = {hdr.system_identifier, hdr.pg_major, hdr.segsize};
    return repo_bind(repo, &id, err);
}

static int conflict_error(PgpErr *err, const char *base, const char *have, const char *mine)
{
    PGP_FAIL(err, PGP_ERR_CONFLICT,
             "\"%s\" is already archived with different content (archived sha256 %s, "
             "this file sha256 %s)",
             base, have, mine);
    pgp_err_hint(err,
                 "this happens after a failover or when two clusters share a repository; compare "
                 "both files, and if the archived one is obsolete remove it from the repository");
    return PGP_ERR_CONFLICT;
}

typedef struct PushName {
    const char *base;
    PipeCodec codec;
} PushName;

/* The final name carries the checksum: <name>-<sha256><ext>. */
static int push_name(void *ud, const char *sha256_hex, char out[REPO_PATH_MAX], PgpErr *err)
{
    const PushName *n = ud;
    return repo_archive_object_path(n->base, sha256_hex, n->codec, out, err);
}

/* Compress, verify and publish (object_io). The object's directory does not depend on the
 * checksum, so the writer is opened under the plain WAL name (never a final name: those carry
 * a checksum) before the checksum is known and committed under its final name. */
static int store_new_object(Repo *repo, const char *base, const WalPushOptions *opt,
                            const SourceMap *src, WalPushResult *res, PgpErr *err)
{
    char provisional[REPO_PATH_MAX];
    int rc = repo_archive_provisional_path(base, provisional, err);
    if (rc != 0)
        return rc;
    ObjectWriteOptions wopt = {.codec = opt->codec, .level = opt->level, .verify = true};
    PushName name = {base, opt->codec};
    ObjectWriteResult w;
    rc = object_io_write(repo_storage(repo), provisional, &wopt, src->data, src->size, push_name,
                         &name, &w, err);
    if (rc != 0 && rc != PGP_ERR_CONFLICT)
        return rc;
    memcpy(res->sha256_hex, w.sha256_hex, sizeof res->sha256_hex);
    memcpy(res->object_path, w.path, sizeof res->object_path);
    res->stored_size = w.stored_size;
    return 0;   /* CONFLICT: a concurrent push of identical content won the race */
}

/* A concurrent push of different content under the same name could have landed beside
 * ours; then neither is trustworthy on its own: take ours back and fail loudly. */
static int recheck_unique(Repo *repo, const char *base, WalPushResult *res, PgpErr *err)
{
    RepoArchiveObject found;
    int rc = repo_archive_find(repo, base, &found, err);
    if (rc == PGP_ERR_CONFLICT) {
        PgpErr ignore;
        storage_remove(repo_storage(repo), res->object_path, &ignore);
        return rc;
    }
    return rc;
}

int wal_push_file(Repo *repo, const char *src_path, const WalPushOptions *opt,
                  WalPushResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    const char *slash = strrchr(src_path, '/');
    const char *base = slash ? slash + 1 : src_path;
    PgWalName name;
    int rc = pg_walname_parse(base, &name, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot archive \"%s\"", src_path);

    SourceMap src;
    rc = source_open(src_path, &src, err);
    if (rc != 0)
        goto out;
    res->size = src.size;
    if (name.kind == PG_WALFILE_SEGMENT || name.kind == PG_WALFILE_PARTIAL) {
        rc = check_segment(repo, &name, base, &src, err);
        if (rc != 0)
            goto out;
    }

    RepoArchiveObject existing;
    rc = repo_archive_find(repo, base, &existing, err);
    if (rc == 0) {
        uint8_t digest[PIPE_SHA256_LEN];
        rc = pipe_sha256_buf(src.data, src.size, digest, err);
        if (rc != 0)
            goto out;
        pipe_hex(digest, sizeof digest, res->sha256_hex);
        if (strcmp(existing.sha256_hex, res->sha256_hex) != 0) {
            rc = conflict_error(err, base, existing.sha256_hex, res->sha256_hex);
            goto out;
        }
        res->already_archived = true;
        res->stored_size = existing.stored_size;
        memcpy(res->object_path, existing.path, sizeof res->object_path);
        goto out;
    }
    if (rc != PGP_ERR_NOT_FOUND)
        goto out;
    rc = store_new_object(repo, base, opt, &src, res, err);
    if (rc == 0)
        rc = recheck_unique(repo, base, res, err);
out:
    source_close(&src);
    if (rc != 0 && rc != PGP_ERR_CONFLICT && rc != PGP_ERR_WRONG_CLUSTER)
        pgp_err_context(err, "cannot archive \"%s\"", base);
    return rc;
}
