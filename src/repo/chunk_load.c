/*
 * chunk_load.c - a chunked entry's chunk list, read and checked (chunk_load.h).
 */
#include "pgpitr/repo/chunk_load.h"

#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/repo_layout.h"

typedef struct Text {
    char *v;
    size_t n, cap;
} Text;

static int text_write(void *ud, const void *data, size_t len, PgpErr *err)
{
    Text *t = ud;
    if (len > CHUNK_LIST_MAX_BYTES - t->n)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "larger than %zu bytes", CHUNK_LIST_MAX_BYTES);
    if (GROW_N(t->v, t->n, len, t->cap, 64 * 1024, "chunk list bytes", err) != 0)
        return err->code;
    memcpy(t->v + t->n, data, len);
    t->n += len;
    return 0;
}

int chunk_list_load(Storage *s, const CryptoRepoKey *key, const ManifestEntry *e,
                    ChunkList **out, PgpErr *err)
{
    *out = NULL;
    if (!manifest_entry_chunked(e))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "\"%s\" is not stored as chunks", e->path);
    PipeCodec codec;
    if (!repo_object_codec(e->chunk_list, &codec))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "file \"%s\": chunk list object \"%s\" has an "
                        "unknown compression extension", e->path, e->chunk_list);
    Text t = {0};
    ObjectReadOptions opt = {.codec = codec, .expect_sha256 = e->sha256,
                             .seal = {key, OBJECT_AD_CONTENT}};
    ObjectReadResult res;
    int rc = object_io_read_verify(s, e->chunk_list, &opt, (PipeSink){text_write, &t}, &res,
                                   err);
    if (rc == PGP_ERR_NOT_FOUND)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "the object is missing from the repository");
    if (rc == 0)
        rc = chunk_list_from_json(t.v, t.n, out, err);
    if (rc == 0) {
        uint64_t chunk_size = (uint64_t)1 << e->chunk_shift;
        rc = chunk_list_check(*out, "the list", e->size, chunk_size,
                              chunk_count(e->size, chunk_size), codec, err);
        (*out)->key = key;
    }
    free(t.v);
    if (rc != 0) {
        chunk_list_free(*out);
        *out = NULL;
        if (rc != PGP_ERR_NOMEM)
            pgp_err_context(err, "file \"%s\": chunk list object \"%s\"", e->path, e->chunk_list);
    }
    return rc;
}
