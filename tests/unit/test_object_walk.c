/*
 * test_object_walk.c - every object under objects/ (src/repo/object_walk.c) on a posix
 * Storage: objects one level down are visited with their paths and sizes; files directly in
 * objects/ and directories further down are not objects; a missing objects/ is empty; the
 * callback's error stops the walk and comes back as it is.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fx_dir.h"
#include "pgpitr/repo/object_walk.h"

typedef struct Seen {
    char paths[8][96];
    uint64_t sizes[8];
    size_t n;
    size_t stop_at;         /* fail on this visit (1-based); 0: never */
} Seen;

static int visit(void *ud, const char *path, uint64_t size, PgpErr *err)
{
    Seen *s = ud;
    if (s->n < 8) {
        snprintf(s->paths[s->n], sizeof s->paths[s->n], "%s", path);
        s->sizes[s->n] = size;
    }
    s->n++;
    if (s->n == s->stop_at)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "stop at %s", path);
    return 0;
}

static int by_path(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static Storage *repo(char *dir, size_t size)
{
    fx_dir_make(dir, size, "objwalk");
    Storage *s = NULL;
    PgpErr err;
    ck_assert_int_eq(storage_posix_new(dir, false, &s, &err), 0);
    return s;
}

START_TEST(objects_one_level_down)
{
    char dir[64], sub[128];
    Storage *s = repo(dir, sizeof dir);
    Seen seen = {0};
    PgpErr err;
    ck_assert_int_eq(object_walk(s, visit, &seen, &err), 0);     /* no objects/ yet */
    ck_assert_uint_eq(seen.n, 0);
    snprintf(sub, sizeof sub, "%s/objects", dir);
    mkdir(sub, 0700);
    fx_dir_put(sub, "stray", "not an object");
    snprintf(sub, sizeof sub, "%s/objects/ab", dir);
    mkdir(sub, 0700);
    fx_dir_put(sub, "ab01.zst", "12345");
    fx_dir_put(sub, "ab02", "1");
    snprintf(sub, sizeof sub, "%s/objects/ab/deeper", dir);
    mkdir(sub, 0700);
    fx_dir_put(sub, "x", "not an object either");
    snprintf(sub, sizeof sub, "%s/objects/cd", dir);
    mkdir(sub, 0700);
    fx_dir_put(sub, "cd03.lz4", "123");
    ck_assert_int_eq(object_walk(s, visit, &seen, &err), 0);
    ck_assert_uint_eq(seen.n, 3);
    qsort(seen.paths, seen.n, sizeof seen.paths[0], by_path);
    ck_assert_str_eq(seen.paths[0], "objects/ab/ab01.zst");
    ck_assert_str_eq(seen.paths[1], "objects/ab/ab02");
    ck_assert_str_eq(seen.paths[2], "objects/cd/cd03.lz4");
    uint64_t total = seen.sizes[0] + seen.sizes[1] + seen.sizes[2];
    ck_assert_uint_eq(total, 9);

    Seen stop = {.stop_at = 2};
    ck_assert_int_eq(object_walk(s, visit, &stop, &err), PGP_ERR_CORRUPT);
    ck_assert_uint_eq(stop.n, 2);
    ck_assert_ptr_nonnull(strstr(err.msg, "stop at objects/"));
    ck_assert_ptr_null(strstr(err.msg, "cannot list"));     /* the callback's error, as it is */
    storage_free(s);
    fx_dir_remove(dir);
}
END_TEST

Suite *suite_object_walk(void)
{
    Suite *s = suite_create("object_walk");
    TCase *tc = tcase_create("object_walk");
    tcase_add_test(tc, objects_one_level_down);
    suite_add_tcase(s, tc);
    return s;
}
