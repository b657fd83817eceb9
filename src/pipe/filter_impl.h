/*
 * filter_impl.h - private to src/pipe: the PipeFilter struct every filter embeds as its first
 * member, the vtable it fills in, and the constructors of the codec filters that codec.c
 * dispatches to. Nothing outside src/pipe includes this file.
 */
#ifndef PGPITR_PIPE_FILTER_IMPL_H
#define PGPITR_PIPE_FILTER_IMPL_H

#include "pgpitr/pipe/pipe.h"

typedef struct PipeFilterOps {
    const char *name;   /* "zstd compression": used in "... after an error" messages */
    /* Called with len > 0 only, never after finish or after a failure. */
    int (*push)(PipeFilter *f, const void *buf, size_t len, PgpErr *err);
    /* Flush everything into next; NULL when there is nothing to flush. The generic
     * pipe_filter_finish() then finishes next itself (filters with more sinks finish the
     * others here, with filter_finish_sink). */
    int (*finish)(PipeFilter *f, PgpErr *err);
    /* Release what the filter owns besides the struct itself; NULL when nothing. Must be
     * safe in every state: fresh, mid-stream, after an error, after finish. */
    void (*destroy)(PipeFilter *f);
} PipeFilterOps;

typedef enum { FILTER_OPEN = 0, FILTER_FINISHED, FILTER_FAILED } FilterState;

struct PipeFilter {
    const PipeFilterOps *ops;
    PipeSink next;
    FilterState state;
    PgpErr failure;     /* first error, replayed by later push/finish calls */
};

/* calloc `size` bytes (the implementation struct, PipeFilter first) and set the base up.
 * Returns NULL and fills err with PGP_ERR_NOMEM when out of memory. */
void *filter_alloc(size_t size, const PipeFilterOps *ops, PipeSink next, PgpErr *err);

/* Hand bytes to the next sink (a sink whose write is NULL discards them). */
int filter_emit(PipeFilter *f, const void *buf, size_t len, PgpErr *err);

/* Finish s if it is a filter's sink (pipe_filter_sink()); 0 for any other sink. */
int filter_finish_sink(PipeSink s, PgpErr *err);

/* Codec filters (codec.c checks the codec and the level before calling these). */
int pipe_none_new(PipeSink next, PipeFilter **out, PgpErr *err);
int pipe_zstd_compress_new(int level, int workers, PipeSink next, PipeFilter **out, PgpErr *err);
int pipe_zstd_decompress_new(PipeSink next, PipeFilter **out, PgpErr *err);
int pipe_lz4_compress_new(int level, PipeSink next, PipeFilter **out, PgpErr *err);
int pipe_lz4_decompress_new(PipeSink next, PipeFilter **out, PgpErr *err);

/* zstd decompression contexts kept per thread and reused (zstd_dctx.c): take one (NULL: out of
 * memory), give it back (or NULL) when the filter is freed. */
struct ZSTD_DCtx_s;
struct ZSTD_DCtx_s *pipe_zstd_dctx_take(void);
void pipe_zstd_dctx_give(struct ZSTD_DCtx_s *d);

/* Size of the output buffers of the codecs: big, so a 16 MiB push costs a few sink calls. */
#define PIPE_CODEC_OUT_BUF (1024 * 1024)

#endif
