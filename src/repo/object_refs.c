/*
 * object_refs.c - the set of objects some backups reference (object_refs.h): each manifest
 * streamed entry by entry into a packed buffer of paths, then sorted and deduplicated, the
 * buffer rebuilt from the distinct paths so that it never holds a path twice for long.
 */
#include "pgpitr/repo/object_refs.h"

#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/repo/chunk_load.h"
#include "pgpitr/repo/manifest.h"

static int nomem(PgpErr *err)
{
    return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory collecting referenced objects");
}

#define COMPACT_MIN 65536

static int compact(ObjectRefs *r, PgpErr *err);

static int add_path(ObjectRefs *r, const char *path, uint64_t stored_size, PgpErr *err)
{
    size_t len = strlen(path) + 1;
    if (GROW(r->v, r->n, r->cap_v, 1024, NULL, NULL) != 0 ||
        GROW_N(r->text, r->len, len, r->cap, 64 * 1024, NULL, NULL) != 0)
        return nomem(err);
    memcpy(r->text + r->len, path, len);
    r->v[r->n++] = (ObjectRef){.off = r->len, .stored_size = stored_size};
    r->len += len;
    /* Compacting as soon as as many paths came in as the set held keeps a backup whose files
     * share few objects from costing a path per file, and the rest at most twice the set. */
    if (r->n - r->n_compact >= (r->n_compact > COMPACT_MIN ? r->n_compact : COMPACT_MIN))
        return compact(r, err);
    return 0;
}

/* A chunked file references its list and every chunk the list names: the list is read (and
 * checked) here, so an unreadable list fails the whole set: expire must not plan removals
 * around references it cannot know. The list's stored_size is the entry's (list and chunks);
 * the chunks count 0 there. */
static int add_chunked(ObjectRefs *r, Storage *s, const CryptoRepoKey *key,
                       const ManifestEntry *e, PgpErr *err)
{
    ChunkList *l = NULL;
    int rc = chunk_list_load(s, key, e, &l, err);
    if (rc == 0)
        rc = add_path(r, e->chunk_list, e->stored_size, err);
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        char path[REPO_PATH_MAX];
        rc = chunk_list_object_path(l, i, path, err);
        if (rc == 0)
            rc = add_path(r, path, 0, err);
    }
    chunk_list_free(l);
    return rc;
}

typedef struct Walk {
    ObjectRefs *r;
    Storage *s;
    const CryptoRepoKey *key;   /* reads the chunk lists and names their chunks */
} Walk;

static int on_entry(void *ud, const BackupManifest *m, const ManifestEntry *e, size_t i,
                    PgpErr *err)
{
    (void)m;
    (void)i;
    Walk *w = ud;
    if (manifest_entry_chunked(e))
        return add_chunked(w->r, w->s, w->key, e, err);
    if (e->object == NULL)
        return 0;
    return add_path(w->r, e->object, e->stored_size, err);
}

static int cmp_ref(const void *a, const void *b, void *text)
{
    const ObjectRef *x = a, *y = b;
    int c = strcmp((const char *)text + x->off, (const char *)text + y->off);
    return c != 0 ? c : (x->off > y->off) - (x->off < y->off);   /* the earliest first */
}

/* Sorts, keeps each path once, and packs the buffer again with only those paths. */
static int compact(ObjectRefs *r, PgpErr *err)
{
    if (r->n > 0)   /* nothing yet: v is NULL, which qsort_r must not be given */
        qsort_r(r->v, r->n, sizeof *r->v, cmp_ref, r->text);   /* GNU argument order */
    size_t k = 0, len = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (k > 0 && strcmp(r->text + r->v[k - 1].off, r->text + r->v[i].off) == 0)
            continue;
        r->v[k++] = r->v[i];
        len += strlen(r->text + r->v[i].off) + 1;
    }
    char *text = malloc(len > 0 ? len : 1);
    if (text == NULL)
        return nomem(err);
    size_t at = 0;
    r->stored_bytes = 0;
    for (size_t i = 0; i < k; i++) {
        size_t n = strlen(r->text + r->v[i].off) + 1;
        memcpy(text + at, r->text + r->v[i].off, n);
        r->v[i].off = at;
        r->stored_bytes += r->v[i].stored_size;
        at += n;
    }
    free(r->text);
    r->text = text;
    r->len = r->cap = len;
    r->n = r->n_compact = k;
    return 0;
}

int object_refs_add_backup(ObjectRefs *r, Storage *s, const CryptoRepoKey *key, const char *label,
                           PgpErr *err)
{
    Walk w = {.r = r, .s = s, .key = key};
    ManifestReadOpts o = {.fn = on_entry, .ud = &w};
    BackupManifest *m = NULL;
    int rc = manifest_stream(s, key, label, &o, &m, err);
    manifest_free(m);
    if (rc == 0)
        rc = compact(r, err);
    return rc;
}

bool object_refs_has(const ObjectRefs *r, const char *path)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, r->text + r->v[mid].off);
        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

const char *object_refs_path(const ObjectRefs *r, size_t i)
{
    return r->text + r->v[i].off;
}

void object_refs_free(ObjectRefs *r)
{
    free(r->text);
    free(r->v);
    memset(r, 0, sizeof *r);
}
