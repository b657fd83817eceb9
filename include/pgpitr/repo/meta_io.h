/*
 * meta_io.h - pgpitr's own metadata objects in the repository, written and read through one
 * seam so that an encrypted repository encrypts them too (docs/encryption.md, "Metadata
 * objects"): backup manifests (manifest.json), drill reports, verify summaries, records of
 * dropped segments. WAL, backup files and PostgreSQL's backup_manifest are object_io's.
 *
 * Every function takes the repository key (repo_crypto_key(repo)):
 *   NULL  the object's bytes are exactly the plaintext, as storage_put_all / storage_get_all /
 *         storage_open_write / storage_open_read give them (unencrypted repositories are
 *         read and written as before);
 *   key   the object is one encrypted stream (pipe_encrypt_new) whose associated data is the
 *         object's repository path, exactly as passed here: an object copied or renamed onto
 *         another's path, cut, extended or altered fails to read, PGP_ERR_CORRUPT with a
 *         message that names the path. A plaintext object read with a key is corrupt too
 *         (an encrypted repository is never written unencrypted).
 *
 * Storage's rules hold unchanged: nothing is visible under the final path before the commit,
 * a commit never replaces without STORAGE_WRITE_REPLACE (PGP_ERR_CONFLICT), an absent object
 * is PGP_ERR_NOT_FOUND. Does not own the key nor the storage.
 */
#ifndef PGPITR_META_IO_H
#define PGPITR_META_IO_H

#include <stddef.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/storage/storage.h"

/* ---- whole objects (small: reports, summaries, records) --------------------------------- */

/* len bytes at buf as the object at path (flags: storage_open_write's). */
int meta_put_all(Storage *s, const CryptoRepoKey *key, const char *path, unsigned flags,
                 const void *buf, size_t len, PgpErr *err);
/* The object's plaintext: *out malloc'd, NUL-terminated one byte past *len. max_len bounds the
 * plaintext: an object holding more is PGP_ERR_CORRUPT (with a key, the stored bytes are
 * bounded too, before they are read whole: meta_stored_max). */
int meta_get_all(Storage *s, const CryptoRepoKey *key, const char *path, size_t max_len,
                 char **out, size_t *len, PgpErr *err);
/* The most stored bytes an object of at most max_len bytes of plaintext can take under key
 * (max_len itself for NULL): header and a tag per chunk at the smallest chunk size a reader
 * accepts. SIZE_MAX when that does not fit. */
size_t meta_stored_max(const CryptoRepoKey *key, size_t max_len);

/* ---- streaming (manifests: never whole in memory) ---------------------------------------- */

typedef struct MetaWriter MetaWriter;

/* A writer of the object at path (flags as storage_open_write's). */
int meta_writer_open(Storage *s, const CryptoRepoKey *key, const char *path, unsigned flags,
                     MetaWriter **out, PgpErr *err);
/* The same bound to ad instead of the path (ad must outlive the writer): for a writer given
 * any repository path, which may be another kind's (repo_seal.h; `pgpitr repo-put`). */
int meta_writer_open_ad(Storage *s, const CryptoRepoKey *key, const char *ad, const char *path,
                        unsigned flags, MetaWriter **out, PgpErr *err);
int meta_write(MetaWriter *w, const void *buf, size_t len, PgpErr *err);
/* Finishes the stream and publishes the object durably; frees w (also on error). */
int meta_writer_commit(MetaWriter *w, PgpErr *err);
/* Discards; frees w. NULL is a no-op. */
void meta_writer_abort(MetaWriter *w);

typedef struct MetaReader MetaReader;

/* A reader of the object at path: PGP_ERR_NOT_FOUND when absent. */
int meta_reader_open(Storage *s, const CryptoRepoKey *key, const char *path, MetaReader **out,
                     PgpErr *err);
/* Up to len bytes of plaintext into buf; *got = 0 at the end, which is reported only once the
 * whole object authenticated (with a key): a cut object fails here instead. Bytes handed out
 * before an error must be discarded by the caller (each was authenticated, the whole was not). */
int meta_read(MetaReader *r, void *buf, size_t len, size_t *got, PgpErr *err);
/* NULL is a no-op. */
void meta_reader_close(MetaReader *r);

#endif
