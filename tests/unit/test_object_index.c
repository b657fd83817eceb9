/*
 * test_object_index.c - the object index (src/repo/object_index.c) on a temporary repository
 * (fx_repo) seen through a counting storage that has no directories, like S3: content
 * addresses parsed strictly; a listed directory answers present (with the stored size) and
 * absent; names that are not content addresses of their directory ignored; repeated names
 * kept once; a directory that does not exist answered without listing it; a failed listing
 * an error, never "absent"; objects added after a listing found; and the choice between
 * listing and stat (a lookup or two stat, many list; a dense directory raises the bar).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_repo.h"
#include "pgpitr/repo/object_index.h"

/* ---- a storage in front of fx.st without directories, counting stat and list calls ------- */

typedef struct Counting {
    Storage *inner;
    int stats, lists, trees;
    bool repeat;        /* every listed name twice */
    bool fail_list;     /* listings fail with PGP_ERR_IO */
} Counting;

typedef struct Twice {
    StorageListFn fn;
    void *ud;
} Twice;

static int twice(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Twice *t = ud;
    int rc = t->fn(t->ud, name, info, err);
    return rc != 0 ? rc : t->fn(t->ud, name, info, err);
}

static int c_stat(void *d, const char *path, StorageInfo *out, PgpErr *err)
{
    Counting *c = d;
    c->stats++;
    return storage_stat(c->inner, path, out, err);
}

static int c_list(void *d, const char *dir, StorageListFn fn, void *ud, PgpErr *err)
{
    Counting *c = d;
    c->lists++;
    if (c->fail_list)
        return PGP_FAIL(err, PGP_ERR_IO, "listing \"%s\" failed on purpose", dir);
    Twice t = {fn, ud};
    return c->repeat ? storage_list(c->inner, dir, twice, &t, err)
                     : storage_list(c->inner, dir, fn, ud, err);
}

/* A tree listing as S3 makes it (in key order), from the directories of fx.st. */
typedef struct Prefixed {
    StorageListFn fn;
    void *ud;
    const char *dir;
    char (*dirs)[256];
    size_t n;
} Prefixed;

static int collect_dir(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)err;
    Prefixed *p = ud;
    if (info->is_dir && p->n < 300)
        snprintf(p->dirs[p->n++], 256, "%s", name);
    return 0;
}

static int prefixed(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Prefixed *p = ud;
    char full[600];
    snprintf(full, sizeof full, "%s/%s", p->dir, name);
    return info->is_dir ? 0 : p->fn(p->ud, full, info, err);
}

static int c_list_tree(void *d, const char *dir, StorageListFn fn, void *ud, PgpErr *err)
{
    Counting *c = d;
    c->trees++;
    Prefixed p = {fn, ud, NULL, calloc(300, 256), 0};
    ck_assert_ptr_nonnull(p.dirs);
    int rc = storage_list(c->inner, dir, collect_dir, &p, err);
    for (size_t i = 0; i < p.n && rc == 0; i++) {
        char sub[600];
        snprintf(sub, sizeof sub, "%s/%s", dir, p.dirs[i]);
        p.dir = p.dirs[i];
        rc = storage_list(c->inner, sub, prefixed, &p, err);
    }
    free(p.dirs);
    return rc;
}

static void c_free(void *d) { (void)d; }

static const StorageDriver counting_vt = {.name = "counting", .features = 0, .stat = c_stat,
                                          .list = c_list, .free = c_free};
static const StorageDriver tree_vt = {.name = "counting-tree", .features = 0, .stat = c_stat,
                                      .list = c_list, .free = c_free, .list_tree = c_list_tree};

static FxRepo fx;
static Counting cnt;
static Storage *cs, *ts;      /* without and with tree listings */

static void setup(void)
{
    fx_repo_init(&fx, "object_index");
    cnt = (Counting){.inner = fx.st};
    cs = storage_new(&counting_vt, &cnt);
    ts = storage_new(&tree_vt, &cnt);
    ck_assert_ptr_nonnull(cs);
    ck_assert_ptr_nonnull(ts);
}

static void teardown(void)
{
    storage_free(cs);
    storage_free(ts);
    fx_repo_free(&fx);
}

/* "objects/<fan>/<fan><62 hex digits of fill>": a content address in directory fan. */
static void addr(char out[REPO_PATH_MAX], const char *fan, char fill, const char *ext)
{
    char hex[65];
    memset(hex, fill, 64);
    hex[64] = '\0';
    memcpy(hex, fan, 2);
    snprintf(out, REPO_PATH_MAX, "objects/%s/%s%s", fan, hex, ext);
}

static ObjectIndex *index_on(Storage *s, ObjectIndexMode mode, unsigned expect)
{
    ObjectIndex *ix = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(object_index_new(s, mode, expect, &ix, &err), 0);
    return ix;
}

static ObjectIndex *new_index(ObjectIndexMode mode, unsigned expect)
{
    return index_on(cs, mode, expect);
}

/* n empty files named as objects of directory fan (plain files: no fsync each). */
static void fill(const char *fan, int n)
{
    char dir[REPO_PATH_MAX];
    snprintf(dir, sizeof dir, "objects/%s/README", fan);
    fx_put_raw(&fx, dir, "x");
    for (int i = 0; i < n; i++) {
        char full[512];
        snprintf(full, sizeof full, "%s/objects/%s/%s%062x", fx.root, fan, fan, i);
        FILE *f = fopen(full, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fclose(f), 0);
    }
}

static int lookup(ObjectIndex *ix, const char *path, uint64_t *size)
{
    PgpErr err = {0};
    return object_index_stat(ix, path, size, &err);
}

START_TEST(parses_content_addresses_only)
{
    uint8_t d[32], codec;
    char p[REPO_PATH_MAX];
    addr(p, "ab", 'c', ".zst");
    ck_assert(object_index_parse(p, d, &codec));
    ck_assert_uint_eq(d[0], 0xab);
    ck_assert_uint_eq(d[31], 0xcc);
    ck_assert_uint_eq(codec, PIPE_CODEC_ZSTD);
    addr(p, "ab", 'c', "");
    ck_assert(object_index_parse(p, d, &codec));
    ck_assert_uint_eq(codec, PIPE_CODEC_NONE);
    addr(p, "ab", 'c', ".lz4");
    ck_assert(object_index_parse(p, d, &codec));
    const char *bad[] = {
        NULL, "", "objects", "objects/ab/", "objects/ab/abc.zst", "backup/x/backup_manifest.zst",
        "objects/AB/ABcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.zst",
        "objects/ab/cdcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.zst",
        "objects/ab/abcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.gz",
        "objects/ab/abccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
        "objects/ab/abcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc/x",
        "objects/abc/abcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
        "xobjects/ab/abcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(!object_index_parse(bad[i], d, &codec), "parsed \"%s\"",
                      bad[i] ? bad[i] : "(null)");
}
END_TEST

/* One listing answers for its directory: present with the stored size, absent, other codec. */
START_TEST(listed_directory_answers)
{
    char a[REPO_PATH_MAX], b[REPO_PATH_MAX], other[REPO_PATH_MAX + 8];
    fx_put_object(&fx, "first content", a);
    fx_put_object(&fx, "second content", b);
    StorageInfo ia;
    ck_assert_int_eq(storage_stat(fx.st, a, &ia, NULL), 0);
    ObjectIndex *ix = new_index(OBJECT_INDEX_LIST, 0);
    uint64_t size = 0;
    ck_assert_int_eq(lookup(ix, a, &size), 0);
    ck_assert_uint_eq(size, ia.size);
    ck_assert_int_eq(lookup(ix, b, NULL), 0);
    snprintf(other, sizeof other, "%s.zst", a);       /* same content, another codec */
    PgpErr err = {0};
    ck_assert_int_eq(object_index_stat(ix, other, NULL, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, other));
    ck_assert_int_eq(cnt.stats, 0);
    /* objects/ once, then the directory of each object once */
    ck_assert_int_eq(cnt.lists, 1 + (memcmp(a, b, 11) == 0 ? 1 : 2));
    ObjectIndexStats st = object_index_stats(ix);
    ck_assert_uint_eq(st.listed, 3);
    ck_assert_uint_eq(st.stats, 0);
    /* not a content address: asked of the storage */
    ck_assert_int_eq(lookup(ix, "backup/x/backup_manifest", NULL), PGP_ERR_NOT_FOUND);
    ck_assert_int_eq(cnt.stats, 1);
    object_index_free(ix);
}
END_TEST

/* Stray names in a directory are not objects; a name listed twice is kept once. */
START_TEST(malformed_and_repeated_names)
{
    char a[REPO_PATH_MAX], p[REPO_PATH_MAX];
    addr(a, "5e", '1', ".zst");
    fx_put_raw(&fx, a, "x");
    fx_put_raw(&fx, "objects/5e/README", "not an object");
    addr(p, "77", '1', ".zst");                         /* another directory's digest */
    char misplaced[REPO_PATH_MAX];
    snprintf(misplaced, sizeof misplaced, "objects/5e/%s", p + strlen("objects/77/"));
    fx_put_raw(&fx, misplaced, "x");
    addr(p, "5e", 'F', ".zst");                         /* uppercase */
    fx_put_raw(&fx, p, "x");
    addr(p, "5e", '2', ".gz");                          /* unknown codec */
    fx_put_raw(&fx, p, "x");
    addr(p, "5e", '3', "/inner");                       /* a directory */
    fx_put_raw(&fx, p, "x");
    cnt.repeat = true;
    ObjectIndex *ix = new_index(OBJECT_INDEX_LIST, 0);
    ck_assert_int_eq(lookup(ix, a, NULL), 0);
    addr(p, "5e", '4', ".zst");                         /* absent from the listing */
    ck_assert_int_eq(lookup(ix, p, NULL), PGP_ERR_NOT_FOUND);
    ObjectIndexStats st = object_index_stats(ix);
    ck_assert_uint_eq(st.listed, 2);
    ck_assert_uint_eq(st.ignored, 2 * 5);               /* every stray name, listed twice */
    ck_assert_int_eq(cnt.stats, 0);
    /* a path that is not a content address is the storage's to answer */
    ck_assert_int_eq(lookup(ix, misplaced, NULL), 0);
    ck_assert_int_eq(cnt.stats, 1);
    object_index_free(ix);
}
END_TEST

/* A directory objects/ does not hold, or an empty one: absent, without listing it. */
START_TEST(missing_and_empty_directories)
{
    char a[REPO_PATH_MAX], p[REPO_PATH_MAX];
    ObjectIndex *ix = new_index(OBJECT_INDEX_AUTO, OBJECT_INDEX_EXPECT_BACKUP);
    for (int i = 0; i < 256; i++) {                     /* an empty repository: one listing */
        char fan[3];
        snprintf(fan, sizeof fan, "%02x", i);
        addr(p, fan, '0', ".zst");
        ck_assert_int_eq(lookup(ix, p, NULL), PGP_ERR_NOT_FOUND);
    }
    ck_assert_int_eq(cnt.lists, 1);
    ck_assert_int_eq(cnt.stats, 0);
    object_index_free(ix);

    addr(a, "9a", '0', "");
    fx_put_raw(&fx, a, "x");
    fx_put_raw(&fx, "objects/9b/README", "x");          /* a directory without objects */
    cnt.lists = 0;
    ix = new_index(OBJECT_INDEX_AUTO, OBJECT_INDEX_EXPECT_BACKUP);
    addr(p, "9b", '0', "");
    ck_assert_int_eq(lookup(ix, p, NULL), PGP_ERR_NOT_FOUND);
    ck_assert_int_eq(lookup(ix, a, NULL), 0);
    ck_assert_int_eq(cnt.lists, 3);
    ck_assert_int_eq(cnt.stats, 0);
    object_index_free(ix);
}
END_TEST

/* A listing that fails is an error for the lookup, never "absent"; the next one lists again. */
START_TEST(failed_listing_is_an_error)
{
    char a[REPO_PATH_MAX];
    fx_put_object(&fx, "present", a);
    cnt.fail_list = true;
    ObjectIndex *ix = new_index(OBJECT_INDEX_LIST, 0);
    PgpErr err = {0};
    ck_assert_int_eq(object_index_stat(ix, a, NULL, &err), PGP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "failed on purpose"));
    cnt.fail_list = false;
    ck_assert_int_eq(lookup(ix, a, NULL), 0);
    object_index_free(ix);
}
END_TEST

/* What the holder stores after a listing is found, with its size; a stat-only index ignores
 * additions (storage answers). */
START_TEST(added_objects_are_found)
{
    char a[REPO_PATH_MAX], b[REPO_PATH_MAX], c[REPO_PATH_MAX];
    addr(a, "3c", '0', ".zst");
    fx_put_raw(&fx, a, "x");
    addr(b, "3c", '7', ".zst");
    addr(c, "3c", '1', ".zst");
    ObjectIndex *ix = new_index(OBJECT_INDEX_LIST, 0);
    ck_assert_int_eq(lookup(ix, b, NULL), PGP_ERR_NOT_FOUND);
    object_index_add(ix, b, 1234);
    object_index_add(ix, c, 7);
    object_index_add(ix, "backup/x/backup_manifest", 1);    /* not an object: ignored */
    uint64_t size = 0;
    ck_assert_int_eq(lookup(ix, b, &size), 0);
    ck_assert_uint_eq(size, 1234);
    ck_assert_int_eq(lookup(ix, c, &size), 0);
    ck_assert_uint_eq(size, 7);
    ck_assert_int_eq(lookup(ix, a, &size), 0);
    ck_assert_uint_eq(size, 1);
    object_index_add(ix, c, 8);                             /* again: one entry, new size */
    ck_assert_int_eq(lookup(ix, c, &size), 0);
    ck_assert_uint_eq(size, 8);
    ck_assert_int_eq(cnt.lists, 2);
    object_index_free(ix);
}
END_TEST

/* Listing pays when more lookups are expected in a directory than its listing takes
 * requests: one told lookup stats, two list; a directory of over 1000 names (two pages)
 * makes later directories with two lookups stat, and a third lookup there list. */
START_TEST(listing_only_where_it_saves_requests)
{
    char a[REPO_PATH_MAX], b[REPO_PATH_MAX], p[REPO_PATH_MAX], q[REPO_PATH_MAX], r[REPO_PATH_MAX];
    addr(a, "10", '0', "");
    addr(b, "10", '1', "");
    addr(q, "30", '0', "");
    addr(r, "30", '1', "");
    fx_put_raw(&fx, a, "x");
    fx_put_raw(&fx, q, "x");
    fill("20", 1001);                                   /* a dense directory: two pages */
    snprintf(p, sizeof p, "objects/20/20%062x", 1000);
    ObjectIndex *ix = new_index(OBJECT_INDEX_AUTO, 0);
    object_index_expect(ix, a);
    ck_assert_int_eq(lookup(ix, a, NULL), 0);
    ck_assert_int_eq(cnt.stats, 1);
    ck_assert_int_eq(cnt.lists, 0);
    object_index_free(ix);

    cnt.stats = 0;
    ix = new_index(OBJECT_INDEX_AUTO, 0);
    object_index_expect(ix, a);
    object_index_expect(ix, b);
    ck_assert_int_eq(lookup(ix, a, NULL), 0);
    ck_assert_int_eq(lookup(ix, b, NULL), PGP_ERR_NOT_FOUND);
    ck_assert_int_eq(cnt.stats, 0);
    ck_assert_int_eq(cnt.lists, 2);                     /* objects/ and objects/10 */

    object_index_expect(ix, p);
    object_index_expect(ix, p);
    object_index_expect(ix, p);
    ck_assert_int_eq(lookup(ix, p, NULL), 0);
    ck_assert_int_eq(cnt.lists, 3);
    object_index_expect(ix, q);
    object_index_expect(ix, r);
    ck_assert_int_eq(lookup(ix, q, NULL), 0);
    ck_assert_int_eq(lookup(ix, r, NULL), PGP_ERR_NOT_FOUND);
    ck_assert_int_eq(cnt.lists, 3);
    ck_assert_int_eq(cnt.stats, 2);
    ck_assert_int_eq(lookup(ix, r, NULL), PGP_ERR_NOT_FOUND);   /* a third: now it lists */
    ck_assert_int_eq(cnt.lists, 4);
    ck_assert_int_eq(cnt.stats, 2);
    object_index_free(ix);
}
END_TEST

/* A storage that lists trees: a small repository is known from one listing of objects/,
 * stray names ignored, nothing else asked. */
START_TEST(tree_listing_of_a_small_repository)
{
    char a[REPO_PATH_MAX], b[REPO_PATH_MAX], p[REPO_PATH_MAX];
    fx_put_object(&fx, "one", a);
    fx_put_object(&fx, "two", b);
    fx_put_raw(&fx, "objects/README", "x");
    fx_put_raw(&fx, "objects/ab/README", "x");
    ObjectIndex *ix = index_on(ts, OBJECT_INDEX_AUTO, OBJECT_INDEX_EXPECT_BACKUP);
    ck_assert_int_eq(lookup(ix, a, NULL), 0);
    ck_assert_int_eq(lookup(ix, b, NULL), 0);
    for (int i = 0; i < 256; i++) {
        char fan[3];
        snprintf(fan, sizeof fan, "%02x", i);
        addr(p, fan, 'e', ".zst");
        ck_assert_int_eq(lookup(ix, p, NULL), PGP_ERR_NOT_FOUND);
    }
    ck_assert_int_eq(cnt.trees, 1);
    ck_assert_int_eq(cnt.lists + cnt.stats, 0);
    ObjectIndexStats st = object_index_stats(ix);
    ck_assert_uint_eq(st.listings, 1);
    ck_assert_uint_eq(st.ignored, 1);           /* objects/ab/README: objects/README is no object */
    object_index_free(ix);

    /* one lookup expected: not worth a listing of everything */
    cnt.trees = 0;
    ix = index_on(ts, OBJECT_INDEX_AUTO, 0);
    object_index_expect(ix, a);
    ck_assert_int_eq(lookup(ix, a, NULL), 0);
    ck_assert_int_eq(cnt.trees + cnt.lists, 0);
    ck_assert_int_eq(cnt.stats, 1);
    object_index_free(ix);
}
END_TEST

/* A tree listing stopped at its budget (8 lookups told: 2 requests, 2000 names): the
 * directories before its last name are complete, the later ones listed on their own. */
START_TEST(tree_listing_stopped_at_its_budget)
{
    fill("00", 1200);
    fill("01", 900);
    fill("02", 400);
    char p00[REPO_PATH_MAX], p01[REPO_PATH_MAX], p02[REPO_PATH_MAX], q[REPO_PATH_MAX];
    snprintf(p00, sizeof p00, "objects/00/00%062x", 1199);
    snprintf(p01, sizeof p01, "objects/01/01%062x", 899);
    snprintf(p02, sizeof p02, "objects/02/02%062x", 0);
    addr(q, "00", 'f', "");
    ObjectIndex *ix = index_on(ts, OBJECT_INDEX_AUTO, 0);
    const char *told[] = {p00, q, p01, p01, p01, p02, p02, p02};
    for (size_t i = 0; i < 8; i++)
        object_index_expect(ix, told[i]);
    ck_assert_int_eq(lookup(ix, p00, NULL), 0);
    ck_assert_int_eq(lookup(ix, q, NULL), PGP_ERR_NOT_FOUND);
    ck_assert_int_eq(cnt.trees, 1);
    ck_assert_int_eq(cnt.lists + cnt.stats, 0);
    /* 1200 names a directory: two requests each; three lookups pay for that */
    ck_assert_int_eq(lookup(ix, p01, NULL), 0);
    ck_assert_int_eq(cnt.lists, 1);
    ck_assert_int_eq(lookup(ix, p02, NULL), 0);
    ck_assert_int_eq(cnt.lists, 2);
    ck_assert_int_eq(cnt.trees, 1);
    ck_assert_int_eq(cnt.stats, 0);
    ObjectIndexStats st = object_index_stats(ix);
    ck_assert_uint_eq(st.listed, 4);
    object_index_free(ix);
}
END_TEST

/* Storage with directories (posix): always a stat per lookup, never a listing. */
START_TEST(posix_storage_stats)
{
    char a[REPO_PATH_MAX];
    fx_put_object(&fx, "local", a);
    ObjectIndex *ix = NULL;
    ck_assert_int_eq(object_index_new(fx.st, OBJECT_INDEX_AUTO, 100, &ix, NULL), 0);
    ck_assert_int_eq(lookup(ix, a, NULL), 0);
    ObjectIndexStats st = object_index_stats(ix);
    ck_assert_uint_eq(st.stats, 1);
    ck_assert_uint_eq(st.listings, 0);
    object_index_free(ix);
    object_index_free(NULL);
}
END_TEST

Suite *suite_object_index(void)
{
    Suite *s = suite_create("object_index");
    TCase *tc = tcase_create("index");
    /* some tests create 2500 files: Check's default 4 s ran out once under ASan on a busy
     * machine (CI runs suites beside integration tests) */
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, parses_content_addresses_only);
    tcase_add_test(tc, listed_directory_answers);
    tcase_add_test(tc, malformed_and_repeated_names);
    tcase_add_test(tc, missing_and_empty_directories);
    tcase_add_test(tc, failed_listing_is_an_error);
    tcase_add_test(tc, added_objects_are_found);
    tcase_add_test(tc, listing_only_where_it_saves_requests);
    tcase_add_test(tc, tree_listing_of_a_small_repository);
    tcase_add_test(tc, tree_listing_stopped_at_its_budget);
    tcase_add_test(tc, posix_storage_stats);
    suite_add_tcase(s, tc);
    return s;
}
