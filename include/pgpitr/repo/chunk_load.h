/*
 * chunk_load.h - the chunk list of a manifest entry stored as chunks (manifest format 3,
 * docs/chunking.md), read from the repository and checked before anyone acts on it
 * (src/repo/chunk_load.c): every command that follows a chunked file to its chunks (expire's
 * references, restore, verify, the next backup's comparison) reads it through here.
 *
 * Checks, each PGP_ERR_CORRUPT naming the file and the list object: the object exists (a
 * missing list is damage, not "not found"), its content hashes to the entry's
 * chunk_list_sha256, is at most CHUNK_LIST_MAX_BYTES, parses strictly (chunk_list_from_json),
 * and describes the entry: size, chunk size, number of chunks, and a chunk codec equal to the
 * list object's own (one backup's codec for both).
 */
#ifndef PGPITR_CHUNK_LOAD_H
#define PGPITR_CHUNK_LOAD_H

#include "pgpitr/common/err.h"
#include "pgpitr/repo/chunk_list.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/storage/storage.h"

/* e must be a chunked file entry (manifest_entry_chunked; PGP_ERR_INTERNAL otherwise). *out
 * is the list (chunk_list_free), or NULL on error. key: an encrypted repository's
 * (repo_crypto_key; NULL: not encrypted), used to read the list and kept in it (not owned)
 * to name its chunks. */
int chunk_list_load(Storage *s, const CryptoRepoKey *key, const ManifestEntry *e,
                    ChunkList **out, PgpErr *err);

#endif
