/*
 * zstd_dctx.c - zstd decompression contexts kept per thread and reused (filter_impl.h).
 *
 * Why: a context decoding a frame that reaches it in pieces allocates window buffers of about
 * the frame's window size (1 MiB and more for a backup chunk) on first use. A context made and
 * freed per object paid for those with every object: glibc serves them by mmap, so each object
 * cost an mmap, a page fault on every page written and an munmap. An encrypted object always
 * reaches the decompressor in pieces (the decryption filter hands on one 64 KiB chunk at a
 * time), and a restore decodes thousands of chunk objects: measured, this made an encrypted
 * restore three to four times as slow as a plain one. A reused context keeps its buffers.
 *
 * One context is kept per thread (a pthread key, freed when the thread ends); a filter takes
 * it, or makes one when it is taken or missing, and gives it back reset (a new frame, same
 * parameters) when freed. The main thread's context is freed at exit (atexit), as a thread's
 * destructor does not run for it.
 */
#include "filter_impl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <zstd.h>

#include "pgpitr/pipe/pipe.h"

static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;
static bool dctx_key_ok;
static atomic_size_t dctx_made;

static void dctx_free(void *p) { ZSTD_freeDCtx(p); }

/* The main thread's kept context, at exit. */
static void dctx_free_main(void)
{
    ZSTD_DCtx *d = pthread_getspecific(dctx_key);
    if (d != NULL) {
        pthread_setspecific(dctx_key, NULL);
        ZSTD_freeDCtx(d);
    }
}

static void dctx_key_init(void)
{
    dctx_key_ok = pthread_key_create(&dctx_key, dctx_free) == 0;
    if (dctx_key_ok)
        atexit(dctx_free_main);
}

ZSTD_DCtx *pipe_zstd_dctx_take(void)
{
    pthread_once(&dctx_once, dctx_key_init);
    if (dctx_key_ok) {
        ZSTD_DCtx *d = pthread_getspecific(dctx_key);
        if (d != NULL && pthread_setspecific(dctx_key, NULL) == 0)
            return d;
    }
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (d != NULL)
        atomic_fetch_add(&dctx_made, 1);
    return d;
}

void pipe_zstd_dctx_give(ZSTD_DCtx *d)
{
    if (d == NULL)
        return;
    /* Kept only when this thread keeps none yet and the reset worked (a context in an unknown
     * state is not reused). */
    if (dctx_key_ok && pthread_getspecific(dctx_key) == NULL &&
        !ZSTD_isError(ZSTD_DCtx_reset(d, ZSTD_reset_session_only)) &&
        pthread_setspecific(dctx_key, d) == 0)
        return;
    ZSTD_freeDCtx(d);
}

size_t pipe_zstd_dctx_made(void)
{
    return atomic_load(&dctx_made);
}
