/*
 * test_expire_plan.c - the expire plan (src/repo/expire_plan.c) and its execution
 * (src/repo/expire_remove.c) on a fabricated repository (fx_repo.h): which backups, objects,
 * incomplete directories and archived WAL files each policy removes, and that executing the
 * plan leaves exactly the expected repository, also after a crash half-way.
 *
 * The repository: 16 MiB segments, timeline 2 forked off timeline 1 at 0/6000000; the old
 * primary went on archiving timeline 1 and took one more backup there (B4).
 *   B1  tli 1  0/2000028 - 0/2000100  stop T0          objects SH B12 O1
 *   B2  tli 1  0/5000028 - 0/5000100  stop T0 + 3600   objects SH B12 B23 O2
 *   B4  tli 1  0/7000028 - 0/7000100  stop T0 + 5400   objects SH O4
 *   B3  tli 2  0/8000028 - 0/8000100  stop T0 + 7200   objects SH B23 O3
 *   ORPH: an object no backup references (left by an interrupted backup)
 *   incomplete: backup/I1/ (one file), backup/I2/ (a nested directory)
 *   WAL tli 1: segments 2..7 (T0 + 10000 + segno), 000000010000000000000006.partial,
 *              .backup files of B1, B2, B4
 *   WAL tli 2: segments 6..9 (T0 + 20000 + segno), .backup file of B3
 *   history: 00000002.history
 * Every complete backup directory also holds a backup_manifest file next to manifest.json.
 * Recovery leases (leases/) are added by the tests that need them.
 */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_repo.h"
#include "pgpitr/repo/expire_plan.h"
#include "pgpitr/pipe/pipe.h"

#define T0 FX_T0

static FxRepo fx;

/* the backup file objects by tag */
enum { O_SH, O_B12, O_B23, O_O1, O_O2, O_O3, O_O4, O_ORPH, N_OBJ };
static const char *obj_tag[N_OBJ] = {"SH", "B12", "B23", "O1", "O2", "O3", "O4", "ORPH"};
static char obj[N_OBJ][REPO_PATH_MAX];

static void put_walfile(const char *name, int64_t t)
{
    char hex[PIPE_SHA256_HEX_LEN + 1], path[REPO_PATH_MAX];
    uint8_t digest[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(name, strlen(name), digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    repo_archive_object_path(name, hex, PIPE_CODEC_NONE, path, NULL);
    fx_put_raw(&fx, path, "x");
    fx_set_mtime(&fx, path, t);
}

static void save(const char *label, uint32_t tli, uint64_t start, int64_t stop_time,
                 const int *tags, size_t n)
{
    const char *objects[8];
    for (size_t i = 0; i < n; i++)
        objects[i] = obj[tags[i]];
    fx_save_backup_objects(&fx, label, tli, start, start - 0x28 + 0x100, stop_time, objects, n,
                           NULL);
    char path[REPO_PATH_MAX];
    snprintf(path, sizeof path, "backup/%s/backup_manifest", label);
    fx_put_raw(&fx, path, "{}");
}

static void setup(void)
{
    fx_repo_init(&fx, "expire");
    for (int i = 0; i < N_OBJ; i++) {
        char content[32];
        snprintf(content, sizeof content, "content of %s", obj_tag[i]);
        fx_put_object(&fx, content, obj[i]);
    }
    save("B1", 1, 0x2000028, T0, (const int[]){O_SH, O_B12, O_O1}, 3);
    save("B2", 1, 0x5000028, T0 + 3600, (const int[]){O_SH, O_B12, O_B23, O_O2}, 4);
    save("B4", 1, 0x7000028, T0 + 5400, (const int[]){O_SH, O_O4}, 2);
    save("B3", 2, 0x8000028, T0 + 7200, (const int[]){O_SH, O_B23, O_O3}, 3);
    fx_put_raw(&fx, "backup/I1/pg_data.tmp", "partial");
    fx_put_raw(&fx, "backup/I2/base/1/1259", "partial");
    fx_put_history(&fx, 2, "1\t0/6000000\tbefore 2026-11-22 04:30:00+00\n");
    for (uint64_t s = 2; s <= 7; s++)
        fx_put_wal(&fx, 1, s, NULL, T0 + 10000 + (int64_t)s, NULL);
    for (uint64_t s = 6; s <= 9; s++)
        fx_put_wal(&fx, 2, s, NULL, T0 + 20000 + (int64_t)s, NULL);
    put_walfile("000000010000000000000006.partial", T0 + 20000);
    put_walfile("000000010000000000000002.00000028.backup", T0 + 10002);
    put_walfile("000000010000000000000005.00000028.backup", T0 + 10005);
    put_walfile("000000010000000000000007.00000028.backup", T0 + 10007);
    put_walfile("000000020000000000000008.00000028.backup", T0 + 20008);
}

static void teardown(void)
{
    fx_repo_free(&fx);
}

static void load(Catalog *c)
{
    PgpErr err = {0};
    int rc = catalog_load(fx.repo, CATALOG_LOAD_BACKUPS | CATALOG_LOAD_WAL, c, &err);
    ck_assert_msg(rc == 0, "catalog_load: %s", err.msg);
}

static void plan_ok(const Catalog *c, RetentionPolicy pol, int64_t now, ExpirePlan *p)
{
    PgpErr err = {0};
    int rc = expire_plan_build(fx.st, NULL, c, &pol, now, p, &err);
    ck_assert_msg(rc == 0, "expire_plan_build: %s", err.msg);
}

/* ---- the plan as sorted, comma-separated names ------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void join(const char **v, size_t n, char *out, size_t size)
{
    qsort(v, n, sizeof *v, cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i ? "," : "", v[i]);
    }
}

static const char *tag_of(const char *path)
{
    for (int i = 0; i < N_OBJ; i++)
        if (strcmp(path, obj[i]) == 0)
            return obj_tag[i];
    ck_abort_msg("object \"%s\" was never stored", path);
    return NULL;
}

typedef struct Names {
    char backups[256], kept[256], incomplete[256], objects[256], wal[2048];
} Names;

static void names(const ExpirePlan *p, Names *n)
{
    const char *v[64];
    size_t k = 0, nk = 0;
    const char *kv[64];
    for (size_t i = 0; i < p->n_backups; i++) {
        if (p->backups[i].d->keep)
            kv[nk++] = p->backups[i].b->label;
        else
            v[k++] = p->backups[i].b->label;
    }
    join(v, k, n->backups, sizeof n->backups);
    join(kv, nk, n->kept, sizeof n->kept);
    for (k = 0; k < p->n_incomplete; k++)
        v[k] = p->incomplete[k].label;
    join(v, k, n->incomplete, sizeof n->incomplete);
    ck_assert_uint_le(p->n_objects, 64);
    for (k = 0; k < p->n_objects; k++)
        v[k] = tag_of(p->objects[k].path);
    join(v, k, n->objects, sizeof n->objects);
    ck_assert_uint_le(p->n_wal, 64);
    for (k = 0; k < p->n_wal; k++) {
        /* history files are never in a plan */
        ck_assert_int_ne(p->wal[k]->kind, PG_WALFILE_HISTORY);
        ck_assert_ptr_null(strstr(p->wal[k]->path, "history"));
        v[k] = p->wal[k]->name;
    }
    join(v, k, n->wal, sizeof n->wal);
}

#define SEG1(s) "00000001000000000000000" #s
#define SEG2(s) "00000002000000000000000" #s

static const char *wal_path_of(const Catalog *c, const char *name)
{
    for (size_t i = 0; i < c->n_wal; i++)
        if (strcmp(c->wal[i].name, name) == 0)
            return c->wal[i].path;
    ck_abort_msg("%s not archived", name);
    return NULL;
}

/* ---- plans ------------------------------------------------------------------------------ */

START_TEST(full_1_keeps_only_the_newest)
{
    Catalog c;
    ExpirePlan p;
    Names n;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 1}, T0 + 86400, &p);
    names(&p, &n);
    ck_assert_str_eq(n.kept, "B3");
    ck_assert_str_eq(n.backups, "B1,B2,B4");
    ck_assert_uint_eq(expire_plan_removed_backups(&p), 3);
    ck_assert_str_eq(n.incomplete, "I1,I2");
    ck_assert_str_eq(n.objects, "B12,O1,O2,O4,ORPH");
    ck_assert_uint_eq(p.n_objects_kept, 3);   /* SH, B23, O3 */
    ck_assert(p.retention.has_cutoff);
    ck_assert_uint_eq(p.retention.wal_cutoff, 8);
    ck_assert_str_eq(n.wal, SEG1(2) "," SEG1(2) ".00000028.backup," SEG1(3) "," SEG1(4) ","
                     SEG1(5) "," SEG1(5) ".00000028.backup," SEG1(6) "," SEG1(6) ".partial,"
                     SEG1(7) "," SEG1(7) ".00000028.backup," SEG2(6) "," SEG2(7));
    ck_assert_uint_eq(p.n_wal_kept, 3);       /* tli 2: 8, 9 and B3's .backup file */
    ck_assert_str_eq(p.window_backup->label, "B3");
    ck_assert_str_eq(p.latest_wal->name, SEG2(9));
    /* sizes: every object is its content, every backup dir is manifest.json + "{}" */
    ck_assert_uint_eq(p.object_bytes, 3 * strlen("content of O1") + strlen("content of B12") +
                                          strlen("content of ORPH"));
    ck_assert_uint_eq(p.incomplete_bytes, 2 * strlen("partial"));
    ck_assert_uint_eq(p.wal_bytes, 12);
    ck_assert_uint_gt(p.backup_bytes, 3 * 2);
    ck_assert_uint_eq(expire_plan_bytes_freed(&p),
                      p.backup_bytes + p.incomplete_bytes + p.object_bytes + p.wal_bytes);
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

START_TEST(full_2_keeps_the_dead_timeline_backup)
{
    Catalog c;
    ExpirePlan p;
    Names n;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 2}, T0 + 86400, &p);
    names(&p, &n);
    ck_assert_str_eq(n.kept, "B3,B4");
    ck_assert_str_eq(n.backups, "B1,B2");
    ck_assert_str_eq(n.incomplete, "I1,I2");
    /* B23 stays: B3 still references it, though B2 goes */
    ck_assert_str_eq(n.objects, "B12,O1,O2,ORPH");
    ck_assert_uint_eq(p.n_objects_kept, 4);
    ck_assert_uint_eq(p.retention.wal_cutoff, 7);
    ck_assert_str_eq(n.wal, SEG1(2) "," SEG1(2) ".00000028.backup," SEG1(3) "," SEG1(4) ","
                     SEG1(5) "," SEG1(5) ".00000028.backup," SEG1(6) "," SEG1(6) ".partial,"
                     SEG2(6));
    ck_assert_str_eq(p.window_backup->label, "B4");
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

START_TEST(days_keeps_the_base_of_the_window)
{
    Catalog c;
    ExpirePlan p;
    Names n;
    load(&c);
    /* the window starts at T0 + 4000: B4 and B3 ended in it, B2 is its base */
    plan_ok(&c, (RetentionPolicy){.days = 1}, T0 + 86400 + 4000, &p);
    names(&p, &n);
    ck_assert_str_eq(n.kept, "B2,B3,B4");
    ck_assert_str_eq(n.backups, "B1");
    ck_assert_str_eq(n.objects, "O1,ORPH");
    ck_assert_uint_eq(p.retention.wal_cutoff, 5);
    ck_assert_str_eq(n.wal, SEG1(2) "," SEG1(2) ".00000028.backup," SEG1(3) "," SEG1(4));
    ck_assert_str_eq(p.window_backup->label, "B2");
    ck_assert_int_eq(p.retention.window_start_time, T0 + 3600);
    ck_assert_uint_eq(p.retention.window_start_lsn, 0x5000100);
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

START_TEST(keeping_everything_removes_only_leftovers)
{
    Catalog c;
    ExpirePlan p;
    Names n;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 10}, T0 + 86400, &p);
    names(&p, &n);
    ck_assert_str_eq(n.kept, "B1,B2,B3,B4");
    ck_assert_str_eq(n.backups, "");
    ck_assert_uint_eq(p.backup_bytes, 0);
    ck_assert_str_eq(n.incomplete, "I1,I2");
    ck_assert_str_eq(n.objects, "ORPH");
    ck_assert_uint_eq(p.retention.wal_cutoff, 2);
    ck_assert_str_eq(n.wal, "");
    ck_assert_uint_eq(p.n_wal_kept, 15);
    ck_assert_str_eq(p.window_backup->label, "B1");
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

START_TEST(latest_wal_is_one_that_stays)
{
    /* the old primary archived its timeline-1 segment 7 last; full=1 removes it, so the
     * window after expire ends at the newest segment that stays */
    Catalog c;
    ExpirePlan p;
    load(&c);
    fx_set_mtime(&fx, wal_path_of(&c, SEG1(7)), T0 + 30000);
    catalog_free(&c);
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 2}, T0 + 86400, &p);
    ck_assert_str_eq(p.latest_wal->name, SEG1(7));  /* kept (cut-off 7) and newest */
    expire_plan_free(&p);
    plan_ok(&c, (RetentionPolicy){.full = 1}, T0 + 86400, &p);
    ck_assert_str_eq(p.latest_wal->name, SEG2(9));
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

START_TEST(corrupt_manifest_refuses)
{
    fx_put_raw(&fx, "backup/BX/manifest.json", "{not json");
    Catalog c;
    ExpirePlan p;
    load(&c);
    RetentionPolicy pol = {.full = 1};
    PgpErr err = {0};
    ck_assert_int_eq(expire_plan_build(fx.st, NULL, &c, &pol, T0 + 86400, &p, &err),
                     PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"BX\""));
    ck_assert_ptr_nonnull(strstr(err.hint, "verify"));
    ck_assert_uint_eq(p.n_backups + p.n_objects + p.n_wal + p.n_incomplete, 0);
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

START_TEST(no_policy_refuses)
{
    Catalog c;
    ExpirePlan p;
    load(&c);
    RetentionPolicy pol = {0};
    PgpErr err = {0};
    ck_assert_int_eq(expire_plan_build(fx.st, NULL, &c, &pol, T0 + 86400, &p, &err), PGP_ERR_USAGE);
    catalog_free(&c);
}
END_TEST

/* ---- execution -------------------------------------------------------------------------- */

typedef struct Listing {
    char *v[128];
    size_t n;
} Listing;

static Listing *cur_listing;
static size_t root_len;

static int on_path(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (flag == FTW_F) {
        ck_assert_uint_lt(cur_listing->n, 128);
        cur_listing->v[cur_listing->n++] = strdup(p + root_len + 1);
    }
    return 0;
}

/* Every file of the repository, relative to its root, joined sorted. */
static void list_repo(char *out, size_t size)
{
    Listing l = {.n = 0};
    cur_listing = &l;
    root_len = strlen(fx.root);
    ck_assert_int_eq(nftw(fx.root, on_path, 16, FTW_PHYS), 0);
    join((const char **)l.v, l.n, out, size);
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
}

static void remove_from(char *listing, const char *path)
{
    size_t len = strlen(path);
    for (char *s = listing; (s = strstr(s, path)) != NULL; s++) {
        if ((s == listing || s[-1] == ',') && (s[len] == ',' || s[len] == '\0')) {
            memmove(s, s + len + (s[len] == ','), strlen(s + len + (s[len] == ',')) + 1);
            size_t n = strlen(listing);
            if (n > 0 && listing[n - 1] == ',')
                listing[n - 1] = '\0';
            return;
        }
    }
    ck_abort_msg("\"%s\" was not in the repository", path);
}

/* What full=2 must leave, computed from the listing before (not from the plan). */
static void expected_after_full_2(const Catalog *c, char *out, size_t size)
{
    list_repo(out, size);
    const char *gone[] = {"backup/B1/manifest.json", "backup/B1/backup_manifest",
                          "backup/B2/manifest.json", "backup/B2/backup_manifest",
                          "backup/I1/pg_data.tmp", "backup/I2/base/1/1259"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        remove_from(out, gone[i]);
    const int objs[] = {O_B12, O_O1, O_O2, O_ORPH};
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++)
        remove_from(out, obj[objs[i]]);
    const char *wal[] = {SEG1(2), SEG1(2) ".00000028.backup", SEG1(3), SEG1(4), SEG1(5),
                         SEG1(5) ".00000028.backup", SEG1(6), SEG1(6) ".partial", SEG2(6)};
    for (size_t i = 0; i < sizeof wal / sizeof wal[0]; i++)
        remove_from(out, wal_path_of(c, wal[i]));
}

/* What expire_plan_execute_progress told: the phases as they started, and the items done and
 * in all at the end of each, summed. */
typedef struct Told {
    char phases[64];
    size_t done, total;
} Told;

static void on_told(void *ud, const char *phase, size_t done, size_t total)
{
    Told *t = ud;
    if (done == 0) {
        strncat(t->phases, phase, sizeof t->phases - strlen(t->phases) - 2);
        strcat(t->phases, " ");
    }
    if (done == total) {
        t->done += done;
        t->total += total;
    }
}

static void execute(RetentionPolicy pol, size_t *n_removed)
{
    Catalog c;
    ExpirePlan p;
    load(&c);
    plan_ok(&c, pol, T0 + 86400, &p);
    *n_removed = p.retention.n_remove + p.n_incomplete + p.n_objects + p.n_wal;
    PgpErr err = {0};
    Told told = {0};
    const ExpireHooks hooks = {.progress = on_told, .ud = &told};
    int rc = expire_plan_execute_progress(fx.st, &p, &hooks, &err);
    ck_assert_msg(rc == 0, "expire_plan_execute: %s", err.msg);
    /* Every phase started at 0 and ended with all its items done, in removal order. */
    ck_assert_str_eq(told.phases, "backups objects WAL ");
    ck_assert_uint_eq(told.done, *n_removed);
    ck_assert_uint_eq(told.total, *n_removed);
    expire_plan_free(&p);
    catalog_free(&c);
}

/* After full=2: only B3 and B4, each with all its objects, and the history file. */
static void check_kept(void)
{
    Catalog c;
    load(&c);
    ck_assert_uint_eq(c.n_backups, 2);
    ck_assert_str_eq(c.backups[0].label, "B4");
    ck_assert_str_eq(c.backups[1].label, "B3");
    for (size_t i = 0; i < c.n_backups; i++) {
        ck_assert_int_eq(c.backups[i].status, CATALOG_BACKUP_COMPLETE);
        const BackupManifest *m = c.backups[i].manifest;
        for (size_t e = 0; e < m->n_entries; e++)
            ck_assert_msg(fx_exists(&fx, m->entries[e].object), "%s of %s is gone",
                          m->entries[e].object, c.backups[i].label);
    }
    ck_assert_uint_eq(c.n_histories, 1);
    ck_assert_uint_eq(c.n_wal, 6);
    catalog_free(&c);
    ck_assert(!fx_exists(&fx, "backup/B1"));
    ck_assert(!fx_exists(&fx, "backup/B2"));
    ck_assert(!fx_exists(&fx, "backup/I1"));
    ck_assert(!fx_exists(&fx, "backup/I2"));
}

START_TEST(execute_leaves_exactly_the_kept_repository)
{
    static char expected[16384], after[16384], again[16384];
    Catalog c;
    load(&c);
    expected_after_full_2(&c, expected, sizeof expected);
    catalog_free(&c);
    size_t removed;
    execute((RetentionPolicy){.full = 2}, &removed);
    ck_assert_uint_eq(removed, 2 + 2 + 4 + 9);
    list_repo(after, sizeof after);
    ck_assert_str_eq(after, expected);
    check_kept();
    /* a second run has nothing to do */
    execute((RetentionPolicy){.full = 2}, &removed);
    ck_assert_uint_eq(removed, 0);
    list_repo(again, sizeof again);
    ck_assert_str_eq(again, expected);
}
END_TEST

START_TEST(rerun_after_a_crash_finishes_the_job)
{
    static char expected[16384], after[16384];
    Catalog c;
    load(&c);
    expected_after_full_2(&c, expected, sizeof expected);
    catalog_free(&c);
    /* expire died right after removing the first expired backup's manifest.json */
    PgpErr err = {0};
    ck_assert_int_eq(storage_remove(fx.st, "backup/B1/manifest.json", &err), 0);
    ExpirePlan p;
    Names n;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 2}, T0 + 86400, &p);
    names(&p, &n);
    ck_assert_str_eq(n.backups, "B2");
    ck_assert_str_eq(n.incomplete, "B1,I1,I2");  /* B1 is now an incomplete directory */
    ck_assert_str_eq(n.objects, "B12,O1,O2,ORPH");
    ck_assert_uint_eq(p.retention.wal_cutoff, 7);
    ck_assert_int_eq(expire_plan_execute(fx.st, &p, &err), 0);
    expire_plan_free(&p);
    catalog_free(&c);
    list_repo(after, sizeof after);
    ck_assert_str_eq(after, expected);
    check_kept();
}
END_TEST

/* A guard that allows its first `allow` calls, then says the lock is gone. */
typedef struct Guard {
    int calls, allow;
} Guard;

static int guard_allowing(void *ud, PgpErr *err)
{
    Guard *g = ud;
    if (g->calls++ < g->allow)
        return 0;
    return PGP_FAIL(err, PGP_ERR_LOCKED, "lock taken away");
}

START_TEST(a_lost_lock_stops_removal_at_the_next_step)
{
    static char before[16384], after[16384];
    Catalog c;
    ExpirePlan p;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 2}, T0 + 86400, &p);
    list_repo(before, sizeof before);
    /* lost before anything: nothing is removed */
    Guard g = {.allow = 0};
    ExpireHooks hooks = {.guard = guard_allowing, .ud = &g};
    PgpErr err = {0};
    ck_assert_int_eq(expire_plan_execute_progress(fx.st, &p, &hooks, &err), PGP_ERR_LOCKED);
    ck_assert_msg(strstr(err.msg, "lock taken away") != NULL, "%s", err.msg);
    list_repo(after, sizeof after);
    ck_assert_str_eq(after, before);
    /* lost after the first expired backup: B1 is gone, B2 and every object are still there */
    g = (Guard){.allow = 1};
    pgp_err_clear(&err);
    ck_assert_int_eq(expire_plan_execute_progress(fx.st, &p, &hooks, &err), PGP_ERR_LOCKED);
    ck_assert_int_eq(g.calls, 2);
    ck_assert(!fx_exists(&fx, "backup/B1"));
    ck_assert(fx_exists(&fx, "backup/B2/manifest.json"));
    for (size_t i = 0; i < p.n_objects; i++)
        ck_assert_msg(fx_exists(&fx, p.objects[i].path), "%s removed", p.objects[i].path);
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

START_TEST(a_failed_removal_never_leaves_a_complete_damaged_backup)
{
    /* a file under backup/B1/base/ whose repository path is too long makes removing B1's
     * tree fail after "backup_manifest" (sorted before "base") is gone: by then manifest.json
     * must be gone too, so B1 is an incomplete directory, never a damaged complete backup */
    char full[600], name[251];
    memset(name, 'z', 250);
    name[250] = '\0';
    fx_put_raw(&fx, "backup/B1/base/1", "x");
    snprintf(full, sizeof full, "%s/backup/B1/base/%s", fx.root, name);
    int fd = open(full, O_CREAT | O_WRONLY, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);
    Catalog c;
    ExpirePlan p;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 2}, T0 + 86400, &p);
    PgpErr err = {0};
    ck_assert_int_ne(expire_plan_execute(fx.st, &p, &err), 0);
    expire_plan_free(&p);
    catalog_free(&c);
    ck_assert(!fx_exists(&fx, "backup/B1/backup_manifest"));
    ck_assert(!fx_exists(&fx, "backup/B1/manifest.json"));
    load(&c);
    ck_assert_str_eq(c.backups[0].label, "B1");
    ck_assert_int_eq(c.backups[0].status, CATALOG_BACKUP_INCOMPLETE);
    catalog_free(&c);
}
END_TEST

/* ---- recovery leases ----------------------------------------------------------------------- */

/* A lease of data directory dir at (tli, segno), renewed at `renewed`, for ttl seconds. */
static void put_lease(const char *dir, uint32_t tli, uint64_t segno, int64_t renewed, int64_t ttl)
{
    Lease l;
    memset(&l, 0, sizeof l);
    snprintf(l.host, sizeof l.host, "db1");
    snprintf(l.datadir, sizeof l.datadir, "%s", dir);
    l.system_identifier = FX_SYSID;
    lease_set_position(&l, tli, segno, FX_SEGSIZE);
    snprintf(l.created_by, sizeof l.created_by, "restore");
    l.since = renewed - 10;
    l.renewed = renewed;
    l.expires = renewed + ttl;
    PgpErr err = {0};
    ck_assert_msg(lease_write(fx.st, &l, &err) == 0, "%s", err.msg);
}

static const ExpireLease *lease_of(const ExpirePlan *p, const char *dir)
{
    for (size_t i = 0; i < p->n_leases; i++)
        if (p->leases[i].e.parsed && strcmp(p->leases[i].e.lease.datadir, dir) == 0)
            return &p->leases[i];
    ck_abort_msg("no lease of %s in the plan", dir);
    return NULL;
}

START_TEST(live_lease_lowers_the_cutoff_on_every_timeline)
{
    int64_t now = T0 + 86400;
    put_lease("/srv/live", 2, 5, now - 60, 3600);     /* tli 2, yet it holds tli 1 too */
    put_lease("/srv/gone", 1, 3, now - 7200, 3600);   /* expired an hour ago */
    put_lease("/srv/high", 2, 9, now - 60, 3600);     /* above the cut-off: changes nothing */
    Catalog c;
    ExpirePlan p;
    Names n;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 1}, now, &p);
    names(&p, &n);
    ck_assert_str_eq(n.backups, "B1,B2,B4");          /* leases keep WAL, never backups */
    ck_assert_uint_eq(p.retention.wal_cutoff, 8);
    ck_assert_uint_eq(expire_plan_wal_cutoff(&p), 5);
    ck_assert_str_eq(n.wal, SEG1(2) "," SEG1(2) ".00000028.backup," SEG1(3) "," SEG1(4));
    /* 5, its .backup, 6, 6.partial, 7, 7.backup on tli 1; 6 and 7 on tli 2 */
    ck_assert_uint_eq(p.n_wal_leased, 8);
    ck_assert_uint_eq(p.n_leases, 3);
    const ExpireLease *live = lease_of(&p, "/srv/live"), *gone = lease_of(&p, "/srv/gone"),
                      *high = lease_of(&p, "/srv/high");
    ck_assert(live->holds && !live->remove && live->e.state == LEASE_LIVE);
    ck_assert(!gone->holds && gone->remove && gone->e.state == LEASE_STALE);
    ck_assert(!high->holds && !high->remove);
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

/* The text plan names segments the way WAL file names do (hex), never as decimal numbers
 * beside hex names: segment 0x1A is "000000000000001A", not "26". */
START_TEST(plan_text_names_segments_in_hex)
{
    int64_t now = T0 + 86400;
    for (uint64_t s = 0xA; s <= 0x1B; s++)
        fx_put_wal(&fx, 2, s, NULL, T0 + 30000 + (int64_t)s, NULL);
    save("B5", 2, 0x1A000028, T0 + 30100, (const int[]){O_SH}, 1);
    put_lease("/srv/live", 2, 0x10, now - 60, 3600);
    Catalog c;
    ExpirePlan p;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 1}, now, &p);
    ck_assert_uint_eq(p.retention.wal_cutoff, 0x1A);
    ck_assert_uint_eq(expire_plan_wal_cutoff(&p), 0x10);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    PgpErr err = {0};
    ck_assert_int_eq(expire_plan_print_text(&p, &c, true, f, &err), 0);
    fclose(f);
    ck_assert_msg(strstr(text, "before 000000020000000000000010 (segment 0000000000000010 on "
                               "every timeline)") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "lower the cut-off from segment 000000000000001A:") != NULL, "%s",
                  text);
    ck_assert_msg(strstr(text, " 26") == NULL && strstr(text, "segment 16") == NULL, "%s", text);
    free(text);
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

START_TEST(unreadable_lease_holds_all_wal_for_a_day)
{
    int64_t now = T0 + 86400;
    fx_put_raw(&fx, "leases/recovery-x-0000000000000000.json", "{\"format\": 1}");
    fx_set_mtime(&fx, "leases/recovery-x-0000000000000000.json", now - 3600);
    Catalog c;
    ExpirePlan p;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 1}, now, &p);
    ck_assert_uint_eq(p.n_wal, 0);
    ck_assert_uint_eq(expire_plan_wal_cutoff(&p), 0);
    ck_assert_uint_eq(p.n_leases, 1);
    ck_assert_int_eq(p.leases[0].e.state, LEASE_UNREADABLE);
    ck_assert(p.leases[0].holds && !p.leases[0].remove);
    expire_plan_free(&p);
    /* unchanged for more than a day: stale, ignored, removed */
    plan_ok(&c, (RetentionPolicy){.full = 1}, now + 86400, &p);
    ck_assert_uint_eq(p.n_wal, 12);
    ck_assert(p.leases[0].remove && !p.leases[0].holds);
    PgpErr err = {0};
    ck_assert_int_eq(expire_plan_execute(fx.st, &p, &err), 0);
    ck_assert(!fx_exists(&fx, "leases/recovery-x-0000000000000000.json"));
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

START_TEST(execute_removes_stale_leases_unless_renewed_meanwhile)
{
    int64_t now = T0 + 86400;
    put_lease("/srv/live", 2, 5, now - 60, 3600);
    put_lease("/srv/gone", 1, 3, now - 7200, 3600);
    put_lease("/srv/back", 1, 3, now - 7200, 3600);
    char live[REPO_PATH_MAX], gone[REPO_PATH_MAX], back[REPO_PATH_MAX];
    ck_assert_int_eq(lease_path("db1", "/srv/live", live, NULL), 0);
    ck_assert_int_eq(lease_path("db1", "/srv/gone", gone, NULL), 0);
    ck_assert_int_eq(lease_path("db1", "/srv/back", back, NULL), 0);
    Catalog c;
    ExpirePlan p;
    load(&c);
    plan_ok(&c, (RetentionPolicy){.full = 1}, now, &p);
    /* between planning and removal, /srv/back's recovery renews its lease */
    put_lease("/srv/back", 1, 4, now, 3600);
    PgpErr err = {0};
    ck_assert_int_eq(expire_plan_execute(fx.st, &p, &err), 0);
    ck_assert(fx_exists(&fx, live));
    ck_assert(!fx_exists(&fx, gone));
    ck_assert(fx_exists(&fx, back));
    ck_assert(fx_exists(&fx, wal_path_of(&c, SEG1(5))));
    ck_assert(fx_exists(&fx, wal_path_of(&c, SEG2(6))));
    ck_assert(!fx_exists(&fx, wal_path_of(&c, SEG1(4))));
    expire_plan_free(&p);
    catalog_free(&c);
}
END_TEST

Suite *suite_expire_plan(void)
{
    Suite *s = suite_create("expire_plan");
    TCase *tc = tcase_create("expire_plan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, full_1_keeps_only_the_newest);
    tcase_add_test(tc, full_2_keeps_the_dead_timeline_backup);
    tcase_add_test(tc, days_keeps_the_base_of_the_window);
    tcase_add_test(tc, keeping_everything_removes_only_leftovers);
    tcase_add_test(tc, latest_wal_is_one_that_stays);
    tcase_add_test(tc, corrupt_manifest_refuses);
    tcase_add_test(tc, no_policy_refuses);
    tcase_add_test(tc, execute_leaves_exactly_the_kept_repository);
    tcase_add_test(tc, rerun_after_a_crash_finishes_the_job);
    tcase_add_test(tc, a_failed_removal_never_leaves_a_complete_damaged_backup);
    tcase_add_test(tc, a_lost_lock_stops_removal_at_the_next_step);
    tcase_add_test(tc, live_lease_lowers_the_cutoff_on_every_timeline);
    tcase_add_test(tc, plan_text_names_segments_in_hex);
    tcase_add_test(tc, unreadable_lease_holds_all_wal_for_a_day);
    tcase_add_test(tc, execute_removes_stale_leases_unless_renewed_meanwhile);
    suite_add_tcase(s, tc);
    return s;
}
