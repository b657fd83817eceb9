/*
 * repo_seal.h - how any repository path is sealed in an encrypted repository, for readers that
 * are given a path rather than knowing what they read (`pgpitr repo-get`).
 *
 * The writers each know their own kind (object_io.h for WAL and content-addressed objects,
 * meta_io.h for metadata, repo.c for the plain files); this is the same knowledge keyed by
 * path, so that a path's kind is decided in one place for such readers.
 */
#ifndef PGPITR_REPO_SEAL_H
#define PGPITR_REPO_SEAL_H

#include "pgpitr/common/err.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/repo_layout.h"

typedef enum {
    REPO_SEAL_PLAIN,     /* never encrypted: repo.json, keys/, locks/, leases/, markers */
    REPO_SEAL_WAL,       /* archived WAL and history files: bound to the file's name */
    REPO_SEAL_CONTENT,   /* content-addressed objects: OBJECT_AD_CONTENT */
    REPO_SEAL_PATH,      /* metadata and PostgreSQL's backup_manifest: bound to the path */
} RepoSealKind;

/* The kind of path (a repository path, relative, already checked by repo_path_valid). */
RepoSealKind repo_seal_kind(const char *path);

/* The seal of path under key (NULL: an unencrypted repository, and seal->key is NULL too):
 * seal->ad points into ad or at a constant; a REPO_SEAL_PLAIN path has seal->key NULL.
 * PGP_ERR_INVALID_NAME when an archived object's name has no "-<hex>". */
int repo_seal_of(const CryptoRepoKey *key, const char *path, ObjectSeal *seal,
                 char ad[REPO_PATH_MAX], PgpErr *err);

/* Whether path is a plain relative repository path: not empty, not absolute, no empty, "."
 * or ".." component, no control bytes, shorter than REPO_PATH_MAX. */
bool repo_path_valid(const char *path);

#endif
