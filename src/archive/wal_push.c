/*
 * wal_push.c - archive one WAL file durably (see wal_push.h for the contract).
 *
 * Why the shape: PostgreSQL waits on archive_command for every segment, so the cost per
 * segment decides whether pg_wal fills the disk under heavy WAL. The source is read once into
 * memory (SourceBuf: a kept buffer or a mapping); wal_push_start hashes it on one worker thread
 * and compresses it into memory on another (object_io_encode, which then decodes the
 * compressed frame again in that thread and compares it with the buffer: src/pipe/mem_codec.c),
 * while the caller opens the repository: on S3 that is a TLS handshake and two
 * requests, so they cost nothing more than the compression they overlap. wal_push_finish then
 * looks for the name in the archive and stores the encoded bytes in one go (one PUT on S3).
 * So when the object is committed we know, without reading it back, that it decodes to
 * exactly the bytes whose checksum is in its name. The final name contains that checksum, so
 * the writer is committed under it at the end.
 */
#include "pgpitr/archive/wal_push.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/common/bufpool.h"
#include "pgpitr/common/fdio.h"
#include "pgpitr/common/log.h"
#include "pgpitr/pg/walhdr.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/repo/object_io.h"


/* The file, in memory that the hashing and the compressing (and verifying) threads share. Where
 * buffers are kept between pushes (bufpool_keeping: the archive module), read into a kept
 * one: on a VM the first touch of each page of a fresh 16 MiB file mapping cost more CPU than
 * hashing it, in each thread reading it. A process that pushes once (archive-push one segment
 * a call) keeps nothing, and there fresh memory page-faulted one page at a time costs more
 * than a mapping populated in one go (perf stat: 185 ms against 110 ms a call), so the file is
 * mapped. */
typedef struct SourceBuf {
    uint8_t *data;
    size_t size, cap;
    bool mapped;
} SourceBuf;

static int source_fill(int fd, const char *path, size_t want, SourceBuf *src, PgpErr *err)
{
    if (!bufpool_keeping()) {
        /* MAP_POPULATE: fault the pages in one go instead of one page fault per 4 KiB. */
        void *p = mmap(NULL, want, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED)
            return PGP_FAIL_SYS(err, errno, "cannot map \"%s\"", path);
        src->data = p;
        src->size = want;
        src->mapped = true;
        return 0;
    }
    src->data = bufpool_take(want, &src->cap);
    if (src->data == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for the %zu bytes of \"%s\"", want,
                        path);
    int e = fd_read_upto(fd, src->data, want, &src->size);
    if (e != 0)
        return PGP_FAIL_SYS(err, e, "cannot read \"%s\"", path);
    if (src->size != want)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" shrank while it was read (%zu of %zu "
                        "bytes)", path, src->size, want);
    return 0;
}

/* Opens and reads path into src; *ident is its identity before the read, *settled whether
 * that identity was settled then (file_ident.h): taken before any byte is read, so a write
 * during or after the read changes it. */
static int source_open(const char *path, SourceBuf *src, FileIdent *ident, bool *settled,
                       PgpErr *err)
{
    *src = (SourceBuf){0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", path);
    struct stat st;
    int rc = fstat(fd, &st) == 0 ? 0 : PGP_FAIL_SYS(err, errno, "cannot stat \"%s\"", path);
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = PGP_FAIL(err, PGP_ERR_INVALID_NAME, "\"%s\" is not a regular file", path);
    if (rc == 0 && st.st_size == 0)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" is empty", path);
    if (rc == 0) {
        file_ident_of(&st, ident);
        *settled = file_ident_settled(ident, file_ident_now_ns());
    }
    if (rc == 0)
        rc = source_fill(fd, path, (size_t)st.st_size, src, err);
    close(fd);      /* a mapping stays valid without it */
    return rc;
}

static void source_close(SourceBuf *src)
{
    if (src->mapped)
        munmap(src->data, src->size);
    else
        bufpool_give(src->data, src->cap);
    *src = (SourceBuf){0};
}

/* A segment's content must match its name; *id is what the repository must be bound to. */
static int check_segment(const PgWalName *name, const char *base, const SourceBuf *src,
                         RepoIdentity *id, PgpErr *err)
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
    *id = (RepoIdentity){hdr.system_identifier, hdr.pg_major, hdr.segsize, false};
    return 0;
}

/* keyed: an encrypted repository, whose names carry keyed names, not SHA-256s (a DBA
 * comparing them with sha256sum must not be told they are). */
static int conflict_error(PgpErr *err, const char *base, bool keyed, const char *have,
                          const char *mine)
{
    const char *what = keyed ? "keyed name" : "sha256";
    PGP_FAIL(err, PGP_ERR_CONFLICT,
             "\"%s\" is already archived with different content (archived %s %s, "
             "this file %s %s)",
             base, what, have, what, mine);
    pgp_err_hint(err,
                 "this happens after a failover or when two clusters share a repository; compare "
                 "both files, and if the archived one is obsolete remove it from the repository");
    return PGP_ERR_CONFLICT;
}

/* ---- the job: encoded ahead, stored once the repository is open ---------------------------- */

struct WalPushJob {
    char path[PATH_MAX];                /* the file as given */
    char base[REPO_PATH_MAX];           /* the file name: what PostgreSQL archives */
    PgWalName name;
    WalPushOptions opt;
    SourceBuf src;
    FileIdent ident;                    /* before the read */
    bool settled;                       /* ident was settled then */
    bool has_header;                    /* a segment or .partial: bound to the repository */
    RepoIdentity id;
    PipeHashJob *hash;                  /* SHA-256 of the source, on its own thread */
    pthread_t encoder;
    bool encoding;                      /* encoder started and not joined yet */
    atomic_bool stop;                   /* the encoding is not needed (already archived) */
    int encode_rc;
    PgpErr encode_err;
    ObjectEncoded encoded;
};

static void *encode_main(void *arg)
{
    WalPushJob *j = arg;
    ObjectWriteOptions wopt = {.codec = j->opt.codec, .level = j->opt.level, .verify = true};
    j->encode_rc = object_io_encode(&wopt, j->src.data, j->src.size, &j->stop, &j->encoded,
                                    &j->encode_err);
    return NULL;
}

/* Waits for the encoder; its failure becomes err (unless it was told to stop). */
static int encode_join(WalPushJob *j, PgpErr *err)
{
    if (!j->encoding)
        return 0;
    pthread_join(j->encoder, NULL);
    j->encoding = false;
    if (j->encode_rc != 0 && err != NULL)
        *err = j->encode_err;
    return j->encode_rc;
}

/* The source's digest into res (may be NULL): its hex, and as the hex of an object name
 * (keyed in an encrypted repository). */
static int hash_join(WalPushJob *j, const CryptoRepoKey *key, WalPushResult *res, PgpErr *err)
{
    uint8_t digest[PIPE_SHA256_LEN];
    PipeHashJob *h = j->hash;
    j->hash = NULL;
    int rc = pipe_sha256_join(h, digest, err);
    if (rc == 0 && res != NULL) {
        pipe_hex(digest, sizeof digest, res->content_sha256);
        rc = object_io_name_hex(key, digest, res->sha256_hex, err);
    }
    return rc;
}

static void job_free(WalPushJob *j)
{
    if (j == NULL)
        return;
    atomic_store(&j->stop, true);
    encode_join(j, NULL);
    if (j->hash != NULL)
        hash_join(j, NULL, NULL, NULL);
    object_io_encoded_free(&j->encoded);
    source_close(&j->src);
    free(j);
}

void wal_push_cancel(WalPushJob *job)
{
    job_free(job);
}

static int job_open(WalPushJob *j, const char *src_path, PgpErr *err)
{
    int rc = source_open(src_path, &j->src, &j->ident, &j->settled, err);
    if (rc == 0 && (j->name.kind == PG_WALFILE_SEGMENT || j->name.kind == PG_WALFILE_PARTIAL)) {
        j->has_header = true;
        rc = check_segment(&j->name, j->base, &j->src, &j->id, err);
    }
    if (rc == 0)
        rc = pipe_sha256_async(j->src.data, j->src.size, &j->hash, err);
    if (rc == 0) {
        int prc = pthread_create(&j->encoder, NULL, encode_main, j);
        if (prc != 0)
            rc = PGP_FAIL_SYS(err, prc, "cannot start a thread to compress \"%s\"", j->base);
        j->encoding = prc == 0;
    }
    return rc;
}

int wal_push_start(const char *src_path, const WalPushOptions *opt, WalPushJob **out,
                   PgpErr *err)
{
    *out = NULL;
    const char *slash = strrchr(src_path, '/');
    const char *base = slash ? slash + 1 : src_path;
    WalPushJob *j = calloc(1, sizeof *j);
    if (j == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    j->opt = *opt;
    atomic_init(&j->stop, false);
    int rc = strlen(base) < sizeof j->base && strlen(src_path) < sizeof j->path ? 0
             : PGP_FAIL(err, PGP_ERR_INVALID_NAME, "file name \"%.64s...\" is too long", base);
    if (rc == 0) {
        memcpy(j->path, src_path, strlen(src_path) + 1);
        memcpy(j->base, base, strlen(base) + 1);
        rc = pg_walname_parse(j->base, &j->name, err);
    }
    if (rc == 0)
        rc = job_open(j, src_path, err);
    if (rc != 0) {
        job_free(j);
        return pgp_err_context(err, "cannot archive \"%s\"", src_path);
    }
    *out = j;
    return 0;
}

/* Publishes the encoded bytes. The object's directory does not depend on the checksum, so
 * the writer is opened under the plain WAL name (never a final name: those carry a checksum)
 * and committed under its final name. */
static int store_new_object(Repo *repo, WalPushJob *j, StorageBatch *batch, WalPushResult *res,
                            PgpErr *err)
{
    char provisional[REPO_PATH_MAX];
    /* Bound to the WAL file's name, which archive-get knows before it reads. */
    ObjectSeal seal = {repo_crypto_key(repo), j->base};
    /* A .history file pushed into an encrypted repository that no segment has bound yet (so
     * no key is made): never stored in clear. */
    if (repo_encrypted(repo) && seal.key == NULL)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "\"%s\" cannot be the first file of an encrypted "
                        "repository: archive a WAL segment or take a backup first", j->base);
    int rc = hash_join(j, seal.key, res, err);
    if (rc == 0)
        rc = encode_join(j, err);
    if (rc == 0)
        rc = repo_archive_provisional_path(j->base, provisional, err);
    if (rc == 0)
        rc = repo_archive_object_path(j->base, res->sha256_hex, j->opt.codec, res->object_path,
                                      err);
    if (rc == 0)
        rc = object_io_store_encoded_in(repo_storage(repo), batch, provisional, &j->encoded,
                                        res->object_path, &seal, &res->stored_size, err);
    return rc == PGP_ERR_CONFLICT ? 0 : rc; /* a concurrent push of identical content won */
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

/* Already archived: same content is success, different content a conflict. */
static int compare_existing(WalPushJob *j, Repo *repo, const RepoArchiveObject *existing,
                            WalPushResult *res, PgpErr *err)
{
    atomic_store(&j->stop, true);   /* the encoded form is not needed */
    int rc = hash_join(j, repo_crypto_key(repo), res, err);
    if (rc != 0)
        return rc;
    if (strcmp(existing->sha256_hex, res->sha256_hex) != 0)
        return conflict_error(err, j->base, repo_crypto_key(repo) != NULL,
                              existing->sha256_hex, res->sha256_hex);
    res->already_archived = true;
    res->stored_size = existing->stored_size;
    memcpy(res->object_path, existing->path, sizeof res->object_path);
    return 0;
}

/* After a successful push (its SHA-256 known, so every byte hashed was read): the source's
 * identity into res when it was settled before the read and is the same now. */
static void note_source(const WalPushJob *j, WalPushResult *res)
{
    FileIdent now;
    if (j->settled && file_ident_path(j->path, &now) == 0 && file_ident_equal(&now, &j->ident)) {
        res->source = j->ident;
        res->source_settled = true;
    }
}

int wal_push_finish(WalPushJob *j, Repo *repo, WalPushResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    res->size = j->src.size;
    int rc = j->has_header ? repo_bind(repo, &j->id, err) : 0;
    RepoArchiveObject existing;
    if (rc == 0)
        rc = repo_archive_find(repo, j->base, &existing, err);
    if (rc == 0) {
        rc = compare_existing(j, repo, &existing, res, err);
    } else if (rc == PGP_ERR_NOT_FOUND) {
        rc = store_new_object(repo, j, NULL, res, err);
        if (rc == 0)
            rc = recheck_unique(repo, j->base, res, err);
    }
    if (rc == 0)
        note_source(j, res);
    if (rc != 0 && rc != PGP_ERR_CONFLICT && rc != PGP_ERR_WRONG_CLUSTER)
        pgp_err_context(err, "cannot archive \"%s\"", j->base);
    job_free(j);
    return rc;
}

int wal_push_finish_known(WalPushJob *j, Repo *repo, const RepoArchiveObject *existing,
                          StorageBatch *batch, WalPushResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    res->size = j->src.size;
    int rc = j->has_header ? repo_bind(repo, &j->id, err) : 0;
    if (rc == 0 && existing != NULL)
        rc = compare_existing(j, repo, existing, res, err);
    else if (rc == 0)
        rc = store_new_object(repo, j, batch, res, err);
    if (rc == 0)
        note_source(j, res);
    if (rc != 0 && rc != PGP_ERR_CONFLICT && rc != PGP_ERR_WRONG_CLUSTER)
        pgp_err_context(err, "cannot archive \"%s\"", j->base);
    job_free(j);
    return rc;
}

int wal_push_file(Repo *repo, const char *src_path, const WalPushOptions *opt,
                  WalPushResult *res, PgpErr *err)
{
    WalPushJob *j = NULL;
    int rc = wal_push_start(src_path, opt, &j, err);
    if (rc != 0) {
        memset(res, 0, sizeof *res);
        return rc;
    }
    return wal_push_finish(j, repo, res, err);
}
