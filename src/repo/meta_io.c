/*
 * meta_io.c - metadata objects through one seam (meta_io.h): plain storage calls without a
 * key, the encryption filters (pipe_encrypt_new / pipe_decrypt_new) over them with one.
 *
 * Owns: the choice of associated data for metadata (the repository path as given) and the
 * bounds on what a reader accepts. Must not know what the objects mean.
 *
 * Why the path as associated data: metadata objects are named by what they describe (a
 * backup's label, a drill's id, a segment's name), so an attacker who can write the bucket
 * could otherwise copy an authentic manifest or report under another name and have it
 * believed; with the path bound in every chunk such a copy fails to authenticate.
 */
#include "pgpitr/repo/meta_io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/pipe/pipe.h"

#define READ_SIZE (64 * 1024)

/* ---- memory sinks ------------------------------------------------------------------------ */

typedef struct MemOut {
    char *buf;
    size_t len, cap;
    size_t max;              /* more than this is PGP_ERR_CORRUPT */
    const char *path;
} MemOut;

static int mem_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    MemOut *m = ud;
    if (len > m->max - m->len)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" is too large (more than %zu bytes)",
                        m->path, m->max);
    /* one more for the NUL meta_get_all promises */
    if (GROW_N(m->buf, m->len, len + 1, m->cap, 4096, NULL, err) != 0)
        return err->code;
    memcpy(m->buf + m->len, buf, len);
    m->len += len;
    return 0;
}

size_t meta_stored_max(const CryptoRepoKey *key, size_t max_len)
{
    if (key == NULL)
        return max_len;
    size_t chunks = (max_len >> CRYPTO_STREAM_SHIFT_MIN) + 1;
    size_t over = CRYPTO_STREAM_HEADER_LEN;
    if (chunks > (SIZE_MAX - over) / CRYPTO_STREAM_TAG_LEN)
        return SIZE_MAX;
    over += chunks * CRYPTO_STREAM_TAG_LEN;
    return max_len > SIZE_MAX - over ? SIZE_MAX : max_len + over;
}

/* ---- whole objects ----------------------------------------------------------------------- */

int meta_put_all(Storage *s, const CryptoRepoKey *key, const char *path, unsigned flags,
                 const void *buf, size_t len, PgpErr *err)
{
    if (key == NULL)
        return storage_put_all(s, path, flags, buf, len, err);
    MemOut m = {.max = SIZE_MAX, .path = path};
    PipeFilter *enc = NULL;
    int rc = pipe_encrypt_new(key, path, NULL, (PipeSink){mem_write, &m}, &enc, err);
    if (rc == 0)
        rc = pipe_filter_push(enc, buf, len, err);
    if (rc == 0)
        rc = pipe_filter_finish(enc, err);
    pipe_filter_free(enc);
    if (rc == 0)
        rc = storage_put_all(s, path, flags, m.buf, m.len, err);
    free(m.buf);
    return rc;
}

int meta_get_all(Storage *s, const CryptoRepoKey *key, const char *path, size_t max_len,
                 char **out, size_t *len, PgpErr *err)
{
    *out = NULL;
    *len = 0;
    if (key == NULL)
        return storage_get_all(s, path, max_len, out, len, err);
    char *stored = NULL;
    size_t n = 0;
    int rc = storage_get_all(s, path, meta_stored_max(key, max_len), &stored, &n, err);
    if (rc != 0)
        return rc;
    MemOut m = {.max = max_len, .path = path};
    PipeFilter *dec = NULL;
    rc = pipe_decrypt_new(key, path, (PipeSink){mem_write, &m}, &dec, err);
    if (rc == 0)
        rc = pipe_filter_push(dec, stored, n, err);
    if (rc == 0)
        rc = pipe_filter_finish(dec, err);
    pipe_filter_free(dec);
    free(stored);
    if (rc == 0 && m.buf == NULL)   /* empty: still a NUL-terminated buffer */
        rc = GROW_N(m.buf, 0, 1, m.cap, 1, NULL, err);
    if (rc != 0) {
        free(m.buf);
        return rc;
    }
    m.buf[m.len] = '\0';
    *out = m.buf;
    *len = m.len;
    return 0;
}

/* ---- writer ------------------------------------------------------------------------------ */

struct MetaWriter {
    StorageWriter *w;
    PipeFilter *enc;         /* NULL: plain */
};

static int writer_sink(void *ud, const void *buf, size_t len, PgpErr *err)
{
    return storage_write(ud, buf, len, err);
}

int meta_writer_open(Storage *s, const CryptoRepoKey *key, const char *path, unsigned flags,
                     MetaWriter **out, PgpErr *err)
{
    return meta_writer_open_ad(s, key, path, path, flags, out, err);
}

int meta_writer_open_ad(Storage *s, const CryptoRepoKey *key, const char *ad, const char *path,
                        unsigned flags, MetaWriter **out, PgpErr *err)
{
    *out = NULL;
    MetaWriter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = storage_open_write(s, path, flags, &w->w, err);
    if (rc == 0 && key != NULL)
        rc = pipe_encrypt_new(key, ad, NULL, (PipeSink){writer_sink, w->w}, &w->enc, err);
    if (rc != 0) {
        meta_writer_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

int meta_write(MetaWriter *w, const void *buf, size_t len, PgpErr *err)
{
    return w->enc != NULL ? pipe_filter_push(w->enc, buf, len, err)
                          : storage_write(w->w, buf, len, err);
}

int meta_writer_commit(MetaWriter *w, PgpErr *err)
{
    int rc = w->enc != NULL ? pipe_filter_finish(w->enc, err) : 0;
    if (rc != 0) {
        meta_writer_abort(w);
        return rc;
    }
    rc = storage_writer_commit(w->w, err);   /* frees the storage writer, also on error */
    pipe_filter_free(w->enc);
    free(w);
    return rc;
}

void meta_writer_abort(MetaWriter *w)
{
    if (w == NULL)
        return;
    pipe_filter_free(w->enc);
    storage_writer_abort(w->w);
    free(w);
}

/* ---- reader ------------------------------------------------------------------------------ */

struct MetaReader {
    StorageReader *r;
    PipeFilter *dec;         /* NULL: plain */
    uint8_t *in;             /* stored bytes, READ_SIZE */
    MemOut plain;            /* plaintext not handed out yet: [pos, plain.len) */
    size_t pos;
    bool eof;                /* the object ended (and, unless failed, authenticated) */
    int failed;              /* the error that stopped it: returned again, never an end */
    char *path;
};

int meta_reader_open(Storage *s, const CryptoRepoKey *key, const char *path, MetaReader **out,
                     PgpErr *err)
{
    *out = NULL;
    MetaReader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = storage_open_read(s, path, &r->r, err);
    if (rc == 0 && key != NULL && (r->path = strdup(path)) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0 && key != NULL) {
        r->plain = (MemOut){.max = SIZE_MAX, .path = r->path};
        r->in = malloc(READ_SIZE);
        rc = r->in == NULL ? PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory")
                           : pipe_decrypt_new(key, path, (PipeSink){mem_write, &r->plain},
                                              &r->dec, err);
    }
    if (rc != 0) {
        meta_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Decrypts the next piece of the object into r->plain (emptied first); sets eof at its end. */
static int refill(MetaReader *r, PgpErr *err)
{
    r->plain.len = 0;
    r->pos = 0;
    size_t got = 0;
    int rc = storage_read(r->r, r->in, READ_SIZE, &got, err);
    if (rc != 0)
        return rc;
    if (got > 0)
        return pipe_filter_push(r->dec, r->in, got, err);
    r->eof = true;
    return pipe_filter_finish(r->dec, err);   /* the final chunk, or corruption */
}

int meta_read(MetaReader *r, void *buf, size_t len, size_t *got, PgpErr *err)
{
    *got = 0;
    if (r->dec == NULL)
        return storage_read(r->r, buf, len, got, err);
    if (r->failed != 0)
        return PGP_FAIL(err, r->failed, "\"%s\" cannot be read any further after an error",
                        r->path);
    while (r->pos == r->plain.len && !r->eof) {
        int rc = refill(r, err);
        if (rc != 0)
            return r->failed = rc;
    }
    size_t n = r->plain.len - r->pos;
    n = n < len ? n : len;
    if (n > 0)
        memcpy(buf, r->plain.buf + r->pos, n);
    r->pos += n;
    *got = n;
    return 0;
}

void meta_reader_close(MetaReader *r)
{
    if (r == NULL)
        return;
    storage_reader_close(r->r);
    pipe_filter_free(r->dec);
    free(r->in);
    free(r->plain.buf);
    free(r->path);
    free(r);
}
