/*
 * test_restore_plan.c - choosing and validating a restore (restore_plan.c, wal_history.c) on
 * fabricated repositories with several timelines: a real posix Storage in a mkdtemp
 * directory, manifests through manifest_save, archived WAL objects named like archive-push
 * names them (their content does not matter to validation, which lists names), history files
 * with real content.
 *
 * The repository: 16 MiB segments, timeline 2 forked off timeline 1 at 0/6000000 (so segment
 * 6 onwards is read from timeline 2), the old primary went on archiving timeline 1.
 *   B1  tli 1  0/2000028 - 0/2000100  stop T0
 *   B2  tli 1  0/5000028 - 0/5000100  stop T0 + 3600
 *   B3  tli 2  0/8000028 - 0/8000100  stop T0 + 7200
 *   WAL tli 1: segments 2..7, tli 2: 6..9, all archived at T0 + 10000
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_repo.h"
#include "pgpitr/restore/restore_plan.h"
#include "pgpitr/repo/wal_history.h"

#define T0 FX_T0
#define US INT64_C(1000000)

static FxRepo fx;

/* archived at T0 + 10000, like every segment of the base repository */
static void put_wal(uint32_t tli, uint64_t segno, const char *seed)
{
    fx_put_wal(&fx, tli, segno, seed, T0 + 10000, NULL);
}

static void setup(void)
{
    fx_repo_init(&fx, "plan");
    fx_save_backup(&fx, "B1", 1, 0x2000028, 0x2000100, T0, NULL);
    fx_save_backup(&fx, "B2", 1, 0x5000028, 0x5000100, T0 + 3600, NULL);
    fx_save_backup(&fx, "B3", 2, 0x8000028, 0x8000100, T0 + 7200, NULL);
    fx_put_history(&fx, 2, "1\t0/6000000\tbefore 2026-11-22 04:30:00+00\n");
    for (uint64_t s = 2; s <= 7; s++)
        put_wal(1, s, NULL);
    for (uint64_t s = 6; s <= 9; s++)
        put_wal(2, s, NULL);
}

static void teardown(void)
{
    fx_repo_free(&fx);
}

static RestorePlan plan_ok(const RestoreRequest *req)
{
    RestorePlan p;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = restore_plan_make(fx.repo, req, &p, &err);
    ck_assert_msg(rc == 0, "plan failed: %s / %s", err.msg, err.hint);
    return p;
}

static PgpErr plan_bad(const RestoreRequest *req, int code)
{
    RestorePlan p;
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(restore_plan_make(fx.repo, req, &p, &err), code);
    ck_assert_ptr_null(p.manifest);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    return err;
}

#define contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" not in \"%s\"", (needle), (hay))

START_TEST(latest_follows_the_newest_timeline)
{
    RestoreRequest req = {.pgdata = "x"};
    RestorePlan p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B3");
    ck_assert_uint_eq(p.target_tli, 2);
    ck_assert(p.history_found);
    contains(p.why, "newest complete backup on timeline 2's history");
    contains(p.timeline_text, "latest");
    ck_assert_str_eq(p.path_text, "1 -> 2 at 0/6000000");
    ck_assert_uint_eq(p.wal_segments, 2);
    ck_assert_str_eq(p.wal.last_name, "000000020000000000000009");
    ck_assert_uint_eq(p.latest_lsn, 0xA0000000ull >> 4);
    ck_assert_int_eq(p.latest_time, T0 + 10000);
    restore_plan_free(&p);

    /* a history-less tli 1 request: B3 is not on it, B2 is the newest */
    req.target.timeline = "1";
    p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B2");
    contains(p.why, "1 not on this timeline");
    ck_assert_str_eq(p.wal.last_name, "000000010000000000000007");
    restore_plan_free(&p);
    restore_plan_free(&p);
    restore_plan_free(NULL);
}
END_TEST

START_TEST(time_and_lsn_targets)
{
    /* between B2's and B3's end: B2, whose WAL crosses to timeline 2 at segment 6 */
    RestoreRequest req = {.pgdata = "x", .target = {.kind = RESTORE_TARGET_TIME,
                                                    .time_us = (T0 + 3610) * US}};
    RestorePlan p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B2");
    contains(p.why, "newest complete backup ending before time 2026-11-22 04:00:10+00 on "
                    "timeline 2's history; 1 newer end after the target");
    ck_assert_uint_eq(p.wal_segments, 5); /* 1-5, 2-6 .. 2-9 */
    restore_plan_free(&p);

    /* within B2's last (truncated) second: B1 */
    req.target.time_us = (T0 + 3600) * US + 500000;
    p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B1");
    restore_plan_free(&p);

    /* before every backup's end: nothing, with the earliest point */
    req.target.time_us = (T0 - 5) * US;
    PgpErr err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.msg, "no complete backup can reach target time 2026-11-22 02:59:55+00: 3 of 3 "
                      "complete backups end after it");
    contains(err.hint, "earliest recoverable point is the end of backup \"B1\": LSN 0/2000100, "
                       "2026-11-22 03:00:00+00");

    /* after the archive's newest segment (archived at T0 + 10000): refused */
    req.target.time_us = (T0 + 10001) * US;
    err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.msg, "WAL segment 00000002000000000000000A is not archived (yet): backup \"B3\" "
                      "can reach at most LSN 0/A000000");
    contains(err.hint, "earliest LSN 0/8000100");

    /* LSN on timeline 1 after the fork: B2, along timeline 1 */
    req.target = (RestoreTargetSpec){.kind = RESTORE_TARGET_LSN, .lsn = 0x7000010,
                                     .timeline = "1"};
    p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B2");
    ck_assert_uint_eq(p.target_tli, 1);
    ck_assert(p.wal.complete);
    ck_assert_str_eq(p.wal.last_name, "000000010000000000000007");
    restore_plan_free(&p);

    /* LSN on timeline 1 beyond its archive */
    req.target.lsn = 0x9000000;
    err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.msg, "WAL segment 000000010000000000000008 is not archived (yet)");

    /* LSN before the fork, on timeline 2's history: B2 */
    req.target = (RestoreTargetSpec){.kind = RESTORE_TARGET_LSN, .lsn = 0x5800000};
    p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B2");
    ck_assert_uint_eq(p.target_tli, 2);
    ck_assert_str_eq(p.wal.last_name, "000000010000000000000005");
    restore_plan_free(&p);
}
END_TEST

START_TEST(requested_backup)
{
    RestoreRequest req = {.pgdata = "x", .label = "B1"};
    RestorePlan p = plan_ok(&req);
    ck_assert_str_eq(p.why, "requested with --backup");
    ck_assert_uint_eq(p.target_tli, 2);
    restore_plan_free(&p);

    /* a backup on timeline 1 after the fork cannot reach timeline 2 */
    fx_save_backup(&fx, "B4", 1, 0x7000028, 0x7000100, T0 + 9000, NULL);
    req.label = "B4";
    PgpErr err = plan_bad(&req, PGP_ERR_USAGE);
    contains(err.msg, "backup \"B4\" cannot reach timeline 2: that timeline forked off timeline 1 "
                      "at 0/6000000, before the backup's end (LSN 0/7000100");
    req.target.timeline = "current";
    p = plan_ok(&req);
    ck_assert_uint_eq(p.target_tli, 1);
    contains(p.timeline_text, "current");
    restore_plan_free(&p);

    /* without --backup, B3 (highest stop LSN) is chosen; B4 would not qualify anyway */
    req.label = NULL;
    req.target.timeline = NULL;
    p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B3");
    restore_plan_free(&p);

    /* target before the requested backup's end */
    req.label = "B3";
    req.target = (RestoreTargetSpec){.kind = RESTORE_TARGET_LSN, .lsn = 0x8000000};
    err = plan_bad(&req, PGP_ERR_USAGE);
    contains(err.msg, "target LSN 0/8000000 is not after the end of backup \"B3\"");

    /* an unknown timeline */
    req = (RestoreRequest){.pgdata = "x", .target = {.timeline = "7"}};
    err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.msg, "4 of 4 are not on timeline 7's history");
    contains(err.hint, "no history file archived");

    req.label = "nope";
    err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.msg, "does not exist");
}
END_TEST

START_TEST(holes_and_damage)
{
    /* a hole in timeline 2 at segment 7, with 8 and 9 behind it */
    fx_remove_wal(&fx, 2, 7);
    RestoreRequest req = {.pgdata = "x", .label = "B2"};
    PgpErr err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.msg, "WAL segment 000000020000000000000007 is missing from the archive: backup "
                      "\"B2\" can reach at most LSN 0/7000000");
    contains(err.hint, "later WAL is archived, e.g. 000000020000000000000008");
    /* B3 starts after the hole: latest is fine */
    req.label = NULL;
    RestorePlan p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B3");
    restore_plan_free(&p);
    /* a time before the newest archive time is accepted even with the hole behind it;
     * an xid cannot be placed: a warning only */
    req.label = "B2";
    req.target = (RestoreTargetSpec){.kind = RESTORE_TARGET_TIME, .time_us = (T0 + 5000) * US};
    p = plan_ok(&req);
    ck_assert(p.wal.gap);
    restore_plan_free(&p);
    req.target = (RestoreTargetSpec){.kind = RESTORE_TARGET_XID, .xid = "1234"};
    p = plan_ok(&req);
    contains(p.why, "requested with --backup");
    restore_plan_free(&p);
    req.label = NULL;
    p = plan_ok(&req);
    contains(p.why, "an xid cannot be placed in time");
    restore_plan_free(&p);

    /* the backup's own WAL */
    fx_remove_wal(&fx, 1, 2);
    req = (RestoreRequest){.pgdata = "x", .label = "B1",
                           .target = {.kind = RESTORE_TARGET_IMMEDIATE}};
    err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.msg, "WAL segment 000000010000000000000002 of backup \"B1\" itself is missing");

    /* the same segment archived twice with different content */
    put_wal(1, 5, "other content");
    req.label = "B2";
    err = plan_bad(&req, PGP_ERR_CONFLICT);
    contains(err.msg, "000000010000000000000005 is archived twice");

    /* a missing object */
    fx_save_backup(&fx, "B5", 2, 0x9000028, 0x9000100, T0 + 9500, "objects/ab/abcdef.zst");
    req = (RestoreRequest){.pgdata = "x"};
    err = plan_bad(&req, PGP_ERR_CORRUPT);
    contains(err.msg, "backup \"B5\" is damaged: object \"objects/ab/abcdef.zst\" (content of "
                      "\"PG_VERSION\") is missing");
    PgpErr e2 = {0};
    ck_assert_int_eq(storage_put_all(fx.st, "objects/ab/abcdef.zst", 0, "x", 1, &e2), 0);
    p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B5");
    ck_assert_uint_eq(p.n_objects, 1);
    restore_plan_free(&p);
}
END_TEST

START_TEST(history_files)
{
    WalHistoryIndex *ix = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(wal_history_index_new(fx.repo, &ix, &err), 0);
    uint32_t tli = 0;
    ck_assert_int_eq(wal_history_latest_timeline(ix, &tli, &err), 0);
    ck_assert_uint_eq(tli, 2);
    PgTimelineHistory h;
    bool found = false;
    ck_assert_int_eq(wal_history_read(ix, 2, &h, &found, &err), 0);
    ck_assert(found);
    ck_assert_uint_eq(h.n, 2);
    pg_timeline_free(&h);
    ck_assert_int_eq(wal_history_read(ix, 5, &h, &found, &err), 0);
    ck_assert(!found);
    ck_assert_uint_eq(h.n, 1);
    pg_timeline_free(&h);
    bool any = false;
    ck_assert_int_eq(wal_history_any(ix, 1, 8, UINT64_MAX, &any, &err), 0);
    ck_assert(!any);
    ck_assert_int_eq(wal_history_any(ix, 2, 8, UINT64_MAX, &any, &err), 0);
    ck_assert(any);
    int64_t mtime = 0;
    ck_assert_int_eq(wal_history_find(ix, "000000010000000000000003", &any, &mtime, &err), 0);
    ck_assert(any);
    ck_assert_int_eq(mtime, T0 + 10000);
    ck_assert_int_eq(wal_history_find(ix, "00000001.history", &any, NULL, &err),
                     PGP_ERR_INVALID_NAME);

    /* a damaged history file (content no longer matching its name) is an error */
    fx_put_history(&fx, 3, "1\t0/6000000\tx\n2\t0/9000000\ty\n");
    char path[512];
    snprintf(path, sizeof path, "%s/archive/history", fx.root);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "sed -i 's/9000000/9000001/' %s/00000003.history-*", path);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(wal_history_read(ix, 3, &h, &found, &err), PGP_ERR_CORRUPT);
    contains(err.msg, "checksum mismatch");
    pg_timeline_free(&h);
    wal_history_index_free(ix);

    RestoreRequest req = {.pgdata = "x"};
    err = plan_bad(&req, PGP_ERR_CORRUPT);
    contains(err.msg, "00000003.history");
}
END_TEST

/* A promoted copy archived timeline 2 (its history file at T0 + 15000, its WAL up to T0 +
 * 10000) while production went on on timeline 1: segment 8 at T0 + 20000. */
static void stray_timeline_2(void)
{
    RepoArchiveObject obj;
    PgpErr err = {0};
    ck_assert_int_eq(repo_archive_find(fx.repo, "00000002.history", &obj, &err), 0);
    fx_set_mtime(&fx, obj.path, T0 + 15000);
    fx_put_wal(&fx, 1, 8, NULL, T0 + 20000, NULL);
}

START_TEST(production_timeline)
{
    /* as long as timeline 2 archived last, it is production's: nothing to warn about */
    RestoreRequest req = {.pgdata = "x", .target.timeline = "production"};
    RestorePlan p = plan_ok(&req);
    ck_assert_uint_eq(p.target_tli, 2);
    ck_assert_str_eq(p.warning, "");
    restore_plan_free(&p);

    stray_timeline_2();
    req.target.timeline = NULL;         /* latest: the copy's timeline, with a warning */
    p = plan_ok(&req);
    ck_assert_uint_eq(p.target_tli, 2);
    ck_assert(p.production.known);
    ck_assert_uint_eq(p.production.tli, 1);
    ck_assert_uint_eq(p.latest_tli, 2);
    contains(p.warning, "timeline 2, followed as latest");
    contains(p.warning, "add --target-timeline 1");
    restore_plan_free(&p);

    req.target.timeline = "production";
    p = plan_ok(&req);
    ck_assert_uint_eq(p.target_tli, 1);
    ck_assert_str_eq(p.manifest->label, "B2");
    ck_assert_str_eq(p.wal.last_name, "000000010000000000000008");
    contains(p.timeline_text, "1 (production's: it received the most recently archived WAL: "
                              "000000010000000000000008 at ");
    contains(p.warning, "timeline 2 has the highest history file");
    const TlActivity *a = tl_activity_find(&p.timelines, 2);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->parent, 1);
    ck_assert_uint_eq(a->fork_lsn, 0x6000000);
    ck_assert(a->has_history);
    ck_assert_int_eq(a->last, T0 + 15000);
    restore_plan_free(&p);

    req.target.timeline = "1";          /* asked for: no warning */
    p = plan_ok(&req);
    ck_assert_str_eq(p.warning, "");
    ck_assert_uint_eq(p.production.tli, 1);
    restore_plan_free(&p);

    req.target.timeline = "newest";
    PgpErr err = plan_bad(&req, PGP_ERR_USAGE);
    contains(err.msg, "expected latest, production, current or a timeline ID");
}
END_TEST

START_TEST(unreachable_names_timelines)
{
    stray_timeline_2();
    /* after timeline 2's WAL ends (T0 + 10000), before timeline 1's (T0 + 20000) */
    RestoreRequest req = {.pgdata = "x", .target = {.kind = RESTORE_TARGET_TIME,
                                                    .time_us = (T0 + 12000) * US}};
    PgpErr err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.msg, "WAL segment 00000002000000000000000A is not archived (yet)");
    contains(err.msg, "; timeline 2 was followed (latest: the highest timeline with a history "
                      "file in the archive)");
    contains(err.hint, "the target is reachable with --target-timeline 1 (production's "
                       "timeline); recoverable with this backup");
    req.target.timeline = "1";
    RestorePlan p = plan_ok(&req);
    ck_assert_str_eq(p.manifest->label, "B2");
    restore_plan_free(&p);

    /* beyond every timeline's WAL */
    req.target.timeline = NULL;
    req.target.time_us = (T0 + 30000) * US;
    err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.hint, "; no other timeline reaches the target either");

    /* no backup on the followed timeline's history: both backups on 1 are, on 2 not all */
    req.target.time_us = (T0 + 12000) * US;
    req.target.timeline = "1";
    req.label = "B3";
    err = plan_bad(&req, PGP_ERR_USAGE);
    contains(err.msg, "backup \"B3\" (timeline 2) is not on timeline 1's history");
    contains(err.msg, "; timeline 1 was followed (--target-timeline)");
    contains(err.hint, "no other timeline reaches the target either");

    /* an LSN only timeline 1 has: reachable with --target-timeline 1 */
    req.label = NULL;
    req.target = (RestoreTargetSpec){.kind = RESTORE_TARGET_LSN, .lsn = 0x8800000};
    req.target.timeline = "production";
    p = plan_ok(&req);
    restore_plan_free(&p);
    req.target.timeline = "2";
    req.target.lsn = 0xA800000;
    err = plan_bad(&req, PGP_ERR_NOT_FOUND);
    contains(err.msg, "timeline 2 was followed (--target-timeline)");
    contains(err.hint, "no other timeline reaches the target either");
}
END_TEST

Suite *suite_restore_plan(void)
{
    Suite *s = suite_create("restore_plan");
    TCase *tc = tcase_create("plan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, latest_follows_the_newest_timeline);
    tcase_add_test(tc, time_and_lsn_targets);
    tcase_add_test(tc, requested_backup);
    tcase_add_test(tc, holes_and_damage);
    tcase_add_test(tc, history_files);
    tcase_add_test(tc, production_timeline);
    tcase_add_test(tc, unreachable_names_timelines);
    suite_add_tcase(s, tc);
    return s;
}
