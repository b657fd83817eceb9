/*
 * ctx_pool.h - private to src/pipe: codec contexts kept between in-memory encodings
 * (ctx_pool.c says why). mem_codec.c takes one, or makes one (and calls ctx_pool_made) when
 * none is kept, and gives it back ready for its next frame.
 */
#ifndef PGPITR_PIPE_CTX_POOL_H
#define PGPITR_PIPE_CTX_POOL_H

#include <stddef.h>

typedef enum { CTX_ZSTD_C = 0, CTX_ZSTD_D, CTX_LZ4_C, CTX_LZ4_D, CTX_KINDS } CtxKind;

/* Kept at most per kind: the archive module's pushes at once (pgpitr.jobs 4, plus its own). */
#define CTX_POOL_KEEP 6

/* A kept context of kind k, or NULL when none is kept. */
void *ctx_pool_take(CtxKind k);
/* Counts a context made (for ctx_pool_made_count). */
void ctx_pool_made(void);
/* Keeps c (NULL: nothing) for the next take, or frees it with free_fn when CTX_POOL_KEEP of
 * its kind are kept already. c must be ready for a new frame. */
void ctx_pool_give(CtxKind k, void *c, void (*free_fn)(void *));
/* Frees every kept context (also registered with atexit). */
void ctx_pool_release(void);
size_t ctx_pool_made_count(void);
size_t ctx_pool_kept_count(void);

#endif
