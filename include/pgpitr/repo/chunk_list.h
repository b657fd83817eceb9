/*
 * chunk_list.h - the model of block-level incremental storage (docs/chunking.md): which files
 * are stored as chunks, how a file is cut, and the chunk list, the content-addressed object
 * that says which chunk objects make one file. Pure model: no storage, no reading of files;
 * backup, restore, verify and expire (not wired in yet, issue #14) build on it.
 *
 * A chunked file of `size` bytes is cut at fixed offsets into chunk_count(size, chunk_size)
 * chunks: chunk i is bytes [i * chunk_size, min(size, (i + 1) * chunk_size)), page-aligned
 * since chunk_size is a power of two of at least one 8 KiB page. Each chunk is an ordinary
 * content-addressed object, objects/<sha[0:2]>/<sha256><ext> (repo_object_path): <sha256> of
 * the chunk's raw bytes, <ext> the list's codec, so the list alone names every chunk's path.
 *
 * Chunk list text (format 1), canonical: written only by chunk_list_to_json, compact, keys in
 * this order, one newline at the end, so the same file content always gives the same bytes and
 * the same object:
 *   {"format":1,"codec":"zstd","chunk_size":1048576,"size":2621440,
 *    "chunks":["<64 lowercase hex>","<64 hex>","<64 hex>"]}
 * Reading is strict (chunk_list_from_json): every field present with the right type and
 * range, no other field, no duplicate key, format 1, a codec pipe_codec_parse knows,
 * chunk_size_valid, 1 <= size < 2^63, exactly chunk_count(size, chunk_size) digests (at most
 * CHUNK_LIST_MAX_CHUNKS), each 64 lowercase hex. Anything else is PGP_ERR_CORRUPT naming the
 * field: a chunk list drives what restore writes where.
 */
#ifndef PGPITR_CHUNK_LIST_H
#define PGPITR_CHUNK_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/repo/repo_layout.h"

#define CHUNK_LIST_FORMAT 1
#define CHUNK_PAGE 8192u                        /* PostgreSQL's BLCKSZ: chunks align to it */
#define CHUNK_SIZE_MIN CHUNK_PAGE
#define CHUNK_SIZE_MAX (16u << 20)              /* S3 part size: a chunk is always one PUT */
/* Chosen by tests/bench/chunk-size.sh (docs/chunking.md): second backup after the issue #14
 * change 4.1% of the first, first backup +1.2% over whole files, 1,355 PUTs per GiB. */
#define CHUNK_SIZE_DEFAULT (1u << 20)
/* Files this large or larger are chunked; smaller ones stay one whole object. */
#define CHUNK_FILE_MIN ((uint64_t)8 << 20)
/* Most chunks one list holds (1 TiB at 1 MiB): bounds what a list costs to parse and hold.
 * A larger file (PostgreSQL built with a huge segment size) stays a whole object. */
#define CHUNK_LIST_MAX_CHUNKS ((size_t)1 << 20)
/* Largest chunk list text chunk_list_from_json accepts: the largest list, with room. */
#define CHUNK_LIST_MAX_BYTES ((size_t)72 << 20)

typedef struct ChunkList {
    PipeCodec codec;            /* of every chunk object the list names */
    uint32_t chunk_size;
    uint64_t size;              /* bytes of the file */
    size_t n;                   /* chunk_count(size, chunk_size) */
    uint8_t (*digests)[PIPE_SHA256_LEN];    /* n digests of the raw chunks, in file order */
    /* An encrypted repository's key (not owned; set by chunk_list_load): chunk objects are
     * named by keyed names (chunk_list_object_path) and read with it. */
    const CryptoRepoKey *key;
} ChunkList;

/* A power of two from CHUNK_SIZE_MIN to CHUNK_SIZE_MAX. */
bool chunk_size_valid(uint64_t chunk_size);
/* ceil(size / chunk_size); chunk_size must be valid (0 otherwise). */
uint64_t chunk_count(uint64_t size, uint64_t chunk_size);
/* Whether a file of file_size bytes is stored as chunks of chunk_size: at least
 * CHUNK_FILE_MIN bytes, at most CHUNK_LIST_MAX_CHUNKS chunks, chunk_size valid. */
bool chunk_file_chunked(uint64_t file_size, uint64_t chunk_size);

/* A list for a file of size bytes (1 <= size < 2^63), chunk_size valid, codec known: n set
 * and every digest zero, for the caller to fill. PGP_ERR_INTERNAL for arguments a file that
 * chunk_file_chunked accepts never has, except that any size up to CHUNK_LIST_MAX_CHUNKS
 * chunks is allowed (tests and small files); PGP_ERR_NOMEM. */
int chunk_list_new(uint64_t size, uint64_t chunk_size, PipeCodec codec, ChunkList **out,
                   PgpErr *err);
void chunk_list_free(ChunkList *l);     /* NULL is a no-op */

/* Byte range of chunk i (< l->n): *off = i * chunk_size, *len the chunk's length (the last
 * one may be shorter). */
void chunk_list_extent(const ChunkList *l, size_t i, uint64_t *off, uint64_t *len);

/* Object path of chunk i: repo_object_path of its digest (its keyed name with l->key) and
 * the list's codec. */
int chunk_list_object_path(const ChunkList *l, size_t i, char out[REPO_PATH_MAX], PgpErr *err);

/* Whether a backup may reference chunk i of the previous backup's list prev instead of
 * looking the chunk up: prev (may be NULL) was cut the same way (same chunk_size and codec),
 * has a chunk i, and its digest equals digest. */
bool chunk_list_same_chunk(const ChunkList *prev, size_t i, uint64_t chunk_size, PipeCodec codec,
                           const uint8_t digest[PIPE_SHA256_LEN]);

/* The manifest entry's cross-check: the list describes a file of size bytes cut in chunks of
 * chunk_size, n_chunks of them, stored with codec. PGP_ERR_CORRUPT naming `what` (the file, as
 * the caller wants it named) and both values at the first difference. */
int chunk_list_check(const ChunkList *l, const char *what, uint64_t size, uint64_t chunk_size,
                     uint64_t n_chunks, PipeCodec codec, PgpErr *err);

/* The canonical text described above: *out malloc'd, *len bytes, ending in a newline (NUL one
 * byte past *len). PGP_ERR_INTERNAL for a list chunk_list_from_json would refuse. */
int chunk_list_to_json(const ChunkList *l, char **out, size_t *len, PgpErr *err);
/* Strict parse of len bytes (need not be NUL-terminated), as described above. */
int chunk_list_from_json(const char *text, size_t len, ChunkList **out, PgpErr *err);

#endif
