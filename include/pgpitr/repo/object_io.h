/*
 * object_io.h - the only code that chains storage and pipe for repository objects.
 *
 *   write:       bytes -> compress -> size -> storage writer -> atomic commit (optionally
 *                SHA-256 of the bytes alongside, naming the object, and the compressed stream
 *                decoded again and compared with the bytes before the commit);
 *   read_verify: storage -> decompress -> SHA-256 -> caller's sink, then the digest compared
 *                with the one the object's name carries.
 *
 * Every archived WAL file and backup file is written and read through these, so a new
 * storage driver, codec or encryption filter is taught here once.
 *
 * Encryption (docs/encryption.md): with a seal key, compress THEN encrypt on write, decrypt
 * then decompress on read. The associated data bound into each object (ObjectSeal.ad) is a
 * name the reader knows before reading: for archived WAL the WAL file's name
 * ("000000010000000000000003", "00000002.history"); for content-addressed objects, whose
 * final name is only chosen after hashing, the constant OBJECT_AD_CONTENT, and what binds
 * their content to their name is the keyed name itself (the name's hex is
 * crypto_keyed_name(key, SHA-256 of the content), checked on read); for PostgreSQL's
 * backup_manifest, named after its backup, its repository path (as the metadata seam,
 * meta_io.h, binds manifests).
 */
#ifndef PGPITR_OBJECT_IO_H
#define PGPITR_OBJECT_IO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/storage/storage.h"

/* The associated data of content-addressed objects (objects/xx/<hex>): see above. */
#define OBJECT_AD_CONTENT "pgpitr/content-addressed"

/* How an object is encrypted: key NULL, not at all (an unencrypted repository); otherwise
 * under key, bound to ad (NUL-terminated, required with a key). */
typedef struct ObjectSeal {
    const CryptoRepoKey *key;
    const char *ad;
} ObjectSeal;

/* How the object at path (a repository path) is sealed under key: archived WAL
 * ("archive/...": bound to the file's name, the object's name before "-<hex>", written into
 * ad) or content-addressed (OBJECT_AD_CONTENT). *by_name: whether the hex in its name is
 * object_io_name_hex of its content (archived WAL) rather than recorded elsewhere. */
int object_io_seal_of(const CryptoRepoKey *key, const char *path, ObjectSeal *seal,
                      char ad[REPO_PATH_MAX], bool *by_name, PgpErr *err);

/* The hex an object's name carries for content with SHA-256 digest: the digest's hex, or
 * with key (an encrypted repository) its keyed name (crypto_keyed_name). */
int object_io_name_hex(const CryptoRepoKey *key, const uint8_t digest[PIPE_SHA256_LEN],
                       char out[PIPE_SHA256_HEX_LEN + 1], PgpErr *err);
/* The same from a digest's hex (64 lowercase digits; PGP_ERR_INTERNAL otherwise). */
int object_io_name_hex_of(const CryptoRepoKey *key, const char *sha256_hex,
                          char out[PIPE_SHA256_HEX_LEN + 1], PgpErr *err);

/* ---- read -------------------------------------------------------------------------------- */

typedef struct ObjectReadOptions {
    PipeCodec codec;            /* of the stored bytes */
    /* The SHA-256 (lowercase hex) the original bytes must have; NULL: decode only, nothing
     * hashed or compared (PostgreSQL's backup_manifest carries its own checksum). */
    const char *expect_sha256;
    /* expect_sha256 is the hex of the object's name (object_io_name_hex of the content's
     * digest: keyed in an encrypted repository), and res->sha256_hex is given in that form. */
    bool expect_name;
    ObjectSeal seal;            /* of the stored bytes: decrypted before they are decoded */
    bool hash_thread;           /* hash on a worker thread, overlapping with the sink */
    void *buf;                  /* read buffer of buf_size bytes; NULL: allocated (64 KiB) */
    size_t buf_size;
} ObjectReadOptions;

typedef struct ObjectReadResult {
    uint64_t stored;            /* bytes read from storage */
    uint64_t size;              /* original bytes handed to the sink */
    char sha256_hex[PIPE_SHA256_HEX_LEN + 1];   /* of those bytes, when expect_sha256 was set
                                                   (keyed with expect_name and a key) */
    char content_sha256[PIPE_SHA256_HEX_LEN + 1];   /* the plain SHA-256, likewise */
    bool mismatch;              /* read and decoded completely, but the digest differs */
} ObjectReadResult;

/* Streams the object at path through its decoder into out and checks the digest. Returns 0
 * only when every byte was decoded, handed to out and (expect_sha256 set) hashes to it;
 * PGP_ERR_CORRUPT "checksum mismatch: content has sha256 X, expected Y" with res->mismatch
 * set when only the digest differs; PGP_ERR_NOT_FOUND when the object is absent; the
 * decoder's PGP_ERR_CORRUPT/PGP_ERR_CODEC for a damaged or truncated stream; out's and
 * storage's errors as they are. out may have received bytes even on failure: the caller
 * discards them. res is always filled as far as the read went. */
int object_io_read_verify(Storage *s, const char *path, const ObjectReadOptions *opt,
                          PipeSink out, ObjectReadResult *res, PgpErr *err);

/* ---- write ------------------------------------------------------------------------------- */

typedef struct ObjectWriteOptions {
    PipeCodec codec;
    int level;
    int zstd_workers;           /* > 0: zstd's own threads (large files) */
    /* Decode the stored stream again on a worker thread as it is produced and compare it
     * with the bytes: the object is committed only if it decodes to exactly them. */
    bool verify;
    /* Non-NULL: the object is written through this batch, and committing it only hands it
     * over: it is named (durably) when the batch is flushed (storage.h, "Batched commits"). An
     * object already under the final name is then kept without PGP_ERR_CONFLICT. */
    StorageBatch *batch;
    /* Encrypted after compression (object_io_write only: object_io_encode leaves its output
     * unencrypted, object_io_store_encoded_in seals it). With a key, name is given the name
     * hex (object_io_name_hex) instead of the plain digest, and res->sha256_hex is that. */
    ObjectSeal seal;
} ObjectWriteOptions;

/* Chooses the final path from the content's SHA-256 (content-addressed objects). */
typedef int (*ObjectNameFn)(void *ud, const char *sha256_hex, char out[REPO_PATH_MAX],
                            PgpErr *err);

typedef struct ObjectWriteResult {
    char path[REPO_PATH_MAX];   /* where the object was committed */
    char sha256_hex[PIPE_SHA256_HEX_LEN + 1];   /* "" unless name was given */
    uint64_t stored_size;       /* bytes written to storage */
} ObjectWriteResult;

/* Writes the size bytes at data (unchanged until this returns) as one object: a writer is
 * opened at path and, once everything is written (and verified), committed under path, or,
 * with name, under the path name chooses from the bytes' SHA-256 (computed on a worker
 * thread while they are compressed; name's path must be in path's directory). Nothing is
 * visible under the final path before the commit, and on any failure the writer is aborted:
 * no temp file is left. A commit never replaces: PGP_ERR_CONFLICT when an object already has
 * the final path (res filled: for a content address that is the same content). */
int object_io_write(Storage *s, const char *path, const ObjectWriteOptions *opt,
                    const void *data, size_t size, ObjectNameFn name, void *name_ud,
                    ObjectWriteResult *res, PgpErr *err);

/* ---- written piece by piece ------------------------------------------------------------- */
/* For an object whose bytes arrive in pieces and are never held whole (PostgreSQL's
 * backup_manifest, as the BASE_BACKUP stream brings it): compress -> size -> a storage
 * writer at path. Nothing is visible under path before the commit; abort (or a failed
 * commit) leaves no temp file. Not content-addressed, not verified, not batched: opt->verify
 * and opt->batch must be unset (PGP_ERR_INTERNAL). */
typedef struct ObjectWriter ObjectWriter;
int object_io_writer_open(Storage *s, const char *path, const ObjectWriteOptions *opt,
                          ObjectWriter **out, PgpErr *err);
int object_io_writer_write(ObjectWriter *w, const void *data, size_t len, PgpErr *err);
/* Finishes the stream and commits under path (never replaces: PGP_ERR_CONFLICT); frees w,
 * also on error. *stored_size (may be NULL): bytes written to storage. */
int object_io_writer_commit(ObjectWriter *w, uint64_t *stored_size, PgpErr *err);
void object_io_writer_abort(ObjectWriter *w);      /* NULL is a no-op */

/* ---- encode ahead, store later ----------------------------------------------------------- */
/* archive-push encodes a segment while the repository is being opened and searched (over the
 * network for S3, that is most of a push), then stores the encoded bytes in one go. */

typedef struct ObjectEncoded {
    uint8_t *data;              /* the stored form (compressed), len bytes */
    size_t len, cap;
} ObjectEncoded;

/* Compresses the size bytes at data into out (memory, growing as needed) and, with
 * opt->verify, decodes them again and compares them with data, as object_io_write does: in
 * this thread, in one go (pipe_mem_compress, pipe_mem_verify), or with opt->zstd_workers > 0
 * through the streaming chain, verified on a worker thread. stop (may be NULL) is polled
 * before compressing and before verifying (the streaming chain: between 1 MiB pieces): once
 * it is set the encoding ends early with PGP_ERR_INTERNAL. On any failure out is left empty. */
int object_io_encode(const ObjectWriteOptions *opt, const void *data, size_t size,
                     const atomic_bool *stop, ObjectEncoded *out, PgpErr *err);
void object_io_encoded_free(ObjectEncoded *e);
/* Tests only: fn (NULL: none) alters the compressed bytes of every object_io_encode in memory
 * between compression and verification, to show that a damaged encoding is never returned. */
void object_io_set_encode_damage(void (*fn)(uint8_t *buf, size_t len));

/* Writes enc as one object: a writer opened at path, committed under final_path (in path's
 * directory) or, when it is NULL, under path; same rules as object_io_write's commit (never
 * replaces: PGP_ERR_CONFLICT; aborted on failure, nothing left). */
int object_io_store_encoded(Storage *s, const char *path, const ObjectEncoded *enc,
                            const char *final_path, PgpErr *err);
/* The same through batch (when not NULL; s otherwise): the object is named when the batch is
 * flushed (storage.h, "Batched commits"), and one already there is kept silently (posix) or
 * PGP_ERR_CONFLICT (a driver without batches). With seal (may be NULL) holding a key, the
 * encoded bytes are encrypted on their way to storage: encoding ahead needs no key (archive-
 * push compresses while the repository and its key are still being opened), and encrypting
 * a compressed segment costs about a millisecond. *stored (may be NULL) gets the bytes
 * written. */
int object_io_store_encoded_in(Storage *s, StorageBatch *batch, const char *path,
                               const ObjectEncoded *enc, const char *final_path,
                               const ObjectSeal *seal, uint64_t *stored, PgpErr *err);

#endif
