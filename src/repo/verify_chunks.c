/*
 * verify_chunks.c - verify's reading of chunked files (verify_chunks.h): the plan (chunked
 * entries grouped by list), the lists read and checked on a worker pool, the distinct chunks
 * collected and read on a worker pool, and the second pass over the lists that finds where
 * each bad chunk is used. Says nothing about what damage breaks (verify_check.c does).
 */
#include "pgpitr/repo/verify_chunks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/extsort.h"
#include "pgpitr/common/grow.h"
#include "pgpitr/common/workpool.h"
#include "pgpitr/repo/chunk_load.h"

#define SCRATCH (1u << 20)
/* Distinct chunks held in memory before a sorted run goes to a temporary file (extsort.h):
 * 262,144 x 40 bytes = 10 MiB, about 260 GiB of relation files at 1 MiB chunks. */
#define CHUNKS_IN_MEMORY ((size_t)1 << 18)

static int nomem(PgpErr *err)
{
    return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory verifying chunked files");
}

/* ---- the plan -------------------------------------------------------------------------- */

const ManifestEntry *verify_chunk_ref_entry(const Catalog *c, const VerifyChunkRef *r,
                                            ManifestUnpacked *u)
{
    manifest_pack_unpack(manifest_pack_at(c->backups[r->backup].files, r->entry), u);
    return &u->e;
}

/* By list object, then file, tablespace, backup: the files of one list are adjacent, and
 * the backups holding one file of one list too. */
static int ref_cmp(const void *a, const void *b, void *cat)
{
    const VerifyChunkRef *x = a, *y = b;
    ManifestUnpacked ux, uy;
    const ManifestEntry *ex = verify_chunk_ref_entry(cat, x, &ux);
    const ManifestEntry *ey = verify_chunk_ref_entry(cat, y, &uy);
    int r = strcmp(ex->chunk_list, ey->chunk_list);
    if (r == 0)
        r = strcmp(ex->path, ey->path);
    if (r == 0 && ex->tablespace != ey->tablespace)
        r = ex->tablespace < ey->tablespace ? -1 : 1;
    if (r == 0 && x->backup != y->backup)
        r = x->backup < y->backup ? -1 : 1;
    if (r == 0 && x->entry != y->entry)
        r = x->entry < y->entry ? -1 : 1;
    return r;
}

static bool checked(const CatalogBackup *b, const CatalogBackup *only)
{
    return b->status == CATALOG_BACKUP_COMPLETE && (only == NULL || only == b) &&
           b->files != NULL;
}

static int group_lists(VerifyChunks *v)
{
    size_t k = 0;
    v->list_first = calloc(v->n_refs + 1, sizeof *v->list_first);
    if (v->list_first == NULL)
        return PGP_ERR_NOMEM;
    ManifestUnpacked ua, ub;
    for (size_t i = 0; i < v->n_refs; i++)
        if (i == 0 || strcmp(verify_chunk_ref_entry(v->c, &v->refs[i], &ua)->chunk_list,
                             verify_chunk_ref_entry(v->c, &v->refs[i - 1], &ub)->chunk_list) != 0)
            v->list_first[k++] = i;
    v->list_first[k] = v->n_refs;
    v->n_lists = k;
    return 0;
}

int verify_chunks_plan(const Catalog *c, const CatalogBackup *only, VerifyChunks *out,
                       PgpErr *err)
{
    memset(out, 0, sizeof *out);
    out->c = c;
    size_t cap = 0;
    for (size_t i = 0; i < c->n_backups; i++) {
        const CatalogBackup *b = &c->backups[i];
        if (!checked(b, only))
            continue;
        for (size_t e = 0, n = manifest_pack_count(b->files); e < n; e++) {
            if (!manifest_pack_item_chunked(manifest_pack_at(b->files, e)))
                continue;
            if (GROW(out->refs, out->n_refs, cap, 64, NULL, NULL) != 0) {
                verify_chunks_free(out);
                return nomem(err);
            }
            out->refs[out->n_refs++] = (VerifyChunkRef){i, e};
        }
    }
    if (out->n_refs > 0)
        qsort_r(out->refs, out->n_refs, sizeof *out->refs, ref_cmp, (void *)c);
    if (group_lists(out) != 0) {
        verify_chunks_free(out);
        return nomem(err);
    }
    return 0;
}

/* ---- the set of distinct chunks --------------------------------------------------------- */

static int chunk_cmp(const void *a, const void *b)
{
    const VerifyChunk *x = a, *y = b;
    int r = memcmp(x->digest, y->digest, sizeof x->digest);
    return r != 0 ? r : (x->codec > y->codec) - (x->codec < y->codec);
}

/* Adds the chunks of l (under the caller's lock) to the set, which keeps each once. */
static int add_chunks(VerifyChunks *v, const ChunkList *l, PgpErr *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        VerifyChunk ch;
        memset(&ch, 0, sizeof ch);       /* padding too: the record may go to a file */
        ch.codec = (uint8_t)l->codec;
        ch.status = VERIFY_PENDING;
        uint64_t off, len;
        chunk_list_extent(l, i, &off, &len);
        memcpy(ch.digest, l->digests[i], sizeof ch.digest);
        ch.len = (uint32_t)len;
        rc = extsort_add(v->set, &ch, err);
    }
    return rc;
}

static int bad_key_cmp(const void *key, const void *b)
{
    return chunk_cmp(key, &((const VerifyChunkBad *)b)->ch);
}

/* The bad chunk with this digest and codec, NULL when it is not bad (bad is sorted by
 * chunk, which is the set's (digest, codec) order). */
static const VerifyChunkBad *find_bad(const VerifyChunks *v, const uint8_t *digest,
                                      PipeCodec codec)
{
    VerifyChunk key;
    memcpy(key.digest, digest, sizeof key.digest);
    key.codec = (uint8_t)codec;
    return bsearch(&key, v->bad, v->n_bad, sizeof *v->bad, bad_key_cmp);
}

int verify_chunk_path(const VerifyChunk *ch, const CryptoRepoKey *key, char out[REPO_PATH_MAX],
                      PgpErr *err)
{
    char hex[PIPE_SHA256_HEX_LEN + 1];
    int rc = object_io_name_hex(key, ch->digest, hex, err);
    return rc != 0 ? rc : repo_object_path(hex, (PipeCodec)ch->codec, out, err);
}

/* ---- reading the lists ------------------------------------------------------------------ */

typedef struct Lists {
    VerifyChunks *v;
    Storage *s;
    const CryptoRepoKey *key;
    bool second;                /* the second pass: find the uses of bad chunks */
    pthread_mutex_t mu;
} Lists;

/* Every other file of list k must be described by it too (size, chunk size, count): each
 * ref's slot is its own, no lock needed. */
static int check_other_refs(VerifyChunks *v, size_t k, const ChunkList *l)
{
    for (size_t r = v->list_first[k] + 1; r < v->list_first[k + 1]; r++) {
        ManifestUnpacked u;
        const ManifestEntry *e = verify_chunk_ref_entry(v->c, &v->refs[r], &u);
        uint64_t cs = (uint64_t)1 << e->chunk_shift;
        PgpErr e2 = {0};
        if (chunk_list_check(l, "the list", e->size, cs, chunk_count(e->size, cs), l->codec,
                             &e2) == 0)
            continue;
        if ((v->ref_error[r] = strdup(e2.msg)) == NULL)
            return PGP_ERR_NOMEM;
    }
    return 0;
}

/* The second pass: every chunk of l that was found bad is a use to report. */
static int find_uses(Lists *p, size_t k, const ChunkList *l)
{
    VerifyChunks *v = p->v;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        const VerifyChunkBad *b = find_bad(v, l->digests[i], l->codec);
        if (b == NULL)
            continue;
        pthread_mutex_lock(&p->mu);
        rc = GROW(v->hits, v->n_hits, v->cap_hits, 16, NULL, NULL);
        if (rc == 0)
            v->hits[v->n_hits++] = (VerifyChunkHit){b->chunk, k, i};
        pthread_mutex_unlock(&p->mu);
    }
    return rc;
}

/* List k, read for its first file. In the second pass a list that no longer loads is
 * skipped (under the READ lock it cannot change; its uses then go unnamed). */
static int list_item(void *ud, size_t k, void **local, PgpErr *err)
{
    (void)local;
    Lists *p = ud;
    VerifyChunks *v = p->v;
    if (p->second && v->list_error[k] != NULL)
        return 0;
    ManifestUnpacked u;
    const ManifestEntry *e = verify_chunk_ref_entry(v->c, &v->refs[v->list_first[k]], &u);
    ChunkList *l = NULL;
    PgpErr e2 = {0};
    int rc = chunk_list_load(p->s, p->key, e, &l, &e2);
    if (rc == PGP_ERR_NOMEM) {
        *err = e2;
        return rc;
    }
    int bad = 0;
    pthread_mutex_lock(&p->mu);
    v->list_reads++;
    if (!p->second && rc != 0)
        bad = (v->list_error[k] = strdup(e2.msg)) == NULL ? nomem(err) : 0;
    else if (!p->second)
        bad = add_chunks(v, l, err);     /* memory, or the set's temporary file */
    pthread_mutex_unlock(&p->mu);
    if (rc == 0 && bad == 0 && (p->second ? find_uses(p, k, l) : check_other_refs(v, k, l)) != 0)
        bad = nomem(err);
    chunk_list_free(l);
    return bad;
}

static int read_lists(Storage *s, VerifyChunks *v, bool second, const VerifyPoolOptions *opt,
                      PgpErr *err)
{
    Lists p = {.v = v, .s = s, .key = opt->key, .second = second};
    pthread_mutex_init(&p.mu, NULL);
    WorkpoolOptions w = {.workers = opt->workers, .item = list_item, .ud = &p,
                         .cancel = opt->cancel, .what = "verify"};
    uint64_t done = 0;
    int rc = workpool_run(v->n_lists, &w, &done, err);
    pthread_mutex_destroy(&p.mu);
    if (rc == 0 && done < v->n_lists)
        rc = PGP_FAIL(err, PGP_ERR_IO, "verify interrupted after %llu of %zu chunk lists",
                      (unsigned long long)done, v->n_lists);
    return rc;
}

/* ---- reading the chunks ----------------------------------------------------------------- */

typedef struct Chunks {
    VerifyChunks *v;
    Storage *s;
    const VerifyPoolOptions *opt;
    pthread_mutex_t mu;
    atomic_uint_fast64_t bytes;
} Chunks;

static int chunk_item(void *ud, size_t i, void **local, PgpErr *err)
{
    Chunks *p = ud;
    VerifyChunk chunk, *ch = &chunk;
    if (*local == NULL && (*local = malloc(SCRATCH)) == NULL)
        return nomem(err);
    char path[REPO_PATH_MAX];
    int rc = extsort_get(p->v->set, i, ch, err);
    if (rc == 0)
        rc = verify_chunk_path(ch, p->opt->key, path, err);
    if (rc != 0)
        return rc;
    char sha[PIPE_SHA256_HEX_LEN + 1];
    pipe_hex(ch->digest, sizeof ch->digest, sha);
    VerifyObject o = {.path = path, .sha256 = sha, .codec = (PipeCodec)ch->codec, .size = ch->len};
    rc = verify_object(p->s, p->opt->key, &o, *local, SCRATCH, err);
    if (rc != 0)
        return rc;
    ch->status = (uint8_t)o.status;
    atomic_fetch_add(&p->bytes, o.stored_read);
    pthread_mutex_lock(&p->mu);
    p->v->pool.bytes_read += o.stored_read;
    p->v->pool.bytes_original += o.original;
    if (o.status != VERIFY_OK) {
        VerifyChunks *v = p->v;
        if (GROW(v->bad, v->n_bad, v->cap_bad, 16, NULL, NULL) != 0)
            rc = nomem(err);
        else
            v->bad[v->n_bad++] = (VerifyChunkBad){i, o.reason, *ch}, o.reason = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    verify_object_clear(&o);
    return rc;
}

static void chunk_progress(void *ud, uint64_t done)
{
    Chunks *p = ud;
    if (p->opt->progress != NULL)
        p->opt->progress(p->opt->progress_ud, done, atomic_load(&p->bytes));
}

static int bad_cmp(const void *a, const void *b)
{
    const VerifyChunkBad *x = a, *y = b;
    return (x->chunk > y->chunk) - (x->chunk < y->chunk);
}

static int hit_cmp(const void *a, const void *b)
{
    const VerifyChunkHit *x = a, *y = b;
    if (x->chunk != y->chunk)
        return x->chunk < y->chunk ? -1 : 1;
    if (x->list != y->list)
        return x->list < y->list ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int read_chunks(Storage *s, VerifyChunks *v, const VerifyPoolOptions *opt, PgpErr *err)
{
    Chunks p = {.v = v, .s = s, .opt = opt};
    pthread_mutex_init(&p.mu, NULL);
    atomic_init(&p.bytes, 0);
    WorkpoolOptions w = {.workers = opt->workers, .item = chunk_item, .ud = &p,
                         .local_free = free, .progress = chunk_progress,
                         .interval_ms = opt->interval_ms, .cancel = opt->cancel,
                         .what = "verify"};
    uint64_t done = 0;
    int rc = workpool_run(v->n_chunks, &w, &done, err);
    pthread_mutex_destroy(&p.mu);
    v->pool.objects = done;
    v->pool.bad = v->n_bad;
    if (rc == 0 && done < v->n_chunks)
        rc = PGP_FAIL(err, PGP_ERR_IO, "verify interrupted after %llu of %zu chunks",
                      (unsigned long long)done, v->n_chunks);
    if (v->n_bad > 0)
        qsort(v->bad, v->n_bad, sizeof *v->bad, bad_cmp);
    return rc;
}

int verify_chunks_run(Storage *s, VerifyChunks *v, const VerifyPoolOptions *opt, PgpErr *err)
{
    v->ran = true;
    v->key = opt->key;
    if (v->n_lists == 0)
        return 0;
    v->list_error = calloc(v->n_lists, sizeof *v->list_error);
    v->ref_error = calloc(v->n_refs, sizeof *v->ref_error);
    if (v->list_error == NULL || v->ref_error == NULL)
        return nomem(err);
    int rc = extsort_new(sizeof(VerifyChunk), chunk_cmp,
                         v->in_memory > 0 ? v->in_memory : CHUNKS_IN_MEMORY, NULL, &v->set, err);
    if (rc == 0)
        rc = read_lists(s, v, false, opt, err);
    if (rc == 0)
        rc = extsort_finish(v->set, err);
    if (rc != 0)
        return rc;
    v->n_chunks = extsort_count(v->set);
    rc = read_chunks(s, v, opt, err);
    if (rc == 0 && v->n_bad > 0)
        rc = read_lists(s, v, true, opt, err);
    if (rc == 0 && v->n_hits > 0)
        qsort(v->hits, v->n_hits, sizeof *v->hits, hit_cmp);
    return rc;
}

void verify_chunks_free(VerifyChunks *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; v->list_error != NULL && i < v->n_lists; i++)
        free(v->list_error[i]);
    for (size_t i = 0; v->ref_error != NULL && i < v->n_refs; i++)
        free(v->ref_error[i]);
    for (size_t i = 0; i < v->n_bad; i++)
        free(v->bad[i].reason);
    free(v->list_error);
    free(v->ref_error);
    free(v->refs);
    free(v->list_first);
    extsort_free(v->set);
    free(v->bad);
    free(v->hits);
    memset(v, 0, sizeof *v);
}
