/*
 * test_manifest_pack.c - the compact entry list (src/repo/manifest_pack.c): every field comes
 * back as added for files (content-addressed object, other object, chunked), directories and
 * symlinks; an empty pack; paths and targets longer than a block's share (records of their own);
 * a hundred thousand entries with stable pointers and their memory per entry; the content
 * order equal to strcmp of the object paths; loading a saved manifest into a pack; duplicate
 * paths refused (by comparing paths, without the reader's hash set), in a pack and on load.
 */
#include "pgpitr/repo/manifest_pack.h"

#include <check.h>
#include <ftw.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SHA_A "a3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_B "03b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b800"

static ManifestEntry file_entry(const char *path, const char *sha, const char *object)
{
    ManifestEntry e = {.path = (char *)path, .tablespace = 16385, .type = MANIFEST_FILE,
                       .size = 8192, .mtime = 1795316400, .stored_size = 321, .mode = 0640,
                       .object = (char *)object};
    snprintf(e.sha256, sizeof e.sha256, "%s", sha);
    return e;
}

/* Every field of want in got. */
static void assert_same(const ManifestEntry *got, const ManifestEntry *want)
{
    ck_assert_str_eq(got->path, want->path);
    ck_assert(got->has_crc32c == want->has_crc32c);
    ck_assert_uint_eq(got->has_crc32c ? got->crc32c : 0, want->has_crc32c ? want->crc32c : 0);
    ck_assert_uint_eq(got->tablespace, want->tablespace);
    ck_assert_uint_eq(got->type, want->type);
    ck_assert_uint_eq(got->chunk_shift, want->chunk_shift);
    ck_assert_uint_eq(got->size, want->size);
    ck_assert_int_eq(got->mtime, want->mtime);
    ck_assert_uint_eq(got->stored_size, want->stored_size);
    ck_assert_uint_eq(got->mode, want->mode);
    ck_assert_str_eq(got->sha256, want->sha256);
    if (want->object == NULL)
        ck_assert_ptr_null(got->object);
    else
        ck_assert_str_eq(got->object, want->object);
    if (want->link_target == NULL)
        ck_assert_ptr_null(got->link_target);
    else
        ck_assert_str_eq(got->link_target, want->link_target);
}

START_TEST(test_empty)
{
    ManifestPack *p = manifest_pack_new();
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(manifest_pack_count(p), 0);
    ck_assert_uint_eq(manifest_pack_count(NULL), 0);
    manifest_pack_free(p);
    manifest_pack_free(NULL);
}
END_TEST

START_TEST(test_round_trip_kinds)
{
    ManifestEntry v[6];
    v[0] = file_entry("base/1/1259", SHA_A, "objects/a3/" SHA_A ".zst");   /* address */
    v[1] = file_entry("base/1/1260", SHA_A, "objects/a3/" SHA_A);          /* no codec */
    v[2] = file_entry("base/1/1261", SHA_A, "objects/zz/elsewhere.lz4");   /* not the address */
    v[3] = file_entry("base/1/1262", SHA_B, NULL);                         /* chunked */
    v[1].crc32c = 0x8a744722;                                               /* a backup's */
    v[1].has_crc32c = true;
    v[3].chunk_shift = 20;
    v[3].crc32c = 0xffffffff;
    v[3].has_crc32c = true;
    v[3].chunk_list = "objects/03/" SHA_B ".json";
    v[4] = (ManifestEntry){.path = "base", .type = MANIFEST_DIR, .mode = 0700, .mtime = -5};
    v[5] = (ManifestEntry){.path = "pg_tblspc/16385", .type = MANIFEST_SYMLINK, .mode = 0777,
                           .link_target = "/srv/ts1"};
    ManifestPack *p = manifest_pack_new();
    PgpErr err = {0};
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(manifest_pack_add(p, &v[i], &err), 0);
    ck_assert_uint_eq(manifest_pack_count(p), 6);
    for (size_t i = 0; i < 6; i++) {
        const ManifestPackItem *it = manifest_pack_at(p, i);
        ManifestUnpacked u;
        manifest_pack_unpack(it, &u);
        assert_same(&u.e, &v[i]);
        ck_assert_str_eq(manifest_pack_item_path(it), v[i].path);
        ck_assert_uint_eq(manifest_pack_item_type(it), v[i].type);
        ck_assert_uint_eq(manifest_pack_item_size(it), v[i].size);
        ck_assert_uint_eq(manifest_pack_item_tablespace(it), v[i].tablespace);
        ck_assert(manifest_pack_item_chunked(it) == manifest_entry_chunked(&v[i]));
    }
    char buf[REPO_PATH_MAX];
    ck_assert_str_eq(manifest_pack_item_content(manifest_pack_at(p, 0), buf),
                     "objects/a3/" SHA_A ".zst");
    ck_assert_str_eq(manifest_pack_item_content(manifest_pack_at(p, 2), buf),
                     "objects/zz/elsewhere.lz4");
    ck_assert_str_eq(manifest_pack_item_content(manifest_pack_at(p, 3), buf),
                     "objects/03/" SHA_B ".json");
    ck_assert_ptr_null(manifest_pack_item_content(manifest_pack_at(p, 4), buf));
    ck_assert_ptr_null(manifest_pack_item_content(manifest_pack_at(p, 5), buf));
    manifest_pack_free(p);
}
END_TEST

/* A checksum that is not 64 lowercase hex digits (never in a valid manifest) is kept as
 * text, and an object next to it is kept as it is. */
START_TEST(test_odd_checksum)
{
    ManifestEntry e = file_entry("x", "ABCDEF", "objects/ab/ABCDEF.zst");
    ManifestEntry upper = file_entry("y", "A3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                                     "objects/A3/A3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855.zst");
    ManifestPack *p = manifest_pack_new();
    PgpErr err = {0};
    ck_assert_int_eq(manifest_pack_add(p, &e, &err), 0);
    ck_assert_int_eq(manifest_pack_add(p, &upper, &err), 0);
    ManifestUnpacked u;
    manifest_pack_unpack(manifest_pack_at(p, 0), &u);
    assert_same(&u.e, &e);
    manifest_pack_unpack(manifest_pack_at(p, 1), &u);
    assert_same(&u.e, &upper);
    manifest_pack_free(p);
}
END_TEST

/* Paths and targets longer than a block's ordinary share get records of their own; the
 * ones around them stay intact. */
START_TEST(test_long_texts)
{
    size_t n = 200000;
    char *longpath = malloc(n + 1), *longlink = malloc(n + 1);
    memset(longpath, 'p', n);
    memset(longlink, 'l', n);
    longpath[n] = longlink[n] = '\0';
    ManifestPack *p = manifest_pack_new();
    PgpErr err = {0};
    ManifestEntry a = file_entry("before", SHA_A, "objects/a3/" SHA_A ".zst");
    ManifestEntry big = file_entry(longpath, SHA_B, "objects/03/" SHA_B ".lz4");
    ManifestEntry link = {.path = longpath, .type = MANIFEST_SYMLINK, .link_target = longlink};
    ManifestEntry z = file_entry("after", SHA_B, "objects/03/" SHA_B);
    ck_assert_int_eq(manifest_pack_add(p, &a, &err), 0);
    ck_assert_int_eq(manifest_pack_add(p, &big, &err), 0);
    ck_assert_int_eq(manifest_pack_add(p, &link, &err), 0);
    ck_assert_int_eq(manifest_pack_add(p, &z, &err), 0);
    const ManifestEntry *want[4] = {&a, &big, &link, &z};
    for (size_t i = 0; i < 4; i++) {
        ManifestUnpacked u;
        manifest_pack_unpack(manifest_pack_at(p, i), &u);
        assert_same(&u.e, want[i]);
    }
    manifest_pack_free(p);
    free(longpath);
    free(longlink);
}
END_TEST

/* Many entries: pointers taken early stay valid while more are added, every record comes
 * back, and the memory is about the record's bytes (under 120 bytes an entry here, against
 * 128 + path + object for a ManifestEntry). */
START_TEST(test_many)
{
    enum { N = 100000 };
    ManifestPack *p = manifest_pack_new();
    PgpErr err = {0};
    const char *first_path = NULL;
    for (size_t i = 0; i < N; i++) {
        char path[64], sha[65], obj[REPO_PATH_MAX];
        snprintf(path, sizeof path, "base/16384/%zu", i);
        snprintf(sha, sizeof sha, "%064zx", i);
        snprintf(obj, sizeof obj, "objects/%.2s/%s.zst", sha, sha);
        ManifestEntry e = file_entry(path, sha, obj);
        e.size = i;
        ck_assert_int_eq(manifest_pack_add(p, &e, &err), 0);
        if (i == 0)
            first_path = manifest_pack_item_path(manifest_pack_at(p, 0));
    }
    ck_assert_uint_eq(manifest_pack_count(p), N);
    ck_assert_ptr_eq(manifest_pack_item_path(manifest_pack_at(p, 0)), first_path);
    ck_assert_str_eq(first_path, "base/16384/0");
    for (size_t i = 0; i < N; i += 997) {
        ManifestUnpacked u;
        manifest_pack_unpack(manifest_pack_at(p, i), &u);
        char path[64], sha[65], obj[REPO_PATH_MAX];
        snprintf(path, sizeof path, "base/16384/%zu", i);
        snprintf(sha, sizeof sha, "%064zx", i);
        snprintf(obj, sizeof obj, "objects/%.2s/%s.zst", sha, sha);
        ck_assert_str_eq(u.e.path, path);
        ck_assert_str_eq(u.e.sha256, sha);
        ck_assert_str_eq(u.e.object, obj);
        ck_assert_uint_eq(u.e.size, i);
    }
    /* blocks of 1 MiB: a record is 34 + 32 + the path (~17) bytes, the index 8 (doubling) */
    struct mallinfo2 mi = mallinfo2();
    ck_assert_msg(mi.uordblks / N < 160, "%zu bytes an entry", mi.uordblks / N);
    manifest_pack_free(p);
}
END_TEST

START_TEST(test_duplicates)
{
    ManifestPack *p = manifest_pack_new();
    PgpErr err = {0};
    ck_assert_int_eq(manifest_pack_check_duplicates(p, &err), 0);         /* empty */
    ManifestEntry a = file_entry("base/1/1259", SHA_A, NULL);
    ManifestEntry b = a;
    b.tablespace = 0;                                /* same path, another tablespace: fine */
    ManifestEntry c = {.path = "base/1/1259x", .tablespace = 16385, .type = MANIFEST_DIR};
    ck_assert_int_eq(manifest_pack_add(p, &a, &err), 0);
    ck_assert_int_eq(manifest_pack_check_duplicates(p, &err), 0);         /* one */
    ck_assert_int_eq(manifest_pack_add(p, &b, &err), 0);
    ck_assert_int_eq(manifest_pack_add(p, &c, &err), 0);
    ck_assert_int_eq(manifest_pack_check_duplicates(p, &err), 0);
    ManifestEntry d = {.path = "base/1/1259", .tablespace = 16385, .type = MANIFEST_DIR};
    ck_assert_int_eq(manifest_pack_add(p, &d, &err), 0);  /* a directory where a file is */
    ck_assert_int_eq(manifest_pack_check_duplicates(p, &err), PGP_ERR_CORRUPT);
    ck_assert_str_eq(err.msg, "invalid backup manifest: duplicate entry \"base/1/1259\" in "
                              "tablespace 16385");
    manifest_pack_free(p);
}
END_TEST

static int cmp_sign(int c)
{
    return (c > 0) - (c < 0);
}

/* The content order is strcmp's over the object paths, whichever way each is kept. */
START_TEST(test_content_order)
{
    ManifestEntry v[6];
    v[0] = file_entry("a", SHA_A, "objects/a3/" SHA_A ".zst");
    v[1] = file_entry("b", SHA_A, "objects/a3/" SHA_A ".lz4");
    v[2] = file_entry("c", SHA_B, "objects/03/" SHA_B ".zst");
    v[3] = file_entry("d", SHA_A, "objects/a3/" SHA_A);
    v[4] = file_entry("e", SHA_A, "objects/b0/odd.zst");
    v[5] = (ManifestEntry){.path = "dir", .type = MANIFEST_DIR};
    ManifestPack *p = manifest_pack_new();
    PgpErr err = {0};
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(manifest_pack_add(p, &v[i], &err), 0);
    for (size_t i = 0; i < 6; i++) {
        for (size_t j = 0; j < 6; j++) {
            const ManifestPackItem *a = manifest_pack_at(p, i), *b = manifest_pack_at(p, j);
            int got = cmp_sign(manifest_pack_content_cmp(a, b));
            int want = v[i].object == NULL || v[j].object == NULL
                           ? (v[i].object != NULL) - (v[j].object != NULL)
                           : cmp_sign(strcmp(v[i].object, v[j].object));
            ck_assert_msg(got == want, "%zu vs %zu: %d, want %d", i, j, got, want);
        }
    }
    manifest_pack_free(p);
}
END_TEST

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* A saved manifest loads into its header and a pack of every entry, in order. */
START_TEST(test_load_packed)
{
    char dir[] = "/tmp/pgpitr_test_pack.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    Storage *st = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(dir, true, &st, &err), 0);
    BackupManifest *m = manifest_new();
    m->label = strdup("B1");
    m->status = strdup("complete");
    m->compress = strdup("zstd");
    m->system_identifier = 7;
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = 1;
    m->start_lsn = 0x100;
    m->stop_lsn = 0x200;
    m->start_time = 1795316400;
    m->stop_time = 1795316401;
    ManifestEntry d = {.path = "base", .type = MANIFEST_DIR, .mode = 0700};
    ManifestEntry f = file_entry("base/1", SHA_A, "objects/a3/" SHA_A ".zst");
    f.tablespace = 0;
    ck_assert_int_eq(manifest_add_entry(m, &d, &err), 0);
    ck_assert_int_eq(manifest_add_entry(m, &f, &err), 0);
    ck_assert_int_eq(manifest_save(st, NULL, "B1", m, &err), 0);

    BackupManifest *h = NULL;
    ManifestPack *p = NULL;
    ck_assert_int_eq(manifest_load_packed(st, NULL, "B1", &h, &p, &err), 0);
    ck_assert_str_eq(h->label, "B1");
    ck_assert_ptr_null(h->entries);
    ck_assert_uint_eq(h->n_listed, 2);
    ck_assert_uint_eq(manifest_pack_count(p), 2);
    for (size_t i = 0; i < 2; i++) {
        ManifestUnpacked u;
        manifest_pack_unpack(manifest_pack_at(p, i), &u);
        assert_same(&u.e, &m->entries[i]);
    }
    manifest_free(h);
    manifest_pack_free(p);
    ck_assert_int_eq(manifest_load_packed(st, NULL, "B2", &h, &p, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_null(h);
    ck_assert_ptr_null(p);

    /* the same text with the directory's path made the file's: a duplicate, refused */
    free(m->label);
    m->label = strdup("B3");
    ManifestEntry f2 = file_entry("base/2", SHA_B, "objects/03/" SHA_B ".zst");
    f2.tablespace = 0;
    ck_assert_int_eq(manifest_add_entry(m, &f2, &err), 0);
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(manifest_to_json(m, &text, &len, &err), 0);
    char *at = strstr(text, "\"base/2\"");
    ck_assert_ptr_nonnull(at);
    at[6] = '1';
    ck_assert_int_eq(storage_put_all(st, "backup/B3/manifest.json", 0, text, len, &err), 0);
    free(text);
    ck_assert_int_eq(manifest_load_packed(st, NULL, "B3", &h, &p, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "duplicate entry \"base/1\" in tablespace 0"));
    ck_assert_ptr_nonnull(strstr(err.msg, "backup/B3/manifest.json"));
    ck_assert_ptr_null(h);
    ck_assert_ptr_null(p);
    manifest_free(m);
    storage_free(st);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

Suite *suite_manifest_pack(void)
{
    Suite *s = suite_create("manifest_pack");
    TCase *tc = tcase_create("manifest_pack");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_round_trip_kinds);
    tcase_add_test(tc, test_odd_checksum);
    tcase_add_test(tc, test_long_texts);
    tcase_add_test(tc, test_many);
    tcase_add_test(tc, test_content_order);
    tcase_add_test(tc, test_duplicates);
    tcase_add_test(tc, test_load_packed);
    suite_add_tcase(s, tc);
    return s;
}
