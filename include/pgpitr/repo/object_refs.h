/*
 * object_refs.h - the set of repository objects that some backups' manifests reference
 * (expire: what kept backups need; backup: what a failed backup may not remove), built by
 * streaming each manifest (manifest_stream) instead of holding every backup's entries.
 *
 * Memory grows with the DISTINCT objects referenced (their paths, packed in one buffer, and
 * 16 bytes each), not with backups times files: the set is sorted and deduplicated after
 * each backup and whenever as many paths came in as it held, so a hundred backups sharing
 * most objects cost about one backup's worth, and it never holds more than twice its
 * distinct paths (plus 65,536).
 */
#ifndef PGPITR_OBJECT_REFS_H
#define PGPITR_OBJECT_REFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/storage/storage.h"

typedef struct ObjectRef {
    size_t off;              /* of the path in text */
    uint64_t stored_size;    /* from the first manifest that named it */
} ObjectRef;

typedef struct ObjectRefs {
    char *text;              /* NUL-terminated paths, back to back */
    size_t len, cap;
    ObjectRef *v;            /* sorted by path and distinct after each add */
    size_t n, cap_v;
    size_t n_compact;        /* n at the last compaction (the distinct ones) */
    uint64_t stored_bytes;   /* sum of stored_size over the distinct objects */
} ObjectRefs;

/* Adds every object backup `label`'s manifest references. Errors as manifest_stream
 * (PGP_ERR_NOT_FOUND when it has no manifest, PGP_ERR_CORRUPT, storage errors, NOMEM); on
 * error the set may hold part of that backup's objects. Zero-initialise r first. key: the
 * repository key the manifest and chunk lists are read with, and chunks named with
 * (repo_crypto_key; NULL: unencrypted). */
int object_refs_add_backup(ObjectRefs *r, Storage *s, const CryptoRepoKey *key, const char *label,
                           PgpErr *err);
bool object_refs_has(const ObjectRefs *r, const char *path);
const char *object_refs_path(const ObjectRefs *r, size_t i);
void object_refs_free(ObjectRefs *r);     /* a zeroed set is fine; leaves it zeroed */

#endif
