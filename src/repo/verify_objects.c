/*
 * verify_objects.c - the object checker of `pgpitr verify` (contract in verify_objects.h):
 * one object read through its decoder into a counting, hashing sink, and a pool of worker
 * threads over a list of objects. Owns no policy: what a bad object means is verify.c's.
 *
 * The storage is shared by the workers: the posix driver keeps no state per read (each
 * open_read has its own descriptor), like restore's pool relies on.
 */
#include "pgpitr/repo/verify_objects.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/repo/object_io.h"
#include "pgpitr/common/workpool.h"

#define CHUNK (1u << 20)

const char *verify_status_name(VerifyStatus s)
{
    switch (s) {
    case VERIFY_OK: return "ok";
    case VERIFY_MISSING: return "missing";
    case VERIFY_CORRUPT: return "corrupt";
    case VERIFY_UNREADABLE: return "unreadable";
    case VERIFY_PENDING: break;
    }
    return "unchecked";
}

/* The end of the chain: counts original bytes, keeps the head, stops at excess bytes. */
typedef struct CountSink {
    VerifyObject *o;
} CountSink;

static int count_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    CountSink *c = ud;
    VerifyObject *o = c->o;
    if (o->head != NULL && o->head_len < VERIFY_HEAD_LEN) {
        size_t take = VERIFY_HEAD_LEN - o->head_len;
        if (take > len)
            take = len;
        memcpy(o->head + o->head_len, buf, take);
        o->head_len += take;
    }
    o->original += len;
    if (o->size != VERIFY_SIZE_UNKNOWN && o->original > o->size)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "content is larger than the expected %llu bytes",
                        (unsigned long long)o->size);
    return 0;
}

const char *verify_object_reason(const VerifyObject *o)
{
    return o->reason != NULL ? o->reason : "";
}

void verify_object_clear(VerifyObject *o)
{
    free(o->reason);
    o->reason = NULL;
}

/* Out of memory for the text leaves the status right and the reason "". */
static void set_result(VerifyObject *o, VerifyStatus st, const char *reason)
{
    o->status = st;
    verify_object_clear(o);
    if (reason[0] != '\0')
        o->reason = strdup(reason);
}

static void judge(VerifyObject *o, const char *sha, int rc, const PgpErr *e, const ObjectReadResult *res)
{
    char why[VERIFY_REASON_MAX];
    if (res->mismatch)
        rc = 0;   /* read and decoded completely: judged on its size, then its checksum */
    if (rc == PGP_ERR_NOT_FOUND) {
        set_result(o, VERIFY_MISSING, "the object is missing from the repository");
        return;
    }
    if (rc == PGP_ERR_CORRUPT && o->size != VERIFY_SIZE_UNKNOWN && o->original > o->size) {
        snprintf(why, sizeof why, "size mismatch: content is larger than the expected %llu bytes",
                 (unsigned long long)o->size);
        set_result(o, VERIFY_CORRUPT, why);
        return;
    }
    if (rc == PGP_ERR_CORRUPT || rc == PGP_ERR_CODEC) {
        snprintf(why, sizeof why, "does not decode: %.280s", e->msg);
        set_result(o, VERIFY_CORRUPT, why);
        return;
    }
    if (rc != 0) {
        snprintf(why, sizeof why, "cannot read: %.280s", e->msg);
        set_result(o, VERIFY_UNREADABLE, why);
        return;
    }
    if (o->size != VERIFY_SIZE_UNKNOWN && o->original != o->size) {
        snprintf(why, sizeof why, "size mismatch: content has %llu bytes, expected %llu",
                 (unsigned long long)o->original, (unsigned long long)o->size);
        set_result(o, VERIFY_CORRUPT, why);
        return;
    }
    if (res->mismatch) {
        snprintf(why, sizeof why, "checksum mismatch: content has sha256 %s, expected %s",
                 res->sha256_hex, sha);
        set_result(o, VERIFY_CORRUPT, why);
        return;
    }
    set_result(o, VERIFY_OK, "");
}

const char *verify_object_path(const VerifyObject *o, char buf[REPO_PATH_MAX])
{
    if (o->path != NULL || o->item == NULL)
        return o->path != NULL ? o->path : "";
    const char *p = manifest_pack_item_content(o->item, buf);
    return p != NULL ? p : "";
}

int verify_object(Storage *s, const CryptoRepoKey *key, VerifyObject *o, void *buf, size_t size,
                  PgpErr *err)
{
    o->status = VERIFY_PENDING;
    o->stored_read = o->original = 0;
    o->head_len = 0;
    verify_object_clear(o);
    CountSink cs = {.o = o};
    /* a pack's record is unpacked for the time of the read only (the path and checksum of a
     * million objects are not kept twice) */
    ManifestUnpacked u;
    const char *path = o->path, *sha = o->sha256;
    if (o->item != NULL && (path == NULL || sha == NULL)) {
        manifest_pack_unpack(o->item, &u);
        path = path != NULL ? path : u.e.object != NULL ? u.e.object : "";
        sha = sha != NULL ? sha : u.e.sha256;
    }
    ObjectReadOptions opt = {.codec = o->codec, .expect_sha256 = sha, .buf = buf,
                             .buf_size = size};
    ObjectReadResult res = {0};
    char ad[REPO_PATH_MAX];
    PgpErr e;
    pgp_err_clear(&e);
    int rc = object_io_seal_of(key, path, &opt.seal, ad, &opt.expect_name, &e);
    if (rc == 0)
        rc = object_io_read_verify(s, path, &opt, (PipeSink){count_write, &cs}, &res, &e);
    o->stored_read = res.stored;
    if (rc == PGP_ERR_NOMEM) {   /* not the object's fault */
        if (err != NULL)
            *err = e;
        return rc;
    }
    judge(o, sha, rc, &e, &res);
    return 0;
}

/* ---- the pool -------------------------------------------------------------------------- */

typedef struct Pool {
    Storage *storage;
    VerifyObject *objs;
    const VerifyPoolOptions *opt;
    atomic_uint_fast64_t bytes;
} Pool;

/* One object; the thread's scratch buffer is its workpool local. */
static int pool_item(void *ud, size_t i, void **local, PgpErr *err)
{
    Pool *p = ud;
    if (*local == NULL && (*local = malloc(CHUNK)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = verify_object(p->storage, p->opt->key, &p->objs[i], *local, CHUNK, err);
    if (rc == 0)
        atomic_fetch_add(&p->bytes, p->objs[i].stored_read);
    return rc;
}

static void pool_progress(void *ud, uint64_t done)
{
    Pool *p = ud;
    if (p->opt->progress != NULL)
        p->opt->progress(p->opt->progress_ud, done, atomic_load(&p->bytes));
}

static void tally(const VerifyObject *objs, size_t n, VerifyPoolResult *res)
{
    for (size_t i = 0; i < n; i++) {
        if (objs[i].status == VERIFY_PENDING)
            continue;
        res->objects++;
        res->bytes_read += objs[i].stored_read;
        res->bytes_original += objs[i].original;
        if (objs[i].status != VERIFY_OK)
            res->bad++;
    }
}

int verify_objects_run(Storage *s, VerifyObject *objs, size_t n, const VerifyPoolOptions *opt,
                       VerifyPoolResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    for (size_t i = 0; i < n; i++)
        objs[i].status = VERIFY_PENDING;
    Pool p = {.storage = s, .objs = objs, .opt = opt};
    atomic_init(&p.bytes, 0);
    WorkpoolOptions wopt = {.workers = opt->workers, .item = pool_item, .ud = &p,
                            .local_free = free, .progress = pool_progress,
                            .interval_ms = opt->interval_ms, .cancel = opt->cancel,
                            .what = "verify"};
    int rc = workpool_run(n, &wopt, NULL, err);
    tally(objs, n, res);
    if (rc == 0 && res->objects < n)
        rc = PGP_FAIL(err, PGP_ERR_IO, "verify interrupted after %llu of %zu objects",
                      (unsigned long long)res->objects, n);
    return rc;
}
