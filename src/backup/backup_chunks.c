/*
 * backup_chunks.c - a large file stored as chunks (backup_chunks.h, docs/chunking.md).
 *
 * Chunks are ordinary content-addressed objects: a chunk is stored exactly as a whole small
 * file is (backup_store_file: hashed, looked up in the object index, compressed alone with the
 * backup's codec and written unless present), so an unchanged chunk of a changed 1 GiB segment
 * costs one lookup, and a chunk equal to any object already stored (of this backup or an
 * earlier one) is stored once. The chunks of one file are stored by whichever workers are
 * free, in any order; each records its digest at its index, and the one that completes the
 * file stores the list. Memory: the list's digests (32 bytes a chunk) per file being stored,
 * besides the chunks in flight, which the pool's budget bounds.
 */
#include "pgpitr/backup/backup_chunks.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/repo/chunk_list.h"

struct BackupChunked {
    pthread_mutex_t mu;         /* everything below that changes */
    int refs;
    char *path;
    uint32_t tablespace, mode;
    int64_t mtime;
    uint32_t crc32c;
    bool has_crc32c;
    ChunkList *list;            /* digests filled in as chunks are stored */
    size_t stored_chunks;
    uint64_t stored, uploaded, new_chunks;
};

/* The chunk shift of CHUNK_SIZE_DEFAULT, for the manifest entry. */
static uint8_t default_shift(void)
{
    uint8_t shift = 0;
    while (((uint64_t)1 << shift) < CHUNK_SIZE_DEFAULT)
        shift++;
    return shift;
}

bool backup_store_chunks(uint64_t size)
{
    return chunk_file_chunked(size, CHUNK_SIZE_DEFAULT);
}

int backup_chunked_new(const BackupFileJob *meta, PipeCodec codec, BackupChunked **out,
                       PgpErr *err)
{
    *out = NULL;
    if (!backup_store_chunks(meta->size))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "\"%s\": %zu bytes is not a chunked file",
                        meta->path, meta->size);
    BackupChunked *c = calloc(1, sizeof *c);
    if (c == NULL || (c->path = strdup(meta->path)) == NULL) {
        free(c);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    int rc = chunk_list_new(meta->size, CHUNK_SIZE_DEFAULT, codec, &c->list, err);
    if (rc != 0) {
        free(c->path);
        free(c);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->refs = 1;
    c->tablespace = meta->tablespace;
    c->mode = meta->mode;
    c->mtime = meta->mtime;
    *out = c;
    return 0;
}

BackupChunked *backup_chunked_ref(BackupChunked *c)
{
    pthread_mutex_lock(&c->mu);
    c->refs++;
    pthread_mutex_unlock(&c->mu);
    return c;
}

void backup_chunked_unref(BackupChunked *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    bool last = --c->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&c->mu);
    chunk_list_free(c->list);
    free(c->path);
    free(c);
}

const char *backup_chunked_path(const BackupChunked *c) { return c->path; }
uint64_t backup_chunked_count(const BackupChunked *c) { return c->list->n; }

void backup_chunked_extent(const BackupChunked *c, uint64_t i, uint64_t *off, uint64_t *len)
{
    chunk_list_extent(c->list, (size_t)i, off, len);
}

void backup_chunked_set_crc32c(BackupChunked *c, uint32_t crc32c)
{
    pthread_mutex_lock(&c->mu);
    c->crc32c = crc32c;
    c->has_crc32c = true;
    pthread_mutex_unlock(&c->mu);
}

/* The list of a file whose chunks are all stored: its canonical text stored as one more
 * content-addressed object (unchanged file, same list: nothing uploaded), and the file's
 * result. Only the worker that stored the last chunk gets here: nothing else touches c. */
static int store_list(Storage *s, const BackupStoreOptions *opt, BackupChunked *c,
                      BackupStoreResult *res, PgpErr *err)
{
    char *text = NULL;
    size_t len = 0;
    /* The list names the chunks: they are committed first, so that nothing named ever
     * references an object that a crash could still take away. */
    int rc = opt->batch != NULL ? storage_batch_flush(opt->batch, err) : 0;
    if (rc != 0)
        return rc;
    rc = chunk_list_to_json(c->list, &text, &len, err);
    if (rc == 0)
        rc = backup_store_file(s, opt, (const uint8_t *)text, len, NULL, res, err);
    free(text);
    if (rc != 0) {
        pgp_err_context(err, "cannot store its chunk list");
        return rc;
    }
    uint64_t list_new = res->reused ? 0 : res->stored_size;
    res->stored_size += c->stored;
    res->new_stored_size = list_new + c->uploaded;
    res->reused = res->new_stored_size == 0 && c->new_chunks == 0;
    res->chunk_shift = default_shift();
    res->chunks = c->list->n;
    res->new_chunks = c->new_chunks;
    return 0;
}

int backup_chunked_store(Storage *s, const BackupStoreOptions *opt, const BackupFileJob *job,
                         BackupFileJob *file, BackupStoreResult *res, bool *complete,
                         PgpErr *err)
{
    BackupChunked *c = job->chunked;
    *complete = false;
    uint8_t digest[PIPE_SHA256_LEN];
    BackupStoreResult cr;
    int rc = pipe_sha256_buf(job->data, job->size, digest, err);
    if (rc == 0)
        rc = backup_store_file(s, opt, job->data, job->size, digest, &cr, err);
    if (rc != 0) {
        uint64_t off, len;
        backup_chunked_extent(c, job->chunk_index, &off, &len);
        pgp_err_context(err, "chunk %" PRIu64 " (bytes %" PRIu64 "..%" PRIu64 ")",
                        job->chunk_index, off, off + len - 1);
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    memcpy(c->list->digests[job->chunk_index], digest, PIPE_SHA256_LEN);
    c->stored += cr.stored_size;
    if (!cr.reused) {
        c->uploaded += cr.stored_size;
        c->new_chunks++;
    }
    bool last = ++c->stored_chunks == c->list->n;
    pthread_mutex_unlock(&c->mu);
    if (!last)
        return 0;
    rc = store_list(s, opt, c, res, err);
    if (rc != 0)
        return rc;
    *file = (BackupFileJob){.path = c->path, .tablespace = c->tablespace, .mode = c->mode,
                            .mtime = c->mtime, .size = (size_t)c->list->size,
                            .has_crc32c = c->has_crc32c, .crc32c = c->crc32c};
    *complete = true;
    return 0;
}
