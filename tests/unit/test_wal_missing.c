/*
 * test_wal_missing.c - archive-get's answer for a WAL file the repository does not hold
 * (src/archive/wal_missing.c): the recovery mode read from DEST's data directory, the
 * classification of a miss on fabricated repositories (fx_repo.h), and the decision in each
 * mode, with the re-check of a hole driven by an injected sleep.
 *
 * Base repository (as in test_catalog.c): 16 MiB segments, timeline 2 forked off timeline 1
 * at 0/6000000 (segment 6), the old primary went on archiving timeline 1.
 *   WAL tli 1: segments 2..7, tli 2: 6..9
 * The data directory is <tdir>/data; DEST is <tdir>/data/pg_wal/RECOVERYXLOG.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_repo.h"
#include "pgpitr/archive/wal_missing.h"

static FxRepo fx;
static char datadir[200], dest[300];
static const char *req_dest;   /* DEST of decide(): dest unless a test says otherwise */

static void touch(const char *name, bool present)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", datadir, name);
    if (!present) {
        unlink(p);
        return;
    }
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
}

static void set_mode(WalRecoveryMode m)
{
    touch("standby.signal", m == WAL_MODE_STANDBY);
    touch("recovery.signal", m == WAL_MODE_ARCHIVE_RECOVERY);
}

static void setup(void)
{
    fx_repo_init(&fx, "walmissing");
    fx_put_history(&fx, 2, "1\t0/6000000\tbefore 2026-11-22 04:30:00+00\n");
    for (uint64_t s = 2; s <= 7; s++)
        fx_put_wal(&fx, 1, s, NULL, FX_T0 + (int64_t)s, NULL);
    for (uint64_t s = 6; s <= 9; s++)
        fx_put_wal(&fx, 2, s, NULL, FX_T0 + (int64_t)s, NULL);
    snprintf(datadir, sizeof datadir, "%s/data", fx.tdir);
    char wal[250];
    snprintf(wal, sizeof wal, "%s/pg_wal", datadir);
    ck_assert_int_eq(mkdir(datadir, 0700), 0);
    ck_assert_int_eq(mkdir(wal, 0700), 0);
    snprintf(dest, sizeof dest, "%s/RECOVERYXLOG", wal);
    set_mode(WAL_MODE_ARCHIVE_RECOVERY);
    req_dest = dest;
}

static void teardown(void)
{
    fx_repo_free(&fx);
}

static WalMissing classify_in(Repo *repo, const char *name)
{
    WalMissing m;
    PgpErr err = {0};
    int rc = wal_missing_classify(repo, name, &m, &err);
    ck_assert_msg(rc == 0, "classify %s: %s", name, err.msg);
    return m;
}

static WalMissing classify(const char *name)
{
    return classify_in(fx.repo, name);
}

/* ---- the decision, with injected sleep and fetch ---------------------------------------- */

typedef struct Probe {
    Repo *repo;
    const char *name;
    unsigned sleeps, fetches;
    int fill_at_sleep;          /* archive the missing segment (tli 1, fill_segno) at this sleep */
    uint64_t fill_segno;
    int fetch_error;            /* non-zero: the re-fetch fails with this code */
} Probe;

static void probe_sleep(void *ud, unsigned ms)
{
    Probe *p = ud;
    ck_assert_uint_eq(ms, 7);
    if ((int)++p->sleeps == p->fill_at_sleep)
        fx_put_wal(&fx, 1, p->fill_segno, NULL, FX_T0, NULL);
}

static int probe_fetch(void *ud, PgpErr *err)
{
    Probe *p = ud;
    p->fetches++;
    if (p->fetch_error != 0)
        return PGP_FAIL(err, p->fetch_error, "injected fetch failure");
    RepoArchiveObject obj;
    return repo_archive_find(p->repo, p->name, &obj, err);
}

static int decide_in(Repo *repo, const char *name, Probe *p, PgpErr *err)
{
    p->repo = repo;
    p->name = name;
    WalMissingRequest req = {
        .repo = repo,
        .repo_path = "/srv/pgpitr",
        .walname = name,
        .dest = req_dest,
        .recheck_tries = 3,
        .recheck_ms = 7,
        .refetch = probe_fetch,
        .refetch_ud = p,
        .sleep_ms = probe_sleep,
    };
    memset(err, 0, sizeof *err);
    return wal_missing_decide(&req, err);
}

static int decide(const char *name, Probe *p, PgpErr *err)
{
    return decide_in(fx.repo, name, p, err);
}

/* ---- mode ------------------------------------------------------------------------------- */

START_TEST(test_mode_from_signal_files)
{
    char dir[PATH_MAX];
    set_mode(WAL_MODE_UNKNOWN);
    ck_assert_int_eq(wal_missing_mode(dest, dir), WAL_MODE_UNKNOWN);
    ck_assert_str_eq(dir, datadir);
    set_mode(WAL_MODE_ARCHIVE_RECOVERY);
    ck_assert_int_eq(wal_missing_mode(dest, dir), WAL_MODE_ARCHIVE_RECOVERY);
    set_mode(WAL_MODE_STANDBY);
    ck_assert_int_eq(wal_missing_mode(dest, dir), WAL_MODE_STANDBY);
    touch("recovery.signal", true);   /* both: standby mode, as in PostgreSQL */
    ck_assert_int_eq(wal_missing_mode(dest, dir), WAL_MODE_STANDBY);
}
END_TEST

START_TEST(test_mode_data_directory_is_lexical)
{
    char dir[PATH_MAX];
    ck_assert_int_eq(chdir(datadir), 0);
    ck_assert_int_eq(wal_missing_mode("pg_wal/RECOVERYXLOG", dir), WAL_MODE_ARCHIVE_RECOVERY);
    ck_assert_str_eq(dir, ".");
    ck_assert_int_eq(wal_missing_mode("./pg_wal//RECOVERYHISTORY", dir),
                     WAL_MODE_ARCHIVE_RECOVERY);
    ck_assert_str_eq(dir, ".");
    ck_assert_int_eq(wal_missing_mode("/pg_wal/RECOVERYXLOG", dir), WAL_MODE_UNKNOWN);
    ck_assert_str_eq(dir, "/");
    ck_assert_int_eq(wal_missing_mode("a//pg_wal/x", dir), WAL_MODE_UNKNOWN);
    ck_assert_str_eq(dir, "a");
    /* not in a pg_wal directory (a manual run): unknown, no data directory */
    ck_assert_int_eq(wal_missing_mode("RECOVERYXLOG", dir), WAL_MODE_UNKNOWN);
    ck_assert_str_eq(dir, "");
    ck_assert_int_eq(wal_missing_mode("/tmp/000000010000000000000003", dir), WAL_MODE_UNKNOWN);
    ck_assert_str_eq(dir, "");
    ck_assert_int_eq(wal_missing_mode("pg_wal_x/RECOVERYXLOG", dir), WAL_MODE_UNKNOWN);
    ck_assert_str_eq(dir, "");
}
END_TEST

/* ---- classification --------------------------------------------------------------------- */

START_TEST(test_beyond_the_end)
{
    WalMissing m = classify("000000020000000000000010");   /* the next one on timeline 2 */
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
    /* timeline 1 went on past 2's fork: its end is the end, 2's fork is below it */
    m = classify("000000010000000000000008");
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
    m = classify("000000030000000000000009");   /* a timeline with nothing archived */
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
    m = classify("00000003.history");           /* the end-of-recovery probe */
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
    m = classify("000000010000000000000004.partial");
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
    m = classify("000000010000000000000004.00000028.backup");
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
}
END_TEST

START_TEST(test_hole)
{
    fx_remove_wal(&fx, 1, 4);
    WalMissing m = classify("000000010000000000000004");
    ck_assert_int_eq(m.kind, WAL_MISSING_HOLE);
    ck_assert_str_eq(m.next, "000000010000000000000005");
    fx_remove_wal(&fx, 2, 8);
    m = classify("000000020000000000000008");
    ck_assert_int_eq(m.kind, WAL_MISSING_HOLE);
    ck_assert_str_eq(m.next, "000000020000000000000009");
    /* the first segment of a timeline (the switch segment) missing */
    fx_remove_wal(&fx, 2, 6);
    m = classify("000000020000000000000006");
    ck_assert_int_eq(m.kind, WAL_MISSING_HOLE);
    ck_assert_str_eq(m.next, "000000020000000000000007");
}
END_TEST

START_TEST(test_below_first_is_a_hole)
{
    /* expired or never archived WAL below the first archived segment */
    WalMissing m = classify("000000010000000000000001");
    ck_assert_int_eq(m.kind, WAL_MISSING_HOLE);
    ck_assert_str_eq(m.next, "000000010000000000000002");
    /* a hole across archive directories: the next segment is in log 2 */
    fx_put_wal(&fx, 3, 0x200, NULL, FX_T0, NULL);
    m = classify("0000000300000000000000FF");
    ck_assert_int_eq(m.kind, WAL_MISSING_HOLE);
    ck_assert_str_eq(m.next, "000000030000000200000000");
}
END_TEST

START_TEST(test_timeline_not_covering_the_segment)
{
    /* timeline 2 begins in segment 6: older servers ask it for 5 before asking timeline 1 */
    WalMissing m = classify("000000020000000000000005");
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
    ck_assert_ptr_nonnull(strstr(m.reason, "begins later"));
    /* without its history file PostgreSQL assumes the timeline from the start, and so do we */
    fx_put_wal(&fx, 4, 9, NULL, FX_T0, NULL);
    m = classify("000000040000000000000005");
    ck_assert_int_eq(m.kind, WAL_MISSING_HOLE);
}
END_TEST

START_TEST(test_lost_tail)
{
    /* the old primary archived timeline 1 only up to 4; timeline 2 forked at segment 6 */
    fx_remove_wal(&fx, 1, 5);
    fx_remove_wal(&fx, 1, 6);
    fx_remove_wal(&fx, 1, 7);
    WalMissing m = classify("000000010000000000000005");
    ck_assert_int_eq(m.kind, WAL_MISSING_LOST_TAIL);
    ck_assert_uint_eq(m.child_tli, 2);
    ck_assert_uint_eq(m.fork_lsn, 0x6000000);
    ck_assert_str_eq(m.next, "00000002.history");
    /* the switch segment itself: timeline 2's file replaces it, and the old one may never
     * have been completed */
    m = classify("000000010000000000000006");
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
    /* a grandchild's history names timeline 1 too */
    fx_put_history(&fx, 3, "1\t0/6000000\tx\n2\t0/9000000\ty\n");
    m = classify("000000020000000000000010");
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
    fx_remove_wal(&fx, 2, 8);
    fx_remove_wal(&fx, 2, 9);
    m = classify("000000020000000000000008");
    ck_assert_int_eq(m.kind, WAL_MISSING_LOST_TAIL);
    ck_assert_uint_eq(m.child_tli, 3);
    /* before timeline 2 began: a probe, not a hole */
    m = classify("000000020000000000000005");
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
}
END_TEST

START_TEST(test_bad_later_history_proves_nothing)
{
    fx_remove_wal(&fx, 1, 5);
    fx_remove_wal(&fx, 1, 6);
    fx_remove_wal(&fx, 1, 7);
    /* 3's history does not verify (content does not match the name's checksum) */
    char path[REPO_PATH_MAX];
    repo_archive_object_path("00000003.history",
                             "0000000000000000000000000000000000000000000000000000000000000000",
                             PIPE_CODEC_NONE, path, NULL);
    fx_put_raw(&fx, path, "1\t0/6000000\tx\n");
    WalMissing m = classify("000000010000000000000005");
    ck_assert_int_eq(m.kind, WAL_MISSING_LOST_TAIL);   /* 2's still counts */
    ck_assert_uint_eq(m.child_tli, 2);
    m = classify("000000020000000000000010");
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
}
END_TEST

START_TEST(test_history_gap)
{
    fx_put_history(&fx, 3, "1\t0/6000000\tx\n2\t0/9000000\ty\n");
    fx_put_history(&fx, 5, "1\t0/6000000\tx\n2\t0/9000000\ty\n3\t0/A000000\tz\n");
    WalMissing m = classify("00000004.history");
    ck_assert_int_eq(m.kind, WAL_MISSING_HISTORY_GAP);
    ck_assert_str_eq(m.next, "00000005.history");
    m = classify("00000006.history");
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
    m = classify("00000001.history");   /* timeline 1 never has one */
    ck_assert_int_eq(m.kind, WAL_MISSING_BEYOND);
}
END_TEST

START_TEST(test_not_a_repository)
{
    char root[300];
    Storage *st = NULL;
    Repo *repo = NULL;
    PgpErr err = {0};
    snprintf(root, sizeof root, "%s/empty", fx.tdir);
    ck_assert_int_eq(storage_posix_new(root, true, &st, &err), 0);
    ck_assert_int_eq(repo_open(st, &repo, &err), 0);
    ck_assert_int_eq(classify_in(repo, "000000010000000000000003").kind,
                     WAL_MISSING_NOT_REPOSITORY);
    ck_assert_int_eq(classify_in(repo, "00000002.history").kind, WAL_MISSING_NOT_REPOSITORY);
    Probe p = {0};
    set_mode(WAL_MODE_ARCHIVE_RECOVERY);
    ck_assert_int_eq(decide_in(repo, "000000010000000000000003", &p, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"/srv/pgpitr\" is not a pgpitr repository"));
    ck_assert_ptr_nonnull(strstr(err.hint, "mounted"));
    ck_assert_uint_eq(p.sleeps, 0);
    set_mode(WAL_MODE_UNKNOWN);
    ck_assert_int_eq(decide_in(repo, "000000010000000000000003", &p, &err), PGP_ERR_CONFIG);
    /* a history file without signal file: the end of a promotion, never fatal */
    ck_assert_int_eq(decide_in(repo, "00000002.history", &p, &err), PGP_ERR_NOT_FOUND);
    req_dest = "/tmp/00000002.history";   /* a manual run: strict */
    ck_assert_int_eq(decide_in(repo, "00000002.history", &p, &err), PGP_ERR_CONFIG);
    req_dest = dest;
    set_mode(WAL_MODE_STANDBY);
    ck_assert_int_eq(decide_in(repo, "000000010000000000000003", &p, &err), PGP_ERR_NOT_FOUND);
    repo_free(repo);
    storage_free(st);
}
END_TEST

/* ---- the decision in each mode ---------------------------------------------------------- */

START_TEST(test_decide_beyond_is_not_archived_in_every_mode)
{
    WalRecoveryMode modes[] = {WAL_MODE_ARCHIVE_RECOVERY, WAL_MODE_STANDBY, WAL_MODE_UNKNOWN};
    for (size_t i = 0; i < 3; i++) {
        set_mode(modes[i]);
        Probe p = {0};
        PgpErr err;
        ck_assert_int_eq(decide("000000020000000000000010", &p, &err), PGP_ERR_NOT_FOUND);
        ck_assert_int_eq(decide("00000003.history", &p, &err), PGP_ERR_NOT_FOUND);
        ck_assert_uint_eq(p.sleeps, 0);
        ck_assert_uint_eq(p.fetches, 0);
    }
}
END_TEST

START_TEST(test_decide_hole_fatal_after_recheck)
{
    fx_remove_wal(&fx, 1, 4);
    WalRecoveryMode strict[] = {WAL_MODE_ARCHIVE_RECOVERY, WAL_MODE_UNKNOWN};
    for (size_t i = 0; i < 2; i++) {
        set_mode(strict[i]);
        Probe p = {0};
        PgpErr err;
        ck_assert_int_eq(decide("000000010000000000000004", &p, &err), PGP_ERR_CORRUPT);
        ck_assert_uint_eq(p.sleeps, 3);
        ck_assert_uint_eq(p.fetches, 3);
        ck_assert_ptr_nonnull(strstr(err.msg, "WAL segment 000000010000000000000004 is missing"));
        ck_assert_ptr_nonnull(strstr(err.msg, "later segment 000000010000000000000005"));
        ck_assert_ptr_nonnull(strstr(err.msg, "\"/srv/pgpitr\""));
        ck_assert_ptr_nonnull(strstr(err.hint, "push 000000010000000000000004"));
    }
}
END_TEST

START_TEST(test_decide_hole_in_standby_is_not_archived)
{
    fx_remove_wal(&fx, 1, 4);
    set_mode(WAL_MODE_STANDBY);
    Probe p = {0};
    PgpErr err;
    ck_assert_int_eq(decide("000000010000000000000004", &p, &err), PGP_ERR_NOT_FOUND);
    ck_assert_uint_eq(p.sleeps, 0);   /* the standby asks again by itself */
}
END_TEST

START_TEST(test_decide_hole_filled_during_recheck)
{
    fx_remove_wal(&fx, 1, 4);
    Probe p = {.fill_at_sleep = 2, .fill_segno = 4};
    PgpErr err;
    ck_assert_int_eq(decide("000000010000000000000004", &p, &err), 0);
    ck_assert_uint_eq(p.sleeps, 2);
    ck_assert_uint_eq(p.fetches, 2);
}
END_TEST

START_TEST(test_decide_recheck_fetch_error_is_returned)
{
    fx_remove_wal(&fx, 1, 4);
    Probe p = {.fetch_error = PGP_ERR_IO};
    PgpErr err;
    ck_assert_int_eq(decide("000000010000000000000004", &p, &err), PGP_ERR_IO);
    ck_assert_str_eq(err.msg, "injected fetch failure");
    ck_assert_uint_eq(p.fetches, 1);
}
END_TEST

START_TEST(test_decide_lost_tail_and_history_gap)
{
    fx_remove_wal(&fx, 1, 5);
    fx_remove_wal(&fx, 1, 6);
    fx_remove_wal(&fx, 1, 7);
    fx_put_history(&fx, 4, "1\t0/6000000\tx\n");
    Probe p = {0};
    PgpErr err;
    ck_assert_int_eq(decide("000000010000000000000005", &p, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "00000002.history says timeline 1 went on to 0/6000000"));
    ck_assert_ptr_nonnull(strstr(err.hint, "promoted standby"));
    ck_assert_int_eq(decide("00000003.history", &p, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "00000003.history is missing"));
    ck_assert_ptr_nonnull(strstr(err.msg, "00000004.history is archived"));
    ck_assert_ptr_nonnull(strstr(err.hint, "never expired"));
    set_mode(WAL_MODE_STANDBY);
    ck_assert_int_eq(decide("000000010000000000000005", &p, &err), PGP_ERR_NOT_FOUND);
    ck_assert_int_eq(decide("00000003.history", &p, &err), PGP_ERR_NOT_FOUND);
    /* no signal file: strict for segments; for history files it is the end of a promotion
     * (PostgreSQL copies the parent's history after removing the signal files) */
    set_mode(WAL_MODE_UNKNOWN);
    ck_assert_int_eq(decide("000000010000000000000005", &p, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(decide("00000003.history", &p, &err), PGP_ERR_NOT_FOUND);
    req_dest = "00000003.history";   /* not in a pg_wal directory: a manual run, strict */
    ck_assert_int_eq(decide("00000003.history", &p, &err), PGP_ERR_CORRUPT);
}
END_TEST

START_TEST(test_decide_with_a_recovery_target)
{
    /* PostgreSQL refuses to end recovery short of its target, and its read-ahead asks for
     * segments past the target: a hole is "not archived" (warned), at once */
    char conf[300];
    snprintf(conf, sizeof conf, "%s/postgresql.auto.conf", datadir);
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fputs("restore_command = 'x'\nrecovery_target_lsn = '0/3000100'\n", f);
    fclose(f);
    fx_remove_wal(&fx, 1, 4);
    Probe p = {0};
    PgpErr err;
    ck_assert_int_eq(decide("000000010000000000000004", &p, &err), PGP_ERR_NOT_FOUND);
    ck_assert_uint_eq(p.sleeps, 0);
    /* the history gap stays fatal: it is about which timeline to follow */
    fx_put_history(&fx, 4, "1\t0/6000000\tx\n");
    ck_assert_int_eq(decide("00000003.history", &p, &err), PGP_ERR_CORRUPT);
    /* in standby mode the target changes nothing */
    set_mode(WAL_MODE_STANDBY);
    ck_assert_int_eq(decide("000000010000000000000004", &p, &err), PGP_ERR_NOT_FOUND);
    /* target unset again: strict */
    set_mode(WAL_MODE_ARCHIVE_RECOVERY);
    f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fputs("recovery_target_lsn = '0/3000100'\nrecovery_target_lsn = ''\n", f);
    fclose(f);
    Probe q = {0};
    ck_assert_int_eq(decide("000000010000000000000004", &q, &err), PGP_ERR_CORRUPT);
    ck_assert_uint_eq(q.sleeps, 3);
}
END_TEST

START_TEST(test_decide_analysis_error)
{
    /* archive/history is a symbolic link to itself: listing it fails (ELOOP) */
    char hist[400], cmd[512];
    snprintf(hist, sizeof hist, "%s/archive/history", fx.root);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", hist);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(symlink("history", hist), 0);
    Probe p = {0};
    PgpErr err;
    int rc = decide("00000003.history", &p, &err);
    ck_assert_int_ne(rc, 0);
    ck_assert_int_ne(rc, PGP_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot tell whether it is beyond its end"));
    set_mode(WAL_MODE_STANDBY);
    ck_assert_int_eq(decide("00000003.history", &p, &err), PGP_ERR_NOT_FOUND);
}
END_TEST

/* A repository that cannot be read: "not yet" in standby mode when it may pass by itself,
 * fatal otherwise, and in every other mode the error as it was. */
static int unreachable(int code, const char *msg, PgpErr *err)
{
    pgp_err_clear(err);
    PGP_FAIL(err, code, "%s", msg);
    return wal_missing_unreachable(dest, "/srv/repo", code, err);
}

START_TEST(test_unreachable_repository)
{
    PgpErr err;
    static const int may_pass[] = {PGP_ERR_CONFIG, PGP_ERR_IO, PGP_ERR_NO_SPACE, PGP_ERR_NOMEM,
                                   PGP_ERR_LOCKED};
    static const int damage[] = {PGP_ERR_CORRUPT, PGP_ERR_CONFLICT, PGP_ERR_WRONG_CLUSTER,
                                 PGP_ERR_CODEC, PGP_ERR_INVALID_NAME, PGP_ERR_INTERNAL};
    for (size_t i = 0; i < sizeof may_pass / sizeof may_pass[0]; i++) {
        set_mode(WAL_MODE_ARCHIVE_RECOVERY);
        ck_assert_int_eq(unreachable(may_pass[i], "storage root gone", &err), may_pass[i]);
        ck_assert_str_eq(err.msg, "storage root gone");
        set_mode(WAL_MODE_UNKNOWN);
        ck_assert_int_eq(unreachable(may_pass[i], "storage root gone", &err), may_pass[i]);
        set_mode(WAL_MODE_STANDBY);
        ck_assert_int_eq(unreachable(may_pass[i], "storage root gone", &err), PGP_ERR_NOT_FOUND);
        ck_assert_ptr_nonnull(strstr(err.msg, "\"/srv/repo\" cannot be read"));
    }
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++)
        ck_assert_int_eq(unreachable(damage[i], "bad", &err), damage[i]);
    ck_assert_int_eq(wal_missing_unreachable(dest, "/srv/repo", 0, &err), 0);
    ck_assert_int_eq(wal_missing_unreachable(dest, "/srv/repo", PGP_ERR_NOT_FOUND, &err),
                     PGP_ERR_NOT_FOUND);
}
END_TEST

Suite *suite_wal_missing(void)
{
    Suite *s = suite_create("wal_missing");
    TCase *tc = tcase_create("wal_missing");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_mode_from_signal_files);
    tcase_add_test(tc, test_mode_data_directory_is_lexical);
    tcase_add_test(tc, test_beyond_the_end);
    tcase_add_test(tc, test_hole);
    tcase_add_test(tc, test_below_first_is_a_hole);
    tcase_add_test(tc, test_timeline_not_covering_the_segment);
    tcase_add_test(tc, test_lost_tail);
    tcase_add_test(tc, test_bad_later_history_proves_nothing);
    tcase_add_test(tc, test_history_gap);
    tcase_add_test(tc, test_not_a_repository);
    tcase_add_test(tc, test_decide_beyond_is_not_archived_in_every_mode);
    tcase_add_test(tc, test_decide_hole_fatal_after_recheck);
    tcase_add_test(tc, test_decide_hole_in_standby_is_not_archived);
    tcase_add_test(tc, test_decide_hole_filled_during_recheck);
    tcase_add_test(tc, test_decide_recheck_fetch_error_is_returned);
    tcase_add_test(tc, test_decide_lost_tail_and_history_gap);
    tcase_add_test(tc, test_decide_with_a_recovery_target);
    tcase_add_test(tc, test_decide_analysis_error);
    tcase_add_test(tc, test_unreachable_repository);
    suite_add_tcase(s, tc);
    return s;
}
