/*
 * pipe.h - streaming filters chained source -> filters -> sink.
 *
 * A filter receives bytes with pipe_filter_push(), transforms them and pushes its output
 * into the next sink; pipe_filter_finish() flushes (and, for decompressors, fails with
 * PGP_ERR_CORRUPT if the input stopped mid-frame). Filters never know about paths or
 * storage: a sink is just a write callback. Every filter is also a sink
 * (pipe_filter_sink()), so chains are built back to front:
 *
 *     PipeSink out = { file_write, &fd };
 *     PipeFilter *sha = NULL, *dec = NULL;
 *     pipe_sha256_new(out, &sha, err);
 *     pipe_decompress_new(PIPE_CODEC_ZSTD, pipe_filter_sink(sha), &dec, err);
 *     ... pipe_filter_push(dec, buf, n, err) ...;
 *     pipe_filter_finish(dec, err);   // finishes dec, then sha: the whole chain
 *
 * Finishing cascades down the chain: pipe_filter_finish() flushes the filter into its next
 * sink and, when that sink is another filter (pipe_filter_sink()), finishes that filter too,
 * and so on (a tee finishes a, then b; a thread filter joins its worker first). So a caller
 * finishes only the head, and finishing a stage that an earlier stage already finished is
 * an error (PGP_ERR_INTERNAL). A plain callback sink has no finish: completing it (e.g.
 * committing a storage writer) stays with the caller, after the chain finished. The first
 * error stops the cascade; the stages after it are left unfinished (free them as usual).
 *
 * Filters with results (sha256, size) expose them after finish. pipe_filter_free(NULL) is a
 * no-op; freeing a filter does not free the next one.
 */
#ifndef PGPITR_PIPE_H
#define PGPITR_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/stream.h"

#define PIPE_SHA256_LEN 32
#define PIPE_SHA256_HEX_LEN 64

typedef struct PipeSink {
    int (*write)(void *ud, const void *buf, size_t len, PgpErr *err);
    void *ud;
} PipeSink;

typedef enum { PIPE_CODEC_NONE = 0, PIPE_CODEC_ZSTD, PIPE_CODEC_LZ4 } PipeCodec;

/* "zstd" | "lz4" | "none" -> codec; anything else PGP_ERR_CONFIG naming the value. */
int pipe_codec_parse(const char *name, PipeCodec *out, PgpErr *err);
const char *pipe_codec_name(PipeCodec c);   /* "zstd" */
const char *pipe_codec_ext(PipeCodec c);    /* ".zst", ".lz4", "" for none */
/* Inverse of pipe_codec_ext for a file name's suffix; false if none matches. */
bool pipe_codec_from_ext(const char *ext, PipeCodec *out);
/* Valid level range of a codec (none: 0..0, lz4: 0..12 where 0 = fast default, zstd 1..19). */
void pipe_codec_level_range(PipeCodec c, int *min, int *max);

typedef struct PipeFilter PipeFilter;

int pipe_filter_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err);
int pipe_filter_finish(PipeFilter *f, PgpErr *err);
void pipe_filter_free(PipeFilter *f);
PipeSink pipe_filter_sink(PipeFilter *f);

/* Compression (zstd/lz4 frame format; NONE passes bytes through unchanged).
 * zstd_workers > 0 uses zstd's built-in multithreading (ignored by other codecs). */
int pipe_compress_new(PipeCodec c, int level, int zstd_workers, PipeSink next, PipeFilter **out,
                      PgpErr *err);
/* Decompression; finish() fails with PGP_ERR_CORRUPT on truncated or trailing garbage,
 * push() with PGP_ERR_CORRUPT on malformed frames. */
int pipe_decompress_new(PipeCodec c, PipeSink next, PipeFilter **out, PgpErr *err);
/* zstd decompression contexts made so far by this process. A thread keeps its context for its
 * next zstd decompressor (src/pipe/zstd_dctx.c), so decoding objects one after another on one
 * thread makes one; for tests. */
size_t pipe_zstd_dctx_made(void);

/* In-memory encoding (src/pipe/mem_codec.c), for a source already whole in memory (archive-
 * push's segment): cheaper than the filters above, same frame formats.
 * pipe_mem_compress: src into one frame of codec at level, written from the start of *buf
 * (*cap bytes, from malloc or bufpool_take; realloc'd when too small, so *buf may move);
 * *len gets the frame's size. PGP_ERR_CODEC or PGP_ERR_NOMEM on failure (*buf stays the
 * caller's to free).
 * pipe_mem_verify: decodes the frame enc (len bytes) and compares it with src as it goes:
 * PGP_ERR_CORRUPT unless it is exactly one sound frame (checksum included) decoding to exactly
 * the size bytes of src. NONE: enc must equal src.
 * Both keep their codec contexts for the next call, in any thread (at most a few of each;
 * src/pipe/ctx_pool.c): pipe_mem_ctx_made counts those made (for tests), pipe_mem_ctx_kept
 * those kept now, pipe_mem_release frees the kept ones (also done at exit). */
int pipe_mem_compress(PipeCodec codec, int level, const void *src, size_t size, uint8_t **buf,
                      size_t *cap, size_t *len, PgpErr *err);
int pipe_mem_verify(PipeCodec codec, const void *enc, size_t len, const void *src, size_t size,
                    PgpErr *err);
size_t pipe_mem_ctx_made(void);
size_t pipe_mem_ctx_kept(void);
void pipe_mem_release(void);

/* Encryption at rest (docs/encryption.md; src/pipe/encrypt.c over src/crypto/stream.c):
 * plaintext in, the object's bytes out (header, then chunks of 2^e bytes + a 16-byte tag,
 * the last flagged final), under a key derived from k and bound to `name`, the object's name
 * in the repository (copied). Compress first, then encrypt. opts may be NULL (64 KiB chunks,
 * fresh random salt). Memory: two chunks. */
int pipe_encrypt_new(const CryptoRepoKey *k, const char *name, const CryptoStreamOpts *opts,
                     PipeSink next, PipeFilter **out, PgpErr *err);
/* The object's bytes in, plaintext out, read under `name`. A chunk's plaintext is handed on
 * only after its tag verified; everything wrong is PGP_ERR_CORRUPT: a bad header (push), a
 * chunk that fails authentication (altered, dropped, repeated, reordered, from another
 * object, or the object read under another name or key; at push or finish), an object cut
 * short (finish), bytes after the final chunk. A consumer may have received the verified
 * chunks before the failure, so it must discard what it got unless finish returned 0 (as
 * with every filter: write to a temporary name, commit only after finish). */
int pipe_decrypt_new(const CryptoRepoKey *k, const char *name, PipeSink next,
                     PipeFilter **out, PgpErr *err);
/* What the errors of decryption filter f call the object ("decryption of \"LABEL\": ...")
 * when the name it is read under does not say which object it is (content-addressed objects
 * share one constant name): its path in the repository, say. Default: the name. */
int pipe_decrypt_set_label(PipeFilter *f, const char *label, PgpErr *err);

/* Pass-through filters with results, valid after finish. */
int pipe_sha256_new(PipeSink next, PipeFilter **out, PgpErr *err);
void pipe_sha256_result(const PipeFilter *f, uint8_t digest[PIPE_SHA256_LEN]);
int pipe_size_new(PipeSink next, PipeFilter **out, PgpErr *err);
uint64_t pipe_size_result(const PipeFilter *f);
/* CRC-32C of what passed (final value, as pipe_crc32c_final); PGP_ERR_CONFIG from new when
 * ISA-L cannot be loaded (see below). */
int pipe_crc32c_new(PipeSink next, PipeFilter **out, PgpErr *err);
uint32_t pipe_crc32c_result(const PipeFilter *f);

/* Tee: every chunk goes to a, then to b. */
int pipe_tee_new(PipeSink a, PipeSink b, PipeFilter **out, PgpErr *err);

/* Runs `next` on a worker thread: push() copies the chunk into a bounded queue (blocking when
 * queue_bytes are in flight); finish() waits for the worker and returns its first error.
 * After an error in the worker, later pushes fail with that error. */
int pipe_thread_new(PipeSink next, size_t queue_bytes, PipeFilter **out, PgpErr *err);

/* A sink that compares incoming bytes with `expect` (not copied; must outlive the sink):
 * PGP_ERR_CORRUPT at the first differing or excess byte; pipe_compare_complete() tells
 * whether exactly len bytes arrived. */
typedef struct PipeCompare PipeCompare;
int pipe_compare_new(const void *expect, size_t len, PipeCompare **out, PgpErr *err);
PipeSink pipe_compare_sink(PipeCompare *c);
bool pipe_compare_complete(const PipeCompare *c);
void pipe_compare_free(PipeCompare *c);

/* SHA-256 helpers (OpenSSL EVP, which uses the CPU's SHA extensions). pipe_sha256_buf fails
 * (PGP_ERR_INTERNAL) only if OpenSSL does, e.g. out of memory; digest is then undefined. */
int pipe_sha256_buf(const void *buf, size_t len, uint8_t digest[PIPE_SHA256_LEN], PgpErr *err);
void pipe_hex(const uint8_t *bytes, size_t n, char *out);  /* out has 2n+1 bytes */

/* Hash a buffer that stays valid and unchanged on a worker thread, overlapping with other
 * work. join() waits, writes the digest, frees the job and returns the hash's error, if
 * any; joining NULL is a no-op returning 0. */
typedef struct PipeHashJob PipeHashJob;
int pipe_sha256_async(const void *buf, size_t len, PipeHashJob **out, PgpErr *err);
int pipe_sha256_join(PipeHashJob *job, uint8_t digest[PIPE_SHA256_LEN], PgpErr *err);

/* CRC-32C (Castagnoli), PostgreSQL's backup_manifest "CRC32C", with ISA-L's crc32_iscsi
 * (libisal.so.2, loaded at run time: src/pipe/crc32c.c). pipe_crc32c_load once before
 * pipe_crc32c_update (thread-safe; PGP_ERR_CONFIG with an install HINT when it is missing).
 *     uint32_t c = PIPE_CRC32C_INIT; c = pipe_crc32c_update(c, buf, n); ...;
 *     pipe_crc32c_hex(pipe_crc32c_final(c), hex);
 * The hex is the server's spelling: the four bytes least significant first, as a
 * little-endian server writes them into backup_manifest. */
#define PIPE_CRC32C_INIT 0xFFFFFFFFu
#define PIPE_CRC32C_HEX_LEN 8
int pipe_crc32c_load(PgpErr *err);
uint32_t pipe_crc32c_update(uint32_t crc, const void *buf, size_t len);
uint32_t pipe_crc32c_final(uint32_t crc);
void pipe_crc32c_hex(uint32_t crc, char out[PIPE_CRC32C_HEX_LEN + 1]);

#endif
