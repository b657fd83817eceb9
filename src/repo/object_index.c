/*
 * object_index.c - which backup objects are stored, from listings of objects/ (see
 * object_index.h for what is listed when, and why that is safe).
 *
 * Owns: the parse of a content address, the per-directory sorted arrays and their lookup,
 * and the choice between listing a directory and one stat per lookup.
 */
#include "pgpitr/repo/object_index.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/hexstr.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/repo_layout.h"

#define FANS 256
#define DIGEST_LEN 32
#define HEX_LEN (2 * DIGEST_LEN)
/* Sizes are kept with the codec in one word: an object of 2^56 bytes (64 PiB) cannot exist. */
#define SIZE_MAX_KEPT ((UINT64_C(1) << 56) - 1)

typedef struct Entry {
    uint8_t digest[DIGEST_LEN];
    uint64_t meta;              /* size << 8 | codec: 40 bytes an object */
} Entry;

typedef struct Fan {
    pthread_mutex_t mu;         /* everything below */
    Entry *v;                   /* sorted by (digest, codec), no duplicates, once listed */
    size_t n, cap;
    unsigned told, lookups;     /* object_index_expect calls; lookups while not listed */
    bool listed;
} Fan;

struct ObjectIndex {
    Storage *s;
    ObjectIndexMode mode;
    unsigned expect;
    pthread_mutex_t tree_mu;    /* taken before any other lock, never while holding one */
    bool tree_done;             /* the listing of the whole tree was tried (under tree_mu) */
    pthread_mutex_t mu;         /* the fields below */
    bool root_listed;
    bool present[FANS];         /* directories that objects/ held when it was listed */
    unsigned pages;             /* requests one directory's listing is expected to take */
    ObjectIndexStats st;
    Fan fan[FANS];
};

/* ---- content addresses ---------------------------------------------------------------------- */

static int nibble(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* "<64 lowercase hex><ext>" into digest and codec. */
static bool parse_name(const char *name, uint8_t digest[DIGEST_LEN], uint8_t *codec)
{
    PipeCodec c;
    if (!hexstr_is(name, HEX_LEN, HEX_LOWER) || !pipe_codec_from_ext(name + HEX_LEN, &c))
        return false;
    for (size_t i = 0; i < DIGEST_LEN; i++)
        digest[i] = (uint8_t)(nibble(name[2 * i]) << 4 | nibble(name[2 * i + 1]));
    *codec = (uint8_t)c;
    return true;
}

bool object_index_parse(const char *object_path, uint8_t digest[32], uint8_t *codec)
{
    static const char dir[] = REPO_LAYOUT_OBJECTS_DIR "/";
    size_t dl = sizeof dir - 1;
    if (object_path == NULL || strncmp(object_path, dir, dl) != 0)
        return false;
    const char *fan = object_path + dl;
    return hexstr_is(fan, 2, HEX_LOWER) && fan[2] == '/' && parse_name(fan + 3, digest, codec) &&
           memcmp(fan, fan + 3, 2) == 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const Entry *x = a, *y = b;
    int c = memcmp(x->digest, y->digest, DIGEST_LEN);
    if (c != 0)
        return c;
    return (int)(x->meta & 0xff) - (int)(y->meta & 0xff);
}

/* Index of the first entry not below key (n if none). */
static size_t lower_bound(const Fan *f, const Entry *key)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry_cmp(&f->v[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- listing ---------------------------------------------------------------------------------- */

typedef struct ListCtx {
    ObjectIndex *ix;
    Fan *f;
    uint8_t fan;
    uint64_t ignored;
} ListCtx;

static int on_root(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)err;
    ObjectIndex *ix = ud;
    if (info->is_dir && hexstr_exact(name, 2, HEX_LOWER))
        ix->present[nibble(name[0]) << 4 | nibble(name[1])] = true;
    return 0;
}

static int on_name(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    ListCtx *c = ud;
    Entry e;
    uint8_t codec;
    if (info->is_dir || info->size > SIZE_MAX_KEPT || !parse_name(name, e.digest, &codec) ||
        e.digest[0] != c->fan) {
        c->ignored++;
        return 0;
    }
    e.meta = info->size << 8 | codec;
    if (GROW(c->f->v, c->f->n, c->f->cap, 64, "listed objects", err) != 0)
        return PGP_ERR_NOMEM;
    c->f->v[c->f->n++] = e;
    return 0;
}

/* Sorts the listed entries and drops repeated names (a listing never repeats one; a store
 * that did must not make the array unsearchable). */
static void fan_sort(Fan *f)
{
    if (f->n > 1)
        qsort(f->v, f->n, sizeof *f->v, entry_cmp);
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++)
        if (k == 0 || entry_cmp(&f->v[k - 1], &f->v[i]) != 0)
            f->v[k++] = f->v[i];
    f->n = k;
}

/* Lists objects/ once: which directories exist (under ix->mu). After a listing of the
 * whole tree, the directories it did not cover are listed as they are asked about. */
static int list_root(ObjectIndex *ix, PgpErr *err)
{
    if (ix->root_listed)
        return 0;
    if (ix->tree_done && storage_has_list_tree(ix->s)) {
        memset(ix->present, 1, sizeof ix->present);
        ix->root_listed = true;
        return 0;
    }
    int rc = storage_list(ix->s, REPO_LAYOUT_OBJECTS_DIR, on_root, ix, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot list \"%s\"", REPO_LAYOUT_OBJECTS_DIR);
    ix->root_listed = true;
    ix->st.listings++;
    return 0;
}

/* Lists directory objects/XX into f (f->mu held). */
static int list_fan(ObjectIndex *ix, Fan *f, uint8_t fan, PgpErr *err)
{
    pthread_mutex_lock(&ix->mu);
    int rc = list_root(ix, err);
    bool present = ix->present[fan];
    pthread_mutex_unlock(&ix->mu);
    if (rc != 0)
        return rc;
    ListCtx c = {.ix = ix, .f = f, .fan = fan};
    if (present) {
        char dir[REPO_PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%02x", REPO_LAYOUT_OBJECTS_DIR, fan);
        rc = storage_list(ix->s, dir, on_name, &c, err);
        if (rc != 0) {
            f->n = 0;
            return pgp_err_context(err, "cannot list \"%s\"", dir);
        }
        fan_sort(f);
    }
    f->listed = true;
    pthread_mutex_lock(&ix->mu);
    ix->st.ignored += c.ignored;
    if (present) {
        ix->st.listings++;
        unsigned pages = (unsigned)(f->n / OBJECT_INDEX_PAGE) + 1;
        if (pages > ix->pages)
            ix->pages = pages;
    }
    pthread_mutex_unlock(&ix->mu);
    return 0;
}

/* Whether to list f now (f->mu held, its lookups counted): when the lookups expected there,
 * or made already, outnumber the requests its listing is expected to take. */
static bool should_list(ObjectIndex *ix, const Fan *f)
{
    if (ix->mode == OBJECT_INDEX_LIST)
        return true;
    unsigned want = f->told > 0 ? f->told : ix->expect;
    if (f->lookups > want)
        want = f->lookups;
    pthread_mutex_lock(&ix->mu);
    unsigned pages = ix->pages;
    pthread_mutex_unlock(&ix->mu);
    return want > pages;
}

/* ---- the whole tree in one listing --------------------------------------------------------------
 * On S3 a listing of objects/ without delimiter answers for 1000 objects a request whatever
 * directories they are in: a repository of a few thousand objects is known in a few requests,
 * where listing its directories one by one takes up to 256. Its pages come in key order, so
 * when the listing is stopped (a large repository), every directory before the last name is
 * complete; the others are left to the per-directory choice, with the density learnt. */

#define TREE_STOP (-1)          /* a callback's "stop", never an error code */
#define TREE_PAGES_MAX 64u      /* the longest run of sequential requests spent up front */

typedef struct TreeCtx {
    Fan fan[FANS];              /* v, n, cap only */
    size_t seen, budget;        /* names so far; names to stop at */
    char last[REPO_PATH_MAX];   /* the last name seen */
    uint64_t ignored;
} TreeCtx;

static int on_tree(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    TreeCtx *t = ud;
    snprintf(t->last, sizeof t->last, "%s", name);
    uint8_t fan;
    if (hexstr_is(name, 2, HEX_LOWER) && name[2] == '/') {
        fan = (uint8_t)(nibble(name[0]) << 4 | nibble(name[1]));
        ListCtx c = {.f = &t->fan[fan], .fan = fan};
        int rc = on_name(&c, name + 3, info, err);
        if (rc != 0)
            return rc;
        t->ignored += c.ignored;
    } else {
        t->ignored++;
    }
    return ++t->seen >= t->budget ? TREE_STOP : 0;
}

/* Lookups expected in all: what the caller told, else its guess per directory. */
static size_t expected_lookups(ObjectIndex *ix)
{
    size_t told = 0;
    for (int i = 0; i < FANS; i++) {
        pthread_mutex_lock(&ix->fan[i].mu);
        told += ix->fan[i].told;
        pthread_mutex_unlock(&ix->fan[i].mu);
    }
    return told > 0 ? told : (size_t)ix->expect * FANS;
}

/* Hands the complete directories of t to the index (tree_mu held, no fan listed yet). */
static void tree_adopt(ObjectIndex *ix, TreeCtx *t, bool complete)
{
    size_t in_complete = 0, n_complete = 0;
    for (int i = 0; i < FANS; i++) {
        char dir[4];
        snprintf(dir, sizeof dir, "%02x/", i);
        Fan *f = &ix->fan[i];
        if (!complete && strncmp(t->last, dir, 3) <= 0)
            continue;                   /* the listing stopped before its end */
        pthread_mutex_lock(&f->mu);
        free(f->v);
        f->v = t->fan[i].v;
        f->n = t->fan[i].n;
        f->cap = t->fan[i].cap;
        t->fan[i].v = NULL;
        fan_sort(f);
        f->listed = true;
        in_complete += f->n;
        n_complete++;
        pthread_mutex_unlock(&f->mu);
    }
    pthread_mutex_lock(&ix->mu);
    ix->st.listings++;
    ix->st.ignored += t->ignored;
    if (!complete && n_complete > 0)
        ix->pages = (unsigned)(in_complete / n_complete / OBJECT_INDEX_PAGE) + 1;
    pthread_mutex_unlock(&ix->mu);
}

/* Once, before the first lookup: the whole tree if the storage lists trees and the lookups
 * expected pay for it (a quarter of a request each; at most TREE_PAGES_MAX requests). */
static int tree_once(ObjectIndex *ix, PgpErr *err)
{
    pthread_mutex_lock(&ix->tree_mu);
    int rc = 0;
    size_t pages = ix->tree_done || !storage_has_list_tree(ix->s) ? 0
                   : ix->mode == OBJECT_INDEX_LIST                ? TREE_PAGES_MAX
                                                                  : expected_lookups(ix) / 4;
    if (pages > TREE_PAGES_MAX)
        pages = TREE_PAGES_MAX;
    TreeCtx *t = pages > 0 ? calloc(1, sizeof *t) : NULL;
    if (pages > 0 && t == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (t != NULL) {
        t->budget = pages * OBJECT_INDEX_PAGE;
        rc = storage_list_tree(ix->s, REPO_LAYOUT_OBJECTS_DIR, on_tree, t, err);
        if (rc == 0 || rc == TREE_STOP)
            tree_adopt(ix, t, rc == 0);
        else
            pgp_err_context(err, "cannot list \"%s\"", REPO_LAYOUT_OBJECTS_DIR);
        rc = rc == TREE_STOP ? 0 : rc;
        for (int i = 0; i < FANS; i++)
            free(t->fan[i].v);
        free(t);
    }
    if (rc == 0)
        ix->tree_done = true;
    pthread_mutex_unlock(&ix->tree_mu);
    return rc;
}

/* ---- the interface ----------------------------------------------------------------------------- */

int object_index_new(Storage *s, ObjectIndexMode mode, unsigned expect, ObjectIndex **out,
                     PgpErr *err)
{
    *out = NULL;
    ObjectIndex *ix = calloc(1, sizeof *ix);
    if (ix == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    ix->s = s;
    /* A directory of a posix repository is listed by stat-ing every entry in it: a stat per
     * lookup is never more work, and it is a system call, not a round trip. */
    if (mode == OBJECT_INDEX_AUTO && (storage_features(s) & STORAGE_FEATURE_PATH) != 0)
        mode = OBJECT_INDEX_STAT;
    ix->mode = mode;
    ix->expect = expect;
    ix->pages = 1;
    pthread_mutex_init(&ix->tree_mu, NULL);
    pthread_mutex_init(&ix->mu, NULL);
    for (int i = 0; i < FANS; i++)
        pthread_mutex_init(&ix->fan[i].mu, NULL);
    *out = ix;
    return 0;
}

void object_index_free(ObjectIndex *ix)
{
    if (ix == NULL)
        return;
    for (int i = 0; i < FANS; i++) {
        free(ix->fan[i].v);
        pthread_mutex_destroy(&ix->fan[i].mu);
    }
    pthread_mutex_destroy(&ix->mu);
    pthread_mutex_destroy(&ix->tree_mu);
    free(ix);
}

void object_index_expect(ObjectIndex *ix, const char *object_path)
{
    uint8_t digest[DIGEST_LEN], codec;
    if (!object_index_parse(object_path, digest, &codec))
        return;
    Fan *f = &ix->fan[digest[0]];
    pthread_mutex_lock(&f->mu);
    f->told++;
    pthread_mutex_unlock(&f->mu);
}

static void count(ObjectIndex *ix, uint64_t *counter)
{
    pthread_mutex_lock(&ix->mu);
    (*counter)++;
    pthread_mutex_unlock(&ix->mu);
}

static int stat_path(ObjectIndex *ix, const char *path, uint64_t *size, PgpErr *err)
{
    StorageInfo info;
    count(ix, &ix->st.stats);
    int rc = storage_stat(ix->s, path, &info, err);
    if (rc == 0 && size != NULL)
        *size = info.size;
    return rc;
}

int object_index_stat(ObjectIndex *ix, const char *object_path, uint64_t *size, PgpErr *err)
{
    Entry key;
    uint8_t codec;
    if (ix->mode == OBJECT_INDEX_STAT || !object_index_parse(object_path, key.digest, &codec))
        return stat_path(ix, object_path, size, err);
    key.meta = codec;
    int rc = tree_once(ix, err);
    if (rc != 0)
        return rc;
    Fan *f = &ix->fan[key.digest[0]];
    pthread_mutex_lock(&f->mu);
    if (!f->listed) {
        f->lookups++;
        if (should_list(ix, f))
            rc = list_fan(ix, f, key.digest[0], err);
    }
    if (rc != 0 || !f->listed) {
        pthread_mutex_unlock(&f->mu);
        return rc != 0 ? rc : stat_path(ix, object_path, size, err);
    }
    size_t i = lower_bound(f, &key);
    bool found = i < f->n && entry_cmp(&f->v[i], &key) == 0;
    uint64_t got = found ? f->v[i].meta >> 8 : 0;
    pthread_mutex_unlock(&f->mu);
    count(ix, &ix->st.listed);
    if (!found)
        return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "object \"%s\" is not in the repository",
                        object_path);
    if (size != NULL)
        *size = got;
    return 0;
}

void object_index_add(ObjectIndex *ix, const char *object_path, uint64_t size)
{
    Entry key;
    uint8_t codec;
    if (ix->mode == OBJECT_INDEX_STAT || size > SIZE_MAX_KEPT ||
        !object_index_parse(object_path, key.digest, &codec))
        return;
    key.meta = size << 8 | codec;
    Fan *f = &ix->fan[key.digest[0]];
    pthread_mutex_lock(&f->mu);
    if (f->listed) {            /* not listed: a later lookup lists or stats, and sees it */
        size_t i = lower_bound(f, &key);
        if (i < f->n && entry_cmp(&f->v[i], &key) == 0) {
            f->v[i].meta = key.meta;
        } else if (GROW(f->v, f->n, f->cap, 64, NULL, NULL) == 0) {
            memmove(&f->v[i + 1], &f->v[i], (f->n - i) * sizeof *f->v);
            f->v[i] = key;
            f->n++;
        }
    }
    pthread_mutex_unlock(&f->mu);
}

ObjectIndexStats object_index_stats(ObjectIndex *ix)
{
    pthread_mutex_lock(&ix->mu);
    ObjectIndexStats st = ix->st;
    pthread_mutex_unlock(&ix->mu);
    return st;
}
