/*
 * test_wal_index.c - archived object names and archive listings (src/repo/wal_index.c) and
 * the repository's paths (src/repo/repo_layout.c): good names parsed into their parts, bad
 * names refused, a fabricated archive (fx_repo.h) listed with its foreign entries, and a path
 * too long refused instead of truncated.
 */
#include "pgpitr/repo/wal_index.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_counted.h"
#include "fx_repo.h"
#include "pgpitr/repo/repo_layout.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(test_parse_good_names)
{
    static const struct {
        const char *entry, *wal;
        PgWalFileKind kind;
        PipeCodec codec;
        uint32_t tli;
    } good[] = {
        {"000000010000000A000000FF-" SHA ".zst", "000000010000000A000000FF", PG_WALFILE_SEGMENT,
         PIPE_CODEC_ZSTD, 1},
        {"000000030000000000000002-" SHA, "000000030000000000000002", PG_WALFILE_SEGMENT,
         PIPE_CODEC_NONE, 3},
        {"000000010000000000000003.partial-" SHA ".lz4", "000000010000000000000003.partial",
         PG_WALFILE_PARTIAL, PIPE_CODEC_LZ4, 1},
        {"000000010000000000000002.00000028.backup-" SHA ".zst",
         "000000010000000000000002.00000028.backup", PG_WALFILE_BACKUP, PIPE_CODEC_ZSTD, 1},
        {"0000000A.history-" SHA, "0000000A.history", PG_WALFILE_HISTORY, PIPE_CODEC_NONE, 10},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        WalIndexName n;
        ck_assert_msg(wal_index_parse_name(good[i].entry, &n), "%s", good[i].entry);
        ck_assert_str_eq(n.wal, good[i].wal);
        ck_assert_str_eq(n.sha256_hex, SHA);
        ck_assert_int_eq(n.codec, good[i].codec);
        ck_assert_int_eq(n.parsed.kind, good[i].kind);
        ck_assert_uint_eq(n.parsed.tli, good[i].tli);
    }
}
END_TEST

START_TEST(test_parse_bad_names)
{
    static const char *bad[] = {
        "",
        "-" SHA,                                              /* no WAL name */
        "000000010000000000000003",                           /* no checksum */
        "000000010000000000000003-",
        "000000010000000000000003-abc.zst",                   /* short checksum */
        "000000010000000000000003-" SHA "0",                  /* long checksum */
        "000000010000000000000003-" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "000000010000000000000003-" SHA ".gz",                /* unknown codec */
        "000000010000000000000003-" SHA ".zst.tmp",
        "00000001000000000000000G-" SHA,                      /* not a WAL name */
        "000000010000000000000003.part-" SHA,
        "junk-" SHA ".zst",
        "000000010000000000000003-" SHA "-" SHA,
        ".tmp.000000010000000000000003-" SHA,
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        WalIndexName n;
        ck_assert_msg(!wal_index_parse_name(bad[i], &n), "accepted \"%s\"", bad[i]);
    }
    ck_assert(wal_index_dir_name_valid("000000010000000A"));
    ck_assert(!wal_index_dir_name_valid("000000010000000a"));
    ck_assert(!wal_index_dir_name_valid("000000010000000"));
    ck_assert(!wal_index_dir_name_valid("000000010000000AB"));
}
END_TEST

typedef struct Seen {
    int objects, foreign, history, dirs_seen;
    char foreign_names[8][REPO_PATH_MAX];
} Seen;

static int on_entry(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    (void)err;
    Seen *s = ud;
    if (e->name != NULL) {
        s->objects++;
        s->history += e->name->parsed.kind == PG_WALFILE_HISTORY;
        ck_assert(!e->info->is_dir);
        return 0;
    }
    if (strcmp(e->dir, REPO_LAYOUT_WAL_DIR) == 0 && e->info->is_dir &&
        wal_index_dir_name_valid(e->entry)) {
        s->dirs_seen++;
        return 0;
    }
    if (s->foreign < 8)
        snprintf(s->foreign_names[s->foreign], REPO_PATH_MAX, "%s/%s", e->dir, e->entry);
    s->foreign++;
    return 0;
}

static bool seen_foreign(const Seen *s, const char *path)
{
    for (int i = 0; i < s->foreign && i < 8; i++)
        if (strcmp(s->foreign_names[i], path) == 0)
            return true;
    return false;
}

START_TEST(test_list_archive)
{
    FxRepo fx;
    fx_repo_init(&fx, "wal_index");
    fx_put_wal(&fx, 1, 1, NULL, FX_T0, NULL);
    fx_put_wal(&fx, 1, 2, NULL, FX_T0, NULL);
    fx_put_wal(&fx, 2, 0x100, NULL, FX_T0, NULL);     /* another log: another directory */
    fx_put_history(&fx, 2, "1\t0/3000000\tno recovery target specified\n");
    fx_put_raw(&fx, "archive/wal/0000000100000000/junk", "x");
    /* A valid name in the wrong directory is not an object of that directory. */
    fx_put_raw(&fx, "archive/wal/0000000100000000/000000010000000100000001-" SHA, "x");
    fx_put_raw(&fx, "archive/wal/notadir", "x");
    fx_put_raw(&fx, "archive/history/000000010000000000000001-" SHA, "x");
    Seen s = {0};
    PgpErr err = {0};
    ck_assert_int_eq(wal_index_list_all(fx.st, on_entry, &s, &err), 0);
    ck_assert_int_eq(s.objects, 4);
    ck_assert_int_eq(s.history, 1);
    ck_assert_int_eq(s.dirs_seen, 2);
    ck_assert_int_eq(s.foreign, 4);
    ck_assert(seen_foreign(&s, "archive/wal/0000000100000000/junk"));
    ck_assert(seen_foreign(&s, "archive/wal/notadir"));
    ck_assert(seen_foreign(&s, "archive/history/000000010000000000000001-" SHA));

    /* One directory. */
    Seen one = {0};
    ck_assert_int_eq(wal_index_list_dir(fx.st, "archive/wal/0000000100000000", on_entry, &one,
                                        &err), 0);
    ck_assert_int_eq(one.objects, 2);
    ck_assert_int_eq(one.foreign, 2);
    /* A missing directory is an empty listing. */
    Seen none = {0};
    ck_assert_int_eq(wal_index_list_dir(fx.st, "archive/wal/0000000900000000", on_entry, &none,
                                        &err), 0);
    ck_assert_int_eq(none.objects + none.foreign, 0);

    /* repo_archive_find uses the same parser. */
    RepoArchiveObject obj;
    ck_assert_int_eq(repo_archive_find(fx.repo, "000000010000000000000002", &obj, &err), 0);
    ck_assert_int_eq(repo_archive_find(fx.repo, "000000010000000000000009", &obj, &err),
                     PGP_ERR_NOT_FOUND);
    fx_repo_free(&fx);
}
END_TEST

static int stop_at_first(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    (void)ud, (void)e;
    return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
}

START_TEST(test_list_callback_error)
{
    FxRepo fx;
    fx_repo_init(&fx, "wal_index_stop");
    fx_put_wal(&fx, 1, 1, NULL, FX_T0, NULL);
    PgpErr err = {0};
    ck_assert_int_eq(wal_index_list_all(fx.st, stop_at_first, NULL, &err), PGP_ERR_NOMEM);
    ck_assert_str_eq(err.msg, "out of memory");   /* the callback's message, as it said it */
    fx_repo_free(&fx);
}
END_TEST

/* Finding one segment among many asks only for its own name's prefix: one listing that hands
 * out that segment's objects, not the 40 others of its directory (on S3: one short
 * ListObjectsV2 instead of pages of the whole directory). The same/different-content rules
 * still see every object of that name. */
START_TEST(test_find_lists_one_name)
{
    FxRepo fx;
    fx_repo_init(&fx, "wal_index_find");
    for (uint64_t segno = 1; segno <= 40; segno++)
        fx_put_wal(&fx, 1, segno, NULL, FX_T0, NULL);
    FxCounted c = {.inner = fx.st};
    Storage *st = fx_counted_new(&c);
    Repo *repo = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(repo_open(st, &repo, &err), 0);
    RepoArchiveObject obj;
    ck_assert_int_eq(repo_archive_find(repo, "000000010000000000000011", &obj, &err), 0);
    ck_assert_int_eq(c.lists, 0);
    ck_assert_int_eq(c.prefix_lists, 1);
    ck_assert_int_eq(c.entries, 1);
    ck_assert_ptr_nonnull(strstr(obj.path, "/000000010000000000000011-"));
    ck_assert_int_eq(repo_archive_find(repo, "000000010000000000000001", &obj, &err), 0);
    ck_assert_int_eq(c.entries, 2);
    ck_assert_int_eq(repo_archive_find(repo, "000000010000000000000050", &obj, &err),
                     PGP_ERR_NOT_FOUND);
    ck_assert_int_eq(c.entries, 2);

    /* different content under one name: still a conflict */
    fx_put_wal(&fx, 1, 0x11, "other", FX_T0, NULL);
    ck_assert_int_eq(repo_archive_find(repo, "000000010000000000000011", &obj, &err),
                     PGP_ERR_CONFLICT);
    ck_assert_int_eq(c.lists, 0);
    repo_free(repo);
    storage_free(st);
    fx_repo_free(&fx);
}
END_TEST

START_TEST(test_layout_paths)
{
    char out[REPO_PATH_MAX];
    PgpErr err = {0};
    ck_assert_int_eq(repo_archive_dir("000000010000000A000000FF", out, &err), 0);
    ck_assert_str_eq(out, "archive/wal/000000010000000A");
    ck_assert_int_eq(repo_archive_dir("0000000A.history", out, &err), 0);
    ck_assert_str_eq(out, "archive/history");
    ck_assert_int_eq(repo_archive_object_path("000000010000000A000000FF", SHA, PIPE_CODEC_ZSTD,
                                              out, &err), 0);
    ck_assert_str_eq(out, "archive/wal/000000010000000A/000000010000000A000000FF-" SHA ".zst");
    ck_assert_int_eq(repo_archive_provisional_path("000000010000000A000000FF", out, &err), 0);
    ck_assert_str_eq(out, "archive/wal/000000010000000A/000000010000000A000000FF");
    ck_assert_int_eq(repo_object_path(SHA, PIPE_CODEC_LZ4, out, &err), 0);
    ck_assert_str_eq(out, "objects/01/" SHA ".lz4");
    ck_assert_int_eq(repo_backup_file("B1", REPO_LAYOUT_INPROGRESS, out, &err), 0);
    ck_assert_str_eq(out, "backup/B1/backup.inprogress");
    ck_assert_int_eq(repo_backup_pg_manifest_path("B1", PIPE_CODEC_ZSTD, out, &err), 0);
    ck_assert_str_eq(out, "backup/B1/backup_manifest.zst");
    ck_assert_int_eq(repo_drill_report_path("20261122T040000Z-3fa9", out, &err), 0);
    ck_assert_str_eq(out, "drill/20261122T040000Z-3fa9.json");
}
END_TEST

/* Too long: an error naming the path, never a truncated path that names something else. */
START_TEST(test_layout_too_long)
{
    char label[REPO_PATH_MAX + 8], out[REPO_PATH_MAX];
    PgpErr err = {0};
    memset(label, 'L', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    strcpy(out, "unchanged?");
    ck_assert_int_eq(repo_backup_dir(label, out, &err), PGP_ERR_INVALID_NAME);
    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(strstr(err.msg, "is too long"));
    ck_assert_ptr_nonnull(strstr(err.msg, "backup/LLLL"));
    /* Fits as a directory, not with the file's name after it. */
    label[REPO_PATH_MAX - 1 - strlen("backup/")] = '\0';
    ck_assert_int_eq(repo_backup_dir(label, out, &err), 0);
    ck_assert_int_eq(repo_backup_file(label, REPO_LAYOUT_INPROGRESS, out, &err),
                     PGP_ERR_INVALID_NAME);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(repo_layout_join(label, label, out, &err), PGP_ERR_INVALID_NAME);
}
END_TEST

Suite *suite_wal_index(void)
{
    Suite *s = suite_create("wal_index");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_good_names);
    tcase_add_test(tc, test_parse_bad_names);
    tcase_add_test(tc, test_list_archive);
    tcase_add_test(tc, test_list_callback_error);
    tcase_add_test(tc, test_find_lists_one_name);
    tcase_add_test(tc, test_layout_paths);
    tcase_add_test(tc, test_layout_too_long);
    suite_add_tcase(s, tc);
    return s;
}
