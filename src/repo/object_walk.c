/*
 * object_walk.c - every object under objects/ (object_walk.h).
 */
#include "pgpitr/repo/object_walk.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/repo/repo_layout.h"

typedef struct Walk {
    ObjectWalkFn fn;
    void *ud;
    bool fn_failed;             /* the error is fn's own: no "cannot list" context on it */
    const char *dir;            /* the fan-out directory being listed (posix) */
    char (*fans)[REPO_PATH_MAX];
    size_t n_fans, cap_fans;
} Walk;

static int emit(Walk *w, const char *dir, const char *name, uint64_t size, PgpErr *err)
{
    char path[REPO_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    w->fn_failed = true;
    if (n < 0 || (size_t)n >= sizeof path)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "repository path \"%s/%s\" is too long", dir,
                        name);
    int rc = w->fn(w->ud, path, size, err);
    w->fn_failed = rc != 0;
    return rc;
}

/* S3: names relative to objects/ ("5e/5eab..."); only those one level down are objects. */
static int on_tree(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    const char *slash = strchr(name, '/');
    if (info->is_dir || slash == NULL || strchr(slash + 1, '/') != NULL)
        return 0;
    return emit(ud, REPO_LAYOUT_OBJECTS_DIR, name, info->size, err);
}

static int on_object(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Walk *w = ud;
    return info->is_dir ? 0 : emit(w, w->dir, name, info->size, err);
}

static int on_fan(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Walk *w = ud;
    if (!info->is_dir)
        return 0;   /* not an object: objects live one level down */
    w->fn_failed = true;
    if (GROW(w->fans, w->n_fans, w->cap_fans, 256, "object directories", err) != 0)
        return err->code;
    int rc = repo_layout_join(REPO_LAYOUT_OBJECTS_DIR, name, w->fans[w->n_fans++], err);
    w->fn_failed = rc != 0;
    return rc;
}

static int listed(Walk *w, int rc, const char *dir, PgpErr *err)
{
    if (rc != 0 && !w->fn_failed)
        pgp_err_context(err, "cannot list \"%s\"", dir);
    return rc;
}

int object_walk(Storage *s, ObjectWalkFn fn, void *ud, PgpErr *err)
{
    Walk w = {.fn = fn, .ud = ud};
    int rc;
    if (storage_has_list_tree(s))
        return listed(&w, storage_list_tree(s, REPO_LAYOUT_OBJECTS_DIR, on_tree, &w, err),
                      REPO_LAYOUT_OBJECTS_DIR, err);
    rc = listed(&w, storage_list(s, REPO_LAYOUT_OBJECTS_DIR, on_fan, &w, err),
                REPO_LAYOUT_OBJECTS_DIR, err);
    for (size_t i = 0; rc == 0 && i < w.n_fans; i++) {
        w.dir = w.fans[i];
        rc = listed(&w, storage_list(s, w.dir, on_object, &w, err), w.dir, err);
    }
    free(w.fans);
    return rc;
}
