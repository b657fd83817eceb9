/*
 * object_usage.c - counts what objects/ holds from listings (object_usage.h).
 */
#include "pgpitr/repo/object_usage.h"

#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/repo/repo_layout.h"

typedef struct Scan {
    ObjectUsage *u;
    char (*fans)[REPO_PATH_MAX];
    size_t n_fans, cap_fans;
} Scan;

static int on_object(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)err;
    Scan *sc = ud;
    if (info->is_dir || strncmp(name, ".tmp.", 5) == 0)
        return 0;
    sc->u->objects++;
    sc->u->bytes += info->size;
    return 0;
}

static int on_fan(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Scan *sc = ud;
    if (!info->is_dir)
        return 0;   /* not an object: objects live one level down */
    if (GROW(sc->fans, sc->n_fans, sc->cap_fans, 256, "object directories", err) != 0)
        return err->code;
    return repo_layout_join(REPO_LAYOUT_OBJECTS_DIR, name, sc->fans[sc->n_fans++], err);
}

int object_usage_count(Storage *s, ObjectUsage *out, PgpErr *err)
{
    *out = (ObjectUsage){0};
    Scan sc = {.u = out};
    int rc;
    if (storage_has_list_tree(s)) {
        rc = storage_list_tree(s, REPO_LAYOUT_OBJECTS_DIR, on_object, &sc, err);
    } else {
        rc = storage_list(s, REPO_LAYOUT_OBJECTS_DIR, on_fan, &sc, err);
        for (size_t i = 0; rc == 0 && i < sc.n_fans; i++)
            rc = storage_list(s, sc.fans[i], on_object, &sc, err);
    }
    free(sc.fans);
    if (rc != 0 && rc != PGP_ERR_NOMEM)
        pgp_err_context(err, "cannot list \"%s\"", REPO_LAYOUT_OBJECTS_DIR);
    return rc;
}
