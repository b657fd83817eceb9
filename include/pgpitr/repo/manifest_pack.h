/*
 * manifest_pack.h - one backup's manifest entries kept compactly, for a command that needs
 * every entry of a backup at once (restore: it sorts files by size, checks every object and
 * writes directories, files and symlinks in separate passes). Issue #14 bounds such commands
 * to 300 bytes per file listed; a ManifestEntry is 128 bytes before its strings, and an
 * object path ("objects/<2>/<64 hex>.zst", 80 bytes) repeats the entry's checksum.
 *
 * A pack holds each entry as one record in big blocks of memory (never a malloc an entry):
 * the numbers (size, mtime, stored_size, tablespace, mode, type, chunk shift), the SHA-256 as
 * 32 bytes instead of 65 characters, the path, and the object path only when it is not the
 * content address of that SHA-256 (repo_object_path: then a codec byte names it). A symlink's
 * target or a chunked file's chunk list path follows as text. 66 bytes plus the path for a
 * file, plus 8 for the index; 4 more for a crc32c (only a backup computes one).
 *
 * Unpacking gives back a ManifestEntry equal field for field to the one added:
 * tests/unit/test_manifest_pack.c. Records never move once added, so the
 * strings an unpacked entry points to stay valid until manifest_pack_free.
 * Not thread-safe for adding; reading (at, unpack, the accessors) from many threads is fine.
 */
#ifndef PGPITR_MANIFEST_PACK_H
#define PGPITR_MANIFEST_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/storage/storage.h"

typedef struct ManifestPack ManifestPack;
typedef struct ManifestPackItem ManifestPackItem;   /* one record inside a pack (opaque) */

/* An entry taken out of a pack: e's path, link_target / chunk_list point into the pack; e's
 * object points to object[] (a derived content address) or into the pack, or is NULL. */
typedef struct ManifestUnpacked {
    ManifestEntry e;
    char object[REPO_PATH_MAX];
} ManifestUnpacked;

ManifestPack *manifest_pack_new(void);            /* NULL when out of memory */
void manifest_pack_free(ManifestPack *p);         /* NULL is a no-op */

/* Appends a copy of e (its strings copied). Only NOMEM fails; e's content is not checked
 * (a manifest read with manifest_stream was). */
int manifest_pack_add(ManifestPack *p, const ManifestEntry *e, PgpErr *err);

size_t manifest_pack_count(const ManifestPack *p);
/* Record i (< count), in the order added; stable until manifest_pack_free. */
const ManifestPackItem *manifest_pack_at(const ManifestPack *p, size_t i);

void manifest_pack_unpack(const ManifestPackItem *it, ManifestUnpacked *out);
/* Without unpacking: */
ManifestEntryType manifest_pack_item_type(const ManifestPackItem *it);
uint64_t manifest_pack_item_size(const ManifestPackItem *it);
uint32_t manifest_pack_item_tablespace(const ManifestPackItem *it);
const char *manifest_pack_item_path(const ManifestPackItem *it);
/* A file stored as chunks (manifest_entry_chunked): its content is a chunk list. */
bool manifest_pack_item_chunked(const ManifestPackItem *it);

/* The object holding a file's content (its object, or its chunk list when chunked): a
 * pointer into the pack or to buf; NULL when it has none (not a file). */
const char *manifest_pack_item_content(const ManifestPackItem *it, char buf[REPO_PATH_MAX]);
/* strcmp() of two items' content objects (a missing one sorts first), without formatting
 * them when both are content addresses. */
int manifest_pack_content_cmp(const ManifestPackItem *a, const ManifestPackItem *b);

/* PGP_ERR_CORRUPT ("duplicate entry") when two entries have the same (tablespace, path):
 * restore would write one file twice. Paths compared, not hashes. */
int manifest_pack_check_duplicates(const ManifestPack *p, PgpErr *err);

/* Entry i (< m->n_entries) of a manifest whose entries are kept, as an array or, after
 * manifest_use_pack, packed (then unpacked into u, valid until the next call with u). */
const ManifestEntry *manifest_entry_at(const BackupManifest *m, size_t i, ManifestUnpacked *u);

/* manifest_stream of backup <label> with every entry added to a new pack: *m the header
 * (entries not kept, n_listed their number), *files the entries; both NULL on failure. The
 * checks are manifest_load's, the duplicate paths by manifest_pack_check_duplicates. */
int manifest_load_packed(Storage *s, const CryptoRepoKey *key, const char *label,
                         BackupManifest **m, ManifestPack **files, PgpErr *err);

#endif
