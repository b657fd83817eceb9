/*
 * test_verify_check.c - verify's plan and analysis (src/repo/verify_check.c) on a fabricated
 * repository (fx_repo.h). The object checks are faked at the module seam: the plan's objects
 * are marked as verify_objects_run would mark them (ok with a real long page header for WAL
 * segments, or missing / corrupt with a reason), so each test states exactly which object is
 * bad and asserts what the analysis says that breaks.
 *
 * The repository (as in test_catalog.c): 16 MiB segments, timeline 2 forked off timeline 1
 * at 0/6000000, the old primary went on archiving timeline 1.
 *   B1  tli 1  0/2000028 - 0/2000100  stop T0          objects SH O1
 *   B2  tli 1  0/5000028 - 0/5000100  stop T0 + 3600   objects SH O2
 *   B3  tli 2  0/8000028 - 0/8000100  stop T0 + 7200   objects SH O3
 *   WAL tli 1: segments 2..7, tli 2: 6..9; history of timeline 2
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fx_pgmanifest.h"
#include "fx_repo.h"
#include "fx_tool.h"
#include "pgpitr/repo/verify_check.h"

#define T0 FX_T0

static FxRepo fx;

enum { O_SH, O_O1, O_O2, O_O3, N_OBJ };
static char obj[N_OBJ][REPO_PATH_MAX];

static void setup(void)
{
    fx_repo_init(&fx, "verify");
    const char *tags[N_OBJ] = {"SH", "O1", "O2", "O3"};
    for (int i = 0; i < N_OBJ; i++)
        fx_put_object(&fx, tags[i], obj[i]);
    fx_save_backup_objects(&fx, "B1", 1, 0x2000028, 0x2000100, T0,
                           (const char *[]){obj[O_SH], obj[O_O1]}, 2, NULL);
    fx_save_backup_objects(&fx, "B2", 1, 0x5000028, 0x5000100, T0 + 3600,
                           (const char *[]){obj[O_SH], obj[O_O2]}, 2, NULL);
    fx_save_backup_objects(&fx, "B3", 2, 0x8000028, 0x8000100, T0 + 7200,
                           (const char *[]){obj[O_SH], obj[O_O3]}, 2, NULL);
    fx_put_history(&fx, 2, "1\t0/6000000\tbefore 2026-11-22 04:30:00+00\n");
    for (uint64_t s = 2; s <= 7; s++)
        fx_put_wal(&fx, 1, s, NULL, T0 + 10000 + (int64_t)s, NULL);
    for (uint64_t s = 6; s <= 9; s++)
        fx_put_wal(&fx, 2, s, NULL, T0 + 10000 + (int64_t)s, NULL);
}

static void teardown(void)
{
    fx_repo_free(&fx);
}

/* ---- the faked object checks ------------------------------------------------------------ */

typedef struct Damage {
    const char *path;       /* object path, or NULL: end */
    VerifyStatus status;
    uint64_t sysid;         /* for VERIFY_OK: a header with this system identifier */
} Damage;

typedef struct Run {
    Catalog c;
    VerifyPlan plan;
    VerifyReport r;
} Run;

static void run(Run *x, const char *only, const Damage *dmg)
{
    PgpErr err = {0};
    int rc = catalog_load(fx.repo, CATALOG_LOAD_BACKUPS | CATALOG_LOAD_WAL, &x->c, &err);
    ck_assert_msg(rc == 0, "catalog_load: %s", err.msg);
    for (size_t i = 0; i < x->c.n_backups; i++)
        if (x->c.backups[i].status == CATALOG_BACKUP_COMPLETE)
            ck_assert_int_eq(catalog_load_files(fx.repo, &x->c.backups[i], &err), 0);
    const CatalogBackup *b = NULL;
    for (size_t i = 0; only != NULL && i < x->c.n_backups; i++)
        if (strcmp(x->c.backups[i].label, only) == 0)
            b = &x->c.backups[i];
    ck_assert(only == NULL || b != NULL);
    ck_assert_int_eq(verify_plan_build(&x->c, b, &x->plan, &err), 0);
    VerifyPlan *p = &x->plan;
    for (size_t i = 0; i < p->n_objs; i++) {
        VerifyObject *o = &p->objs[i];
        o->status = VERIFY_OK;
        if (i >= p->n_file_objs) {
            const CatalogWal *w = &x->c.wal[p->wal_index[i - p->n_file_objs]];
            fx_good_wal_header(o, w->tli, w->segno, FX_SYSID);
        }
        char buf[REPO_PATH_MAX];
        for (const Damage *d = dmg; d != NULL && d->path != NULL; d++) {
            if (strcmp(d->path, verify_object_path(o, buf)) != 0)
                continue;
            o->status = d->status;
            if (d->status == VERIFY_OK) {
                const CatalogWal *w = &x->c.wal[p->wal_index[i - p->n_file_objs]];
                fx_good_wal_header(o, w->tli, w->segno, d->sysid);
            } else {
                o->head_len = 0;
                verify_object_clear(o);
                o->reason = strdup("checksum differs");
            }
        }
    }
    rc = verify_analyze(fx.st, p, &x->r, &err);
    ck_assert_msg(rc == 0, "verify_analyze: %s", err.msg);
}

static void done(Run *x)
{
    verify_report_free(&x->r);
    verify_plan_free(&x->plan);
    catalog_free(&x->c);
}

static const char *wal_path(const Catalog *c, uint32_t tli, uint64_t segno)
{
    const CatalogWal *w = catalog_segment(c, tli, segno);
    ck_assert_ptr_nonnull(w);
    return w->path;
}

/* The index of backup label in the catalog. */
static size_t bidx(const Catalog *c, const char *label)
{
    for (size_t i = 0; i < c->n_backups; i++)
        if (strcmp(c->backups[i].label, label) == 0)
            return i;
    ck_abort_msg("no backup %s", label);
    return 0;
}

/* "B1,B3": the labels of a problem's broken backups, in order. */
static const char *broken(const VerifyProblem *p)
{
    static char out[256];
    out[0] = '\0';
    for (size_t i = 0; i < p->n_backups; i++) {
        size_t len = strlen(out);
        snprintf(out + len, sizeof out - len, "%s%s", i ? "," : "", p->backups[i]);
    }
    return out;
}

/* "B1,B3": which backups the report calls restorable. */
static const char *restorable(const Run *x)
{
    static char out[256];
    out[0] = '\0';
    for (size_t i = 0; i < x->c.n_backups; i++) {
        if (!x->r.restorable[i])
            continue;
        size_t len = strlen(out);
        snprintf(out + len, sizeof out - len, "%s%s", len ? "," : "", x->c.backups[i].label);
    }
    return out;
}

static const VerifyReachRow *reach(const Run *x, const char *label, uint32_t tli)
{
    size_t bi = bidx(&x->c, label);
    for (size_t i = 0; i < x->r.n_reach; i++)
        if (x->r.reach[i].backup == bi && x->r.reach[i].tli == tli)
            return &x->r.reach[i];
    return NULL;
}

#define contains(hay, needle)                                                                  \
    do {                                                                                       \
        const char *h_ = (hay);                                                                \
        ck_assert_msg(h_ != NULL && strstr(h_, (needle)) != NULL, "\"%s\" not in \"%s\"",      \
                      (needle), h_ != NULL ? h_ : "(null)");                                   \
    } while (0)

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(clean_repository_has_no_problem)
{
    Run x;
    run(&x, NULL, NULL);
    ck_assert_uint_eq(x.plan.n_file_objs, 4);           /* SH once, O1, O2, O3 */
    ck_assert_uint_eq(x.plan.n_objs, 4 + 10);
    ck_assert_uint_eq(x.plan.n_backups_checked, 3);
    ck_assert_uint_eq(x.r.n_problems, 0);
    ck_assert_uint_eq(x.r.n_errors, 0);
    ck_assert_str_eq(restorable(&x), "B1,B2,B3");
    ck_assert_uint_eq(x.r.n_reach, 5);                  /* B1, B2 on 1 and 2; B3 on 2 */
    ck_assert_ptr_null(reach(&x, "B3", 1));
    ck_assert_uint_eq(reach(&x, "B1", 2)->reach.end_segno, 9);
    ck_assert_uint_eq(reach(&x, "B1", 1)->reach.end_segno, 7);
    done(&x);
}
END_TEST

START_TEST(damaged_shared_object_breaks_every_backup_using_it)
{
    Run x;
    run(&x, NULL, (const Damage[]){{obj[O_SH], VERIFY_CORRUPT, 0}, {NULL, 0, 0}});
    ck_assert_uint_eq(x.r.n_problems, 1);
    const VerifyProblem *p = &x.r.problems[0];
    ck_assert(p->error);
    ck_assert_str_eq(p->kind, "backup_file");
    ck_assert_str_eq(p->subject, obj[O_SH]);
    contains(p->message, "corrupt");
    ck_assert_str_eq(broken(p), "B1,B2,B3");
    contains(p->breaks, "backup \"B1\" (file \"PG_VERSION\")");
    contains(p->breaks, "backup \"B3\"");
    ck_assert_str_eq(restorable(&x), "");
    done(&x);
}
END_TEST

START_TEST(missing_private_object_breaks_one_backup)
{
    Run x;
    run(&x, NULL, (const Damage[]){{obj[O_O2], VERIFY_MISSING, 0}, {NULL, 0, 0}});
    ck_assert_uint_eq(x.r.n_errors, 1);
    ck_assert_str_eq(broken(&x.r.problems[0]), "B2");
    contains(x.r.problems[0].message, "missing");
    ck_assert_str_eq(restorable(&x), "B1,B3");
    done(&x);
}
END_TEST

START_TEST(damaged_segment_cuts_the_range_not_the_backup)
{
    /* B1 needs only segment 2: damage in 4 ends what it recovers on both timelines */
    Catalog c;
    PgpErr err = {0};
    ck_assert_int_eq(catalog_load(fx.repo, CATALOG_LOAD_WAL, &c, &err), 0);
    char path[REPO_PATH_MAX];
    snprintf(path, sizeof path, "%s", wal_path(&c, 1, 4));
    catalog_free(&c);
    Run x;
    run(&x, NULL, (const Damage[]){{path, VERIFY_CORRUPT, 0}, {NULL, 0, 0}});
    ck_assert_uint_eq(x.r.n_problems, 3);
    ck_assert_uint_eq(x.r.n_errors, 3);
    const VerifyProblem *p = &x.r.problems[0];
    ck_assert_str_eq(p->kind, "wal_file");
    ck_assert_str_eq(p->subject, path);
    ck_assert_uint_eq(p->tli, 1);
    contains(p->breaks, "cannot read past segment 000000010000000000000004");
    ck_assert_uint_eq(p->n_backups, 0);
    for (size_t i = 1; i <= 2; i++) {
        p = &x.r.problems[i];
        ck_assert_str_eq(p->kind, "wal_missing");
        ck_assert_str_eq(p->subject, "000000010000000000000004");
        contains(p->message, "is damaged");
        ck_assert_uint_eq(p->tli, i);               /* B1 along timeline 1, then 2 */
        contains(p->breaks, "backup \"B1\": points after 0/4000000");
        contains(p->breaks, "the archive resumes at 000000010000000000000005");
        ck_assert_uint_eq(p->n_backups, 0);
    }
    ck_assert_str_eq(restorable(&x), "B1,B2,B3");
    ck_assert_uint_eq(reach(&x, "B1", 2)->reach.end_segno, 3);
    ck_assert(reach(&x, "B1", 2)->reach.gap);
    ck_assert_uint_eq(reach(&x, "B2", 2)->reach.end_segno, 9);
    done(&x);
}
END_TEST

START_TEST(missing_start_segment_makes_the_backup_unrestorable)
{
    fx_remove_wal(&fx, 1, 5);
    Run x;
    run(&x, NULL, NULL);
    ck_assert_str_eq(restorable(&x), "B1,B3");
    /* B1's hole along timelines 1 and 2, then B2 once (not once per timeline); the gap
     * itself is not repeated as a note */
    ck_assert_uint_eq(x.r.n_problems, 3);
    ck_assert_uint_eq(x.r.n_errors, 3);
    const VerifyProblem *p;
    for (size_t i = 0; i < 2; i++) {
        p = &x.r.problems[i];
        ck_assert_str_eq(p->kind, "wal_missing");
        ck_assert_uint_eq(p->n_backups, 0);
        contains(p->breaks, "backup \"B1\": points after 0/5000000");
        ck_assert_uint_eq(p->tli, i + 1);
    }
    p = &x.r.problems[2];
    ck_assert_str_eq(p->kind, "wal_missing");
    ck_assert_str_eq(p->subject, "000000010000000000000005");
    contains(p->message, "is missing");
    ck_assert_str_eq(broken(p), "B2");
    contains(p->breaks, "backup \"B2\" cannot be restored: the WAL between its start 0/5000028 "
                        "and its stop 0/5000100 is incomplete");
    done(&x);
}
END_TEST

START_TEST(hole_on_the_dead_timeline_only_cuts_that_timeline)
{
    /* timeline 2 reads segment 6 from itself: only recovery along timeline 1 stops there */
    fx_remove_wal(&fx, 1, 6);
    Run x;
    run(&x, NULL, NULL);
    ck_assert_str_eq(restorable(&x), "B1,B2,B3");
    ck_assert_uint_eq(x.r.n_problems, 2);
    for (size_t i = 0; i < 2; i++) {
        const VerifyProblem *p = &x.r.problems[i];
        ck_assert_str_eq(p->kind, "wal_missing");
        ck_assert_uint_eq(p->tli, 1);
        contains(p->breaks, i == 0 ? "backup \"B1\"" : "backup \"B2\"");
        contains(p->breaks, "points after 0/6000000");
        contains(p->breaks, "on timeline 1 are not recoverable; the archive resumes at "
                            "000000010000000000000007");
    }
    ck_assert_uint_eq(reach(&x, "B2", 1)->reach.end_segno, 5);
    ck_assert_uint_eq(reach(&x, "B2", 2)->reach.end_segno, 9);
    ck_assert(!reach(&x, "B2", 2)->reach.gap);
    done(&x);
}
END_TEST

START_TEST(gap_no_backup_reads_is_a_note)
{
    fx_put_wal(&fx, 1, 0, NULL, T0 + 9000, NULL);   /* segment 1 missing, before every backup */
    Run x;
    run(&x, NULL, NULL);
    ck_assert_uint_eq(x.r.n_problems, 1);
    ck_assert_uint_eq(x.r.n_errors, 0);
    const VerifyProblem *p = &x.r.problems[0];
    ck_assert(!p->error);
    ck_assert_str_eq(p->kind, "wal_gap");
    ck_assert_str_eq(p->subject, "000000010000000000000001");
    ck_assert_ptr_null(p->breaks);
    ck_assert_str_eq(restorable(&x), "B1,B2,B3");
    done(&x);
}
END_TEST

START_TEST(segment_of_another_cluster_is_damage)
{
    Catalog c;
    PgpErr err = {0};
    ck_assert_int_eq(catalog_load(fx.repo, CATALOG_LOAD_WAL, &c, &err), 0);
    char path[REPO_PATH_MAX];
    snprintf(path, sizeof path, "%s", wal_path(&c, 2, 8));
    catalog_free(&c);
    Run x;
    run(&x, NULL, (const Damage[]){{path, VERIFY_OK, FX_SYSID + 1}, {NULL, 0, 0}});
    ck_assert_uint_eq(x.r.n_problems, 1 + 2 + 1);       /* + holes of B1 and B2 on tli 2, + B3 */
    const VerifyProblem *p = &x.r.problems[0];
    ck_assert_str_eq(p->kind, "wal_file");
    contains(p->message, "belongs to another cluster");
    /* B3 starts in segment 8: it cannot be restored along any timeline */
    ck_assert_str_eq(restorable(&x), "B1,B2");
    for (size_t i = 1; i <= 2; i++) {
        ck_assert_uint_eq(x.r.problems[i].tli, 2);
        contains(x.r.problems[i].breaks, "points after 0/8000000");
        contains(x.r.problems[i].breaks, "resumes at 000000020000000000000009");
    }
    ck_assert_str_eq(x.r.problems[3].kind, "wal_missing");
    contains(x.r.problems[3].message, "is damaged");
    ck_assert_str_eq(broken(&x.r.problems[3]), "B3");
    done(&x);
}
END_TEST

START_TEST(missing_history_file_breaks_following_the_timeline)
{
    Catalog c;
    PgpErr err = {0};
    ck_assert_int_eq(catalog_load(fx.repo, CATALOG_LOAD_WAL, &c, &err), 0);
    ck_assert_uint_eq(c.n_histories, 1);
    ck_assert_int_eq(storage_remove(fx.st, c.histories[0].path, &err), 0);
    catalog_free(&c);
    Run x;
    run(&x, NULL, NULL);
    const VerifyProblem *p = NULL;
    for (size_t i = 0; i < x.r.n_problems; i++)
        if (strcmp(x.r.problems[i].kind, "history_missing") == 0)
            p = &x.r.problems[i];
    ck_assert_ptr_nonnull(p);
    ck_assert(p->error);
    ck_assert_str_eq(p->subject, "00000002.history");
    ck_assert_uint_eq(p->tli, 2);
    contains(p->breaks, "timeline 2 cannot be followed");
    ck_assert_uint_eq(x.r.n_problems, 1);
    /* without it, B1 and B2 are not on timeline 2's history any more */
    ck_assert_ptr_null(reach(&x, "B1", 2));
    ck_assert_str_eq(restorable(&x), "B1,B2,B3");
    done(&x);
}
END_TEST

START_TEST(bad_history_incomplete_and_corrupt_backups)
{
    fx_put_history(&fx, 3, "this is not a history\n");
    fx_put_wal(&fx, 3, 12, NULL, T0 + 30000, NULL);
    fx_put_raw(&fx, "backup/BI/pg_data.tmp", "x");
    fx_put_raw(&fx, "backup/BX/manifest.json", "{not json");
    Run x;
    run(&x, NULL, NULL);
    const VerifyProblem *hist = NULL, *inc = NULL, *man = NULL;
    for (size_t i = 0; i < x.r.n_problems; i++) {
        const VerifyProblem *p = &x.r.problems[i];
        if (strcmp(p->kind, "history_corrupt") == 0)
            hist = p;
        else if (strcmp(p->kind, "incomplete_backup") == 0)
            inc = p;
        else if (strcmp(p->kind, "manifest") == 0)
            man = p;
    }
    ck_assert(hist != NULL && hist->error && hist->tli == 3);
    ck_assert(inc != NULL && !inc->error && inc->breaks == NULL);
    ck_assert_str_eq(inc->subject, "BI");
    ck_assert(man != NULL && man->error);
    ck_assert_str_eq(broken(man), "BX");
    ck_assert_uint_eq(x.r.n_problems, 3);
    ck_assert_uint_eq(x.r.n_errors, 2);
    ck_assert_str_eq(restorable(&x), "B1,B2,B3");
    done(&x);
}
END_TEST

START_TEST(missing_postgresql_manifest_breaks_its_backup)
{
    fx_save_backup_objects(&fx, "B4", 2, 0x9000028, 0x9000100, T0 + 9000,
                           (const char *[]){obj[O_SH]}, 1, "backup/B4/backup_manifest.zst");
    Run x;
    run(&x, NULL, NULL);
    ck_assert_uint_eq(x.r.n_problems, 1);
    const VerifyProblem *p = &x.r.problems[0];
    ck_assert_str_eq(p->kind, "pg_manifest");
    contains(p->message, "is missing");
    ck_assert_str_eq(broken(p), "B4");
    ck_assert_str_eq(restorable(&x), "B1,B2,B3");
    done(&x);
}
END_TEST

/* PostgreSQL's backup_manifest is kept whatever checksums it lists: SHA256 (what pgpitr asked
 * the server for before issue #14) and CRC32C (since) both verify, so old repositories keep
 * verifying. */
START_TEST(postgresql_manifest_sha256_or_crc32c)
{
    fx_put_raw(&fx, "backup/B4/backup_manifest", fx_pg_manifest_sha256);
    fx_save_backup_objects(&fx, "B4", 2, 0x9000028, 0x9000100, T0 + 9000,
                           (const char *[]){obj[O_SH]}, 1, "backup/B4/backup_manifest");
    fx_put_raw(&fx, "backup/B5/backup_manifest", fx_pg_manifest_crc32c);
    fx_save_backup_objects(&fx, "B5", 2, 0x9000028, 0x9000100, T0 + 9100,
                           (const char *[]){obj[O_SH]}, 1, "backup/B5/backup_manifest");
    Run x;
    run(&x, NULL, NULL);
    for (size_t i = 0; i < x.r.n_problems; i++)
        ck_abort_msg("unexpected problem: %s", x.r.problems[i].message);
    ck_assert_str_eq(restorable(&x), "B1,B2,B3,B4,B5");
    done(&x);
}
END_TEST

/* Run with B4 whose stored backup_manifest (at path) holds content; the one problem found. */
static const VerifyProblem *pg_manifest_problem(Run *x, const char *path, const char *content)
{
    fx_put_raw(&fx, path, content);
    fx_save_backup_objects(&fx, "B4", 2, 0x9000028, 0x9000100, T0 + 9000,
                           (const char *[]){obj[O_SH]}, 1, path);
    run(x, NULL, NULL);
    ck_assert_uint_eq(x->r.n_problems, 1);
    const VerifyProblem *p = &x->r.problems[0];
    ck_assert_str_eq(p->kind, "pg_manifest");
    ck_assert_str_eq(broken(p), "B4");
    ck_assert_str_eq(restorable(x), "B1,B2,B3");
    return p;
}

/* One character of a file's path changed: the text still parses, its Manifest-Checksum no
 * longer matches (checked as the text streams by). */
START_TEST(tampered_postgresql_manifest_is_damaged)
{
    char *text = strdup(fx_pg_manifest_crc32c);
    char *at = strstr(text, "\"Path\": \"");
    ck_assert_ptr_nonnull(at);
    at[9] = at[9] == 'x' ? 'y' : 'x';
    Run x;
    const VerifyProblem *p = pg_manifest_problem(&x, "backup/B4/backup_manifest", text);
    contains(p->message, "is damaged");
    contains(p->message, "checksum");
    free(text);
    done(&x);
}
END_TEST

/* A compressed backup_manifest that does not decode is reported with the decoder's reason, not
 * with the parse error its bytes would give: the object's own checks come first. */
START_TEST(undecodable_postgresql_manifest_names_the_decoder)
{
    Run x;
    const VerifyProblem *p = pg_manifest_problem(&x, "backup/B4/backup_manifest.zst",
                                                 "{ \"PostgreSQL-Backup-Manifest-Version\": 1,");
    contains(p->message, "is damaged");
    ck_assert_msg(strstr(p->message, "zstd") != NULL || strstr(p->message, "frame") != NULL,
                  "not the decoder's reason: %s", p->message);
    done(&x);
}
END_TEST

static void many_file(size_t i, size_t *id, uint32_t *crc)
{
    *id = i;
    *crc = (uint32_t)(i * 2654435761u);
}

/* Issue #14: verify checks a cluster's backup_manifest (about 150 bytes a file) without
 * holding it: 150,000 files, a 21 MiB text, read through a fixed ring and JSON window. Read
 * whole and parsed as before, peak RSS grew by 37 MiB here (bound 8 MiB). */
START_TEST(big_postgresql_manifest_is_streamed)
{
    size_t n = fx_under_memory_tool() ? 20000 : 150000;
    char path[512];
    snprintf(path, sizeof path, "%s/backup/B4", fx.root);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/backup/B4/backup_manifest", fx.root);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    FxPgManifestGen g;
    fx_pg_manifest_gen_init(&g, n, many_file);
    char buf[65536];
    size_t got;
    PgpErr err = {0};
    do {
        ck_assert_int_eq(fx_pg_manifest_gen_read(&g, buf, sizeof buf, &got, &err), 0);
        ck_assert_uint_eq(fwrite(buf, 1, got, f), got);
    } while (got > 0);
    fx_pg_manifest_gen_free(&g);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_gt(g.produced, 100 * n);
    fx_save_backup_objects(&fx, "B4", 2, 0x9000028, 0x9000100, T0 + 9000,
                           (const char *[]){obj[O_SH]}, 1, "backup/B4/backup_manifest");
    long before = fx_peak_rss_kib();
    Run x;
    run(&x, NULL, NULL);
    long grew_kib = fx_peak_rss_kib() - before;
    for (size_t i = 0; i < x.r.n_problems; i++)
        ck_abort_msg("unexpected problem: %s", x.r.problems[i].message);
    ck_assert_str_eq(restorable(&x), "B1,B2,B3,B4");
    if (!fx_under_memory_tool())
        ck_assert_msg(grew_kib < 8 * 1024, "peak RSS grew %ld KiB for a %" PRIu64 "-byte "
                      "backup_manifest", grew_kib, g.produced);
    done(&x);
}
END_TEST

START_TEST(one_backup_checks_only_what_it_reads)
{
    fx_remove_wal(&fx, 1, 3);                   /* B1's problem, not B3's */
    fx_put_raw(&fx, "backup/BI/pg_data.tmp", "x");
    Run x;
    run(&x, "B3", NULL);
    ck_assert_uint_eq(x.plan.n_backups_checked, 1);
    ck_assert_uint_eq(x.plan.n_file_objs, 2);   /* SH, O3 */
    ck_assert_uint_eq(x.plan.n_objs, 2 + 2);    /* + timeline 2's segments 8 and 9 */
    ck_assert_uint_eq(x.r.n_problems, 0);
    ck_assert_uint_eq(x.r.n_reach, 1);
    done(&x);
}
END_TEST

Suite *suite_verify_check(void)
{
    Suite *s = suite_create("verify_check");
    TCase *tc = tcase_create("verify_check");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, clean_repository_has_no_problem);
    tcase_add_test(tc, damaged_shared_object_breaks_every_backup_using_it);
    tcase_add_test(tc, missing_private_object_breaks_one_backup);
    tcase_add_test(tc, damaged_segment_cuts_the_range_not_the_backup);
    tcase_add_test(tc, missing_start_segment_makes_the_backup_unrestorable);
    tcase_add_test(tc, hole_on_the_dead_timeline_only_cuts_that_timeline);
    tcase_add_test(tc, gap_no_backup_reads_is_a_note);
    tcase_add_test(tc, segment_of_another_cluster_is_damage);
    tcase_add_test(tc, missing_history_file_breaks_following_the_timeline);
    tcase_add_test(tc, bad_history_incomplete_and_corrupt_backups);
    tcase_add_test(tc, missing_postgresql_manifest_breaks_its_backup);
    tcase_add_test(tc, postgresql_manifest_sha256_or_crc32c);
    tcase_add_test(tc, one_backup_checks_only_what_it_reads);
    tcase_add_test(tc, tampered_postgresql_manifest_is_damaged);
    tcase_add_test(tc, undecodable_postgresql_manifest_names_the_decoder);
    suite_add_tcase(s, tc);
    TCase *big = tcase_create("big");   /* writes and reads a 20 MiB backup_manifest */
    tcase_add_checked_fixture(big, setup, teardown);
    tcase_set_timeout(big, 60);
    tcase_add_test(big, big_postgresql_manifest_is_streamed);
    suite_add_tcase(s, big);
    return s;
}
