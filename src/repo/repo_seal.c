/*
 * repo_seal.c - a repository path's seal decided from the path alone (repo_seal.h).
 *
 * Owns: the map from the layout (repo_layout.h) to the associated data each writer uses.
 * A path outside the encrypted kinds is plain, so that a diagnostic reader can show repo.json
 * or a lock; everything else must authenticate, so a plain object planted under an encrypted
 * kind's path is refused rather than shown as if it were the repository's.
 */
#include "pgpitr/repo/repo_seal.h"

#include <stdbool.h>
#include <string.h>

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* backup/<label>/<file>: whether file is the pgpitr or the PostgreSQL manifest. */
static bool backup_manifest(const char *path)
{
    const char *label = path + strlen(REPO_LAYOUT_BACKUP_DIR "/");
    const char *slash = strchr(label, '/');
    if (slash == NULL || slash == label)
        return false;
    const char *file = slash + 1;
    return strcmp(file, REPO_LAYOUT_MANIFEST) == 0 || starts(file, REPO_LAYOUT_PG_MANIFEST);
}

RepoSealKind repo_seal_kind(const char *path)
{
    if (starts(path, REPO_LAYOUT_DROPPED_DIR "/"))
        return REPO_SEAL_PATH;
    if (starts(path, REPO_LAYOUT_WAL_DIR "/") || starts(path, REPO_LAYOUT_HISTORY_DIR "/"))
        return REPO_SEAL_WAL;
    if (starts(path, REPO_LAYOUT_OBJECTS_DIR "/") && strcmp(path, REPO_PENDING_OBJECT) != 0)
        return REPO_SEAL_CONTENT;
    if (starts(path, REPO_LAYOUT_DRILL_DIR "/") || starts(path, REPO_LAYOUT_VERIFY_DIR "/"))
        return REPO_SEAL_PATH;
    if (starts(path, REPO_LAYOUT_BACKUP_DIR "/") && backup_manifest(path))
        return REPO_SEAL_PATH;
    return REPO_SEAL_PLAIN;
}

int repo_seal_of(const CryptoRepoKey *key, const char *path, ObjectSeal *seal,
                 char ad[REPO_PATH_MAX], PgpErr *err)
{
    *seal = (ObjectSeal){NULL, NULL};
    if (key == NULL)
        return 0;
    bool by_name = false;
    switch (repo_seal_kind(path)) {
    case REPO_SEAL_PLAIN:
        return 0;
    case REPO_SEAL_WAL:
        if (object_io_seal_of(key, path, seal, ad, &by_name, NULL) != 0)
            return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "\"%s\" is not an archived object's "
                            "name (<WAL name>-<hex>[.ext])", path);
        return 0;
    case REPO_SEAL_CONTENT:
        *seal = (ObjectSeal){key, OBJECT_AD_CONTENT};
        return 0;
    case REPO_SEAL_PATH:
        *seal = (ObjectSeal){key, path};
        return 0;
    }
    return PGP_FAIL(err, PGP_ERR_INTERNAL, "unknown seal kind");
}

bool repo_path_valid(const char *path)
{
    size_t n = strlen(path);
    if (n == 0 || n >= REPO_PATH_MAX || path[0] == '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)path[i] < 0x20 || path[i] == 0x7f)
            return false;
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash != NULL ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (slash == NULL)
            return true;
        p = slash + 1;
    }
}
