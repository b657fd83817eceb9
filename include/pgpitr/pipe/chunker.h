/*
 * chunker.h - a pass-through filter that cuts the stream into fixed-size chunks and hands
 * each one, with the SHA-256 of its bytes, to a callback (src/pipe/chunker.c): what backup
 * will use to store a large file as content-addressed chunks (docs/chunking.md). Chunk i is
 * bytes [i * chunk_size, (i + 1) * chunk_size) of the stream; the last one, delivered by
 * finish, may be shorter; an empty stream has no chunk, and a stream of an exact multiple of
 * chunk_size no empty last one. Which chunk sizes are allowed is the repository's rule
 * (chunk_list.h); the filter only needs 1..PIPE_CHUNK_MAX.
 *
 * Every byte pushed is also passed on to next unchanged (next.write NULL: discarded), so the
 * filter can sit in a chain. Bytes are copied only to complete a chunk that straddles pushes:
 * a push holding whole chunks at a chunk boundary hands the caller's own memory to the
 * callback.
 */
#ifndef PGPITR_PIPE_CHUNKER_H
#define PGPITR_PIPE_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pipe/pipe.h"

#define PIPE_CHUNK_MAX ((size_t)64 << 20)

/* One chunk, in stream order: data (len bytes) is valid only during the call. A non-zero
 * return (with err filled) fails the push or finish that delivered the chunk, and the filter
 * stays failed (pipe.h). */
typedef int (*PipeChunkFn)(void *ud, uint64_t index, const void *data, size_t len,
                           const uint8_t digest[PIPE_SHA256_LEN], PgpErr *err);

/* PGP_ERR_INTERNAL for a chunk_size of 0 or above PIPE_CHUNK_MAX; PGP_ERR_NOMEM. */
int pipe_chunker_new(size_t chunk_size, PipeChunkFn on_chunk, void *ud, PipeSink next,
                     PipeFilter **out, PgpErr *err);
/* Chunks delivered so far (all of them once finished). */
uint64_t pipe_chunker_count(const PipeFilter *f);

#endif
