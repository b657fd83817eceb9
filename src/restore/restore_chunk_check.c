/*
 * restore_chunk_check.c - every chunk of the chosen backup proven stored before a restore
 * writes anything (restore_chunk_check.h). Called from restore_plan.c's check_objects, after
 * the whole-file objects and the chunk lists were found present.
 *
 * Owns: reading the lists into the set of distinct chunks, and looking each up. Must not: read
 * a chunk (restore_chunks.c fetches and checks them; verify reads them all).
 */
#include "pgpitr/restore/restore_chunk_check.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/extsort.h"
#include "pgpitr/common/workpool.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/chunk_load.h"
#include "pgpitr/repo/repo_layout.h"

/* Distinct chunks held in memory before a sorted run goes to a temporary file: 131,072 x 48
 * bytes = 6 MiB, 128 GiB of relation files at 1 MiB chunks; a larger backup spills runs. */
#define CHUNKS_IN_MEMORY ((size_t)1 << 17)

/* One chunk as stored: the digest its object is named by (the keyed name in an encrypted
 * repository), its codec, and one file using it, to name in an error. Written whole to the
 * set's temporary file: zeroed first, padding included. */
typedef struct ChunkRec {
    uint8_t name[PIPE_SHA256_LEN];
    size_t entry;                       /* the file: index in the pack */
    uint32_t chunk;                     /* its index in that file (< CHUNK_LIST_MAX_CHUNKS) */
    uint8_t codec;
} ChunkRec;

/* By object: equal records are one object, kept once whichever file they came from. */
static int rec_cmp(const void *a, const void *b)
{
    const ChunkRec *x = a, *y = b;
    int r = memcmp(x->name, y->name, sizeof x->name);
    return r != 0 ? r : (x->codec > y->codec) - (x->codec < y->codec);
}

static int rec_path(const ChunkRec *r, char out[REPO_PATH_MAX], PgpErr *err)
{
    char hex[PIPE_SHA256_HEX_LEN + 1];
    pipe_hex(r->name, sizeof r->name, hex);
    return repo_object_path(hex, (PipeCodec)r->codec, out, err);
}

static void hint_nothing_written(PgpErr *err)
{
    pgp_err_hint(err, "nothing was written; choose another backup with --backup LABEL");
}

/* ---- reading the lists ------------------------------------------------------------------- */

typedef struct Lists {
    const RestoreChunkCheck *c;
    const BackupManifest *m;
    const ManifestPack *files;
    const size_t *chunked;              /* pack indexes of the chunked files */
    ExtSort *set;
    pthread_mutex_t mu;                 /* set */
} Lists;

/* The records of list l (file `entry`) added to the set; the names are made outside the lock
 * (an HMAC each in an encrypted repository), in place of the list's digests. */
static int add_list(Lists *p, size_t entry, ChunkList *l, PgpErr *err)
{
    char path[REPO_PATH_MAX];
    uint8_t codec = 0;
    for (size_t i = 0; i < l->n; i++) {
        int rc = chunk_list_object_path(l, i, path, err);
        if (rc != 0)
            return rc;
        if (!object_index_parse(path, l->digests[i], &codec))
            return PGP_FAIL(err, PGP_ERR_INTERNAL, "\"%s\" is not a content address", path);
    }
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        ChunkRec r;
        memset(&r, 0, sizeof r);
        memcpy(r.name, l->digests[i], sizeof r.name);
        r.entry = entry;
        r.chunk = (uint32_t)i;
        r.codec = codec;
        rc = extsort_add(p->set, &r, err);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int list_item(void *ud, size_t k, void **local, PgpErr *err)
{
    (void)local;
    Lists *p = ud;
    ManifestUnpacked u;
    manifest_pack_unpack(manifest_pack_at(p->files, p->chunked[k]), &u);
    ChunkList *l = NULL;
    int rc = chunk_list_load(p->c->s, p->c->key, &u.e, &l, err);
    if (rc == PGP_ERR_CORRUPT) {
        pgp_err_context(err, "backup \"%s\" is damaged", p->m->label);
        hint_nothing_written(err);
    } else if (rc != 0 && rc != PGP_ERR_NOMEM) {
        pgp_err_context(err, "cannot check the chunks of backup \"%s\"", p->m->label);
    }
    if (rc == 0)
        rc = add_list(p, p->chunked[k], l, err);
    chunk_list_free(l);
    return rc;
}

/* The pack indexes of the chunked files: *out NULL when there is none. */
static int chunked_files(const ManifestPack *files, size_t **out, size_t *n, PgpErr *err)
{
    size_t count = manifest_pack_count(files);
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < count; i++)
        *n += manifest_pack_item_chunked(manifest_pack_at(files, i));
    if (*n == 0)
        return 0;
    if ((*out = malloc(*n * sizeof **out)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0, k = 0; i < count; i++)
        if (manifest_pack_item_chunked(manifest_pack_at(files, i)))
            (*out)[k++] = i;
    return 0;
}

static int read_lists(Lists *p, size_t n, PgpErr *err)
{
    pthread_mutex_init(&p->mu, NULL);
    WorkpoolOptions w = {.workers = p->c->workers, .item = list_item, .ud = p,
                         .what = "restore"};
    uint64_t done = 0;
    int rc = workpool_run(n, &w, &done, err);
    pthread_mutex_destroy(&p->mu);
    if (rc == 0 && done < n)
        rc = PGP_FAIL(err, PGP_ERR_INTERNAL, "%" PRIu64 " of %zu chunk lists read", done, n);
    return rc;
}

/* ---- looking the chunks up ---------------------------------------------------------------- */

/* "backup "L" is damaged: object "O" (chunk 3, bytes 3145728..4194303 of "base/5/16384") is
 * missing from the repository". */
static int missing(const Lists *p, const ChunkRec *r, const char *path, PgpErr *err)
{
    ManifestUnpacked u;
    manifest_pack_unpack(manifest_pack_at(p->files, r->entry), &u);
    uint64_t cs = (uint64_t)1 << u.e.chunk_shift, off = (uint64_t)r->chunk * cs;
    uint64_t end = off + cs < u.e.size ? off + cs : u.e.size;
    PGP_FAIL(err, PGP_ERR_CORRUPT, "backup \"%s\" is damaged: object \"%s\" (chunk %" PRIu32
             ", bytes %" PRIu64 "..%" PRIu64 " of \"%s\", stored as chunks) is missing from the "
             "repository", p->m->label, path, r->chunk, off, end - 1, u.e.path);
    hint_nothing_written(err);
    return PGP_ERR_CORRUPT;
}

/* Every distinct chunk told to the index first (it decides between listing a directory and
 * a request per object by how many lookups it expects there), then looked up. */
static int look_up(const Lists *p, size_t n, PgpErr *err)
{
    char path[REPO_PATH_MAX];
    ChunkRec r;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if ((rc = extsort_get(p->set, i, &r, err)) == 0 && (rc = rec_path(&r, path, err)) == 0)
            object_index_expect(p->c->ix, path);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = extsort_get(p->set, i, &r, err);
        if (rc == 0)
            rc = rec_path(&r, path, err);
        if (rc == 0)
            rc = object_index_stat(p->c->ix, path, NULL, err);
        if (rc == PGP_ERR_NOT_FOUND)
            return missing(p, &r, path, err);
        if (rc != 0)
            pgp_err_context(err, "cannot check chunk object \"%s\" of backup \"%s\"", path,
                            p->m->label);
    }
    return rc;
}

int restore_chunk_check(const RestoreChunkCheck *c, const BackupManifest *m,
                        const ManifestPack *files, RestoreChunkCheckResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    Lists p = {.c = c, .m = m, .files = files};
    size_t *chunked = NULL, n = 0;
    int rc = chunked_files(files, &chunked, &n, err);
    if (rc != 0 || n == 0)
        return rc;
    p.chunked = chunked;
    rc = extsort_new(sizeof(ChunkRec), rec_cmp, c->in_memory > 0 ? c->in_memory
                                                                : CHUNKS_IN_MEMORY,
                     NULL, &p.set, err);
    if (rc == 0)
        rc = read_lists(&p, n, err);
    if (rc == 0)
        rc = extsort_finish(p.set, err);
    if (rc == 0) {
        res->lists = n;
        res->chunks = extsort_count(p.set);
        res->spilled_runs = extsort_spilled_runs(p.set);
        rc = look_up(&p, res->chunks, err);
    }
    extsort_free(p.set);
    free(chunked);
    return rc;
}
