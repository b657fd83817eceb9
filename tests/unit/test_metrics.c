/*
 * test_metrics.c - `pgpitr metrics` (src/cmd/metrics_*.c): the exposition text of the info
 * model on fabricated repositories (every family's HELP and TYPE exactly once, in the table's
 * order, samples after their TYPE; values that move with the repository; absent values
 * absent, not zero), label escaping, the .ready scan and the atomic textfile write.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_dir.h"
#include "fx_repo.h"
#include "pgpitr/cmd/info.h"
#include "pgpitr/cmd/metrics.h"
#include "pgpitr/repo/verify_summary.h"

#define SEG(n) ((uint64_t)(n) * FX_SEGSIZE)

/* The sample line "key value" (key: name with its labels); false when absent. */
static bool value_of(const char *text, const char *key, double *v)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
            *v = strtod(p + klen + 1, NULL);
            return true;
        }
    }
    return false;
}

static double must(const char *text, const char *key)
{
    double v = 0;
    ck_assert_msg(value_of(text, key, &v), "no sample %s in:\n%s", key, text);
    return v;
}

static void absent(const char *text, const char *key)
{
    double v;
    ck_assert_msg(!value_of(text, key, &v), "unexpected sample %s", key);
}

/* HELP and TYPE of every family once, in order; each sample belongs to the last TYPE. */
static void check_structure(const char *text)
{
    size_t fam = 0;
    const char *cur = NULL;
    char *copy = strdup(text), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (strncmp(l, "# HELP ", 7) == 0) {
            ck_assert_uint_lt(fam, metrics_families_len);
            cur = metrics_families[fam].name;
            ck_assert_msg(strncmp(l + 7, cur, strlen(cur)) == 0 && l[7 + strlen(cur)] == ' ',
                          "HELP out of order: %s (want %s)", l, cur);
            continue;
        }
        if (strncmp(l, "# TYPE ", 7) == 0) {
            char want[128];
            snprintf(want, sizeof want, "# TYPE %s %s", cur, metrics_families[fam].type);
            ck_assert_str_eq(l, want);
            fam++;
            continue;
        }
        ck_assert_ptr_nonnull(cur);
        size_t n = strlen(cur);
        ck_assert_msg(strncmp(l, cur, n) == 0 && (l[n] == ' ' || l[n] == '{'),
                      "sample %s outside its family %s", l, cur);
    }
    ck_assert_uint_eq(fam, metrics_families_len);
    free(copy);
}

static char *render(const MetricsInput *in)
{
    char *text = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(metrics_render(in, &text, &err), 0);
    check_structure(text);
    return text;
}
END_TEST

START_TEST(repository_unreadable)
{
    MetricsInput in = {.now = FX_T0, .up = false};
    char *t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_up"), 0);
    ck_assert_double_eq(must(t, "pgpitr_metrics_timestamp_seconds"), (double)FX_T0);
    absent(t, "pgpitr_archive_holes");
    absent(t, "pgpitr_pg_up");                  /* no --pg-conn: absent, not zero */
    absent(t, "pgpitr_archive_failures_total");
    absent(t, "pgpitr_archive_ready_files");
    free(t);
}
END_TEST

START_TEST(model_values)
{
    FxRepo fx;
    fx_repo_init(&fx, "metrics");
    for (uint64_t s = 1; s <= 6; s++)
        if (s != 4)
            fx_put_wal(&fx, 1, s, NULL, FX_T0 + (int64_t)s * 60, NULL);
    fx_save_backup(&fx, "a", 1, SEG(1) + 0x28, SEG(1) + 0x100, FX_T0 + 70, NULL);
    fx_save_backup(&fx, "b", 1, SEG(5) + 0x28, SEG(5) + 0x100, FX_T0 + 310, NULL);
    fx_put_raw(&fx, "backup/broken/x", "partial");
    Info info;
    PgpErr err = {0};
    int64_t now = FX_T0 + 3600;
    ck_assert_int_eq(info_load(fx.repo, fx.root, now, &info, &err), 0);
    ck_assert_int_eq(info_count_objects(fx.repo, &info, &err), 0);
    MetricsInput in = {.now = now, .up = true, .info = &info};
    char *t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_up"), 1);
    ck_assert_double_eq(must(t, "pgpitr_repository_bound"), 1);
    ck_assert_double_eq(must(t, "pgpitr_archive_holes"), 1);
    ck_assert_double_eq(must(t, "pgpitr_archive_segments{tli=\"1\"}"), 5);
    ck_assert_double_eq(must(t, "pgpitr_archive_last_archived_age_seconds"), 3600 - 360);
    ck_assert_double_eq(must(t, "pgpitr_backups{status=\"complete\"}"), 2);
    ck_assert_double_eq(must(t, "pgpitr_backups{status=\"incomplete\"}"), 1);
    ck_assert_double_eq(must(t, "pgpitr_backup_last_complete_age_seconds"), 3600 - 310);
    ck_assert_double_eq(must(t, "pgpitr_backup_last_complete_timestamp_seconds"),
                        (double)(FX_T0 + 310));
    const BackupManifest *m = catalog_newest_complete(&info.cat)->manifest;
    ck_assert_double_eq(must(t, "pgpitr_backup_last_duration_seconds"),
                        (double)(m->stop_time - m->start_time));
    ck_assert_double_eq(must(t, "pgpitr_recovery_window_earliest_timestamp_seconds{tli=\"1\"}"),
                        (double)(FX_T0 + 70));
    ck_assert_double_eq(must(t, "pgpitr_recovery_window_latest_timestamp_seconds{tli=\"1\"}"),
                        (double)(FX_T0 + 360));
    ck_assert_double_eq(must(t, "pgpitr_repository_objects{kind=\"wal\"}"), 5);
    absent(t, "pgpitr_drill_last_success");     /* no drill yet */
    absent(t, "pgpitr_rpo_objective_seconds");  /* not set */
    free(t);

    /* settings and a drill (as the drill-objectives work fills the model) */
    info.rpo_objective_s = 3600;
    info.drill_max_age_s = 86400 * 31;
    info.drill = (InfoDrill){.found = true, .status = "failed", .started_t = now - 100};
    t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_rpo_objective_seconds"), 3600);
    ck_assert_double_eq(must(t, "pgpitr_drill_max_age_seconds"), 86400 * 31);
    absent(t, "pgpitr_rto_objective_seconds");
    ck_assert_double_eq(must(t, "pgpitr_drill_last_success"), 0);
    ck_assert_double_eq(must(t, "pgpitr_drill_last_age_seconds"), 100);
    absent(t, "pgpitr_drill_last_rto_seconds");
    absent(t, "pgpitr_drill_last_objective_met{objective=\"rto\"}");
    free(t);
    info.drill = (InfoDrill){.found = true, .status = "passed", .started_t = now - 50,
                             .has_rto = true, .rto_s = 42.5, .has_objectives = true,
                             .obj_rto = {.set = true, .objective_s = 30, .measured = true,
                                         .measured_s = 42.5, .met = false},
                             .obj_rpo = {.set = true, .objective_s = 3600, .measured = true,
                                         .measured_s = 12, .met = true}};
    t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_drill_last_success"), 1);
    ck_assert_double_eq(must(t, "pgpitr_drill_last_rto_seconds"), 42.5);
    ck_assert_double_eq(must(t, "pgpitr_drill_last_archive_freshness_seconds"), 12);
    ck_assert_double_eq(must(t, "pgpitr_drill_last_objective_met{objective=\"rto\"}"), 0);
    ck_assert_double_eq(must(t, "pgpitr_drill_last_objective_met{objective=\"rpo\"}"), 1);
    free(t);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

static uint64_t stored_size(const FxRepo *fx, const char *path)
{
    char full[2 * REPO_PATH_MAX];
    snprintf(full, sizeof full, "%s/%s", fx->root, path);
    struct stat st;
    ck_assert_int_eq(stat(full, &st), 0);
    return (uint64_t)st.st_size;
}

START_TEST(backup_objects_are_what_objects_stores)
{
    FxRepo fx;
    fx_repo_init(&fx, "metrics-obj");
    char o1[REPO_PATH_MAX], o2[REPO_PATH_MAX];
    fx_put_object(&fx, "one", o1);
    fx_put_object(&fx, "two!", o2);
    const char *a[] = {o1, o2}, *b[] = {o1};
    fx_put_wal(&fx, 1, 1, NULL, FX_T0, NULL);
    fx_save_backup_objects(&fx, "a", 1, SEG(1) + 0x28, SEG(1) + 0x100, FX_T0, a, 2, NULL);
    fx_save_backup_objects(&fx, "b", 1, SEG(1) + 0x200, SEG(1) + 0x300, FX_T0 + 1, b, 1, NULL);
    Info info;
    PgpErr err = {0};
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 10, &info, &err), 0);
    ck_assert_int_eq(info_count_objects(fx.repo, &info, &err), 0);
    MetricsInput in = {.now = FX_T0 + 10, .up = true, .info = &info};
    char *t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_repository_objects{kind=\"backup\"}"), 2);
    ck_assert_double_eq(must(t, "pgpitr_repository_bytes{kind=\"backup\"}"),
                        (double)(stored_size(&fx, o1) + stored_size(&fx, o2)));
    free(t);
    info_free(&info);
    /* what objects/ stores: an object no backup references (expire's to remove) counts, a
     * temp file of an unfinished write does not */
    char o3[REPO_PATH_MAX], tmp[3 * REPO_PATH_MAX];
    fx_put_object(&fx, "orphan", o3);
    snprintf(tmp, sizeof tmp, "%s/%.*s/.tmp.x.1", fx.root, (int)(strrchr(o3, '/') - o3), o3);
    FILE *f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    fputs("partial", f);
    fclose(f);
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 10, &info, &err), 0);
    ck_assert_int_eq(info_count_objects(fx.repo, &info, &err), 0);
    t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_repository_objects{kind=\"backup\"}"), 3);
    free(t);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

START_TEST(database_host)
{
    MetricsInput in = {.now = 1000, .up = false};
    in.pg = (MetricsPg){.asked = true, .up = true, .archived_count = 7, .failed_count = 3,
                        .has_last_archived = true, .last_archived = 900,
                        .has_last_failed = true, .last_failed = 950, .failing = true};
    in.ready = (MetricsReady){.have = true, .files = 2, .bytes = 32};
    char *t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_pg_up"), 1);
    ck_assert_double_eq(must(t, "pgpitr_archive_failures_total"), 3);
    ck_assert_double_eq(must(t, "pgpitr_archive_archived_total"), 7);
    ck_assert_double_eq(must(t, "pgpitr_archive_last_failure_age_seconds"), 50);
    ck_assert_double_eq(must(t, "pgpitr_archive_failing"), 1);
    ck_assert_double_eq(must(t, "pgpitr_archive_ready_files"), 2);
    ck_assert_double_eq(must(t, "pgpitr_archive_ready_bytes"), 32);
    free(t);
    in.pg.last_archived = 960;                  /* a success after the failure */
    in.pg.failing = false;
    in.pg.up = false;                           /* ... but the server did not answer */
    t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_pg_up"), 0);
    absent(t, "pgpitr_archive_failing");
    absent(t, "pgpitr_archive_failures_total");
    free(t);
    in.pg.up = true;
    t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_archive_failing"), 0);
    free(t);
}
END_TEST

START_TEST(label_escape)
{
    char out[32];
    metrics_label_escape("a\"b\\c\nd\x01\xc3\xa9", out, sizeof out);
    ck_assert_str_eq(out, "a\\\"b\\\\c\\nd???");
    metrics_label_escape("\"\"\"\"", out, 6);   /* never cuts an escape in half */
    ck_assert_str_eq(out, "\\\"\\\"");
}
END_TEST

START_TEST(ready_scan)
{
    char d[256];
    fx_dir_make(d, sizeof d, "metrics-ready");
    MetricsReady r;
    PgpErr err = {0};
    ck_assert_int_eq(metrics_ready_scan(d, &r, &err), PGP_ERR_CONFIG);
    char sub[512];
    snprintf(sub, sizeof sub, "%s/pg_wal", d);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof sub, "%s/pg_wal/archive_status", d);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    fx_dir_put(d, "pg_wal/000000010000000000000001", "0123456789");
    fx_dir_put(d, "pg_wal/archive_status/000000010000000000000001.ready", "");
    fx_dir_put(d, "pg_wal/archive_status/000000010000000000000002.ready", "");  /* gone */
    fx_dir_put(d, "pg_wal/000000010000000000000003", "xyz");
    fx_dir_put(d, "pg_wal/archive_status/000000010000000000000003.done", "");
    ck_assert_int_eq(metrics_ready_scan(d, &r, &err), 0);
    ck_assert(r.have);
    ck_assert_uint_eq(r.files, 2);
    ck_assert_uint_eq(r.bytes, 10);
    fx_dir_remove(d);
}
END_TEST

START_TEST(textfile_atomic)
{
    char d[256], path[512];
    fx_dir_make(d, sizeof d, "metrics-textfile");
    PgpErr err = {0};
    ck_assert_int_eq(metrics_textfile_write(d, "pgpitr_up 1\n", &err), 0);
    snprintf(path, sizeof path, "%s/pgpitr.prom", d);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0644);
    ck_assert_int_eq(st.st_size, 12);
    ck_assert_int_eq(metrics_textfile_write(d, "pgpitr_up 0\n# x\n", &err), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 16);
    /* a failure (here the rename: a directory holds the name) leaves no temporary file */
    char d2[256], p2[512];
    fx_dir_make(d2, sizeof d2, "metrics-textfile2");
    snprintf(p2, sizeof p2, "%s/pgpitr.prom", d2);
    ck_assert_int_eq(mkdir(p2, 0700), 0);
    ck_assert_int_ne(metrics_textfile_write(d2, "pgpitr_up 1\n", &err), 0);
    ck_assert_int_eq(rmdir(p2), 0);
    ck_assert_int_eq(rmdir(d2), 0);                 /* empty: nothing left behind */
    snprintf(p2, sizeof p2, "%s/missing", d);
    ck_assert_int_ne(metrics_textfile_write(p2, "x\n", &err), 0);
    fx_dir_remove(d);
}
END_TEST

START_TEST(verify_summaries)
{
    FxRepo fx;
    fx_repo_init(&fx, "metrics-verify");
    VerifySummary v;
    PgpErr err = {0};
    ck_assert_int_eq(verify_summary_find_newest(fx.st, NULL, &v, &err), 0);   /* none yet */
    ck_assert(!v.found);
    for (int i = 0; i < VERIFY_SUMMARY_KEEP + 3; i++) {
        VerifySummary w = {.finished = FX_T0 + i, .objects = 100 + (uint64_t)i,
                           .errors = (uint64_t)i % 2};
        ck_assert_int_eq(verify_summary_store(fx.st, NULL, &w, &err), 0);
    }
    fx_put_raw(&fx, "verify/29991231T000000Z-00000000.json", "not json");   /* skipped */
    fx_put_raw(&fx, "verify/notes.txt", "x");                               /* not ours */
    ck_assert_int_eq(verify_summary_find_newest(fx.st, NULL, &v, &err), 0);
    ck_assert(v.found);
    ck_assert_int_eq(v.finished, FX_T0 + VERIFY_SUMMARY_KEEP + 2);
    ck_assert_uint_eq(v.objects, 100 + VERIFY_SUMMARY_KEEP + 2);
    ck_assert_uint_eq(v.errors, (VERIFY_SUMMARY_KEEP + 2) % 2);
    /* the oldest were removed: KEEP of ours are left (+ the bad one and notes.txt) */
    char dir[600];
    snprintf(dir, sizeof dir, "ls %s/verify | grep -c 'Z-' | grep -qx %d", fx.root,
             VERIFY_SUMMARY_KEEP + 1);
    ck_assert_int_eq(system(dir), 0);
    /* and the model and the metrics say it */
    Info info;
    fx_put_wal(&fx, 1, 1, NULL, FX_T0, NULL);
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 100, &info, &err), 0);
    ck_assert_int_eq(info_count_objects(fx.repo, &info, &err), 0);
    MetricsInput in = {.now = FX_T0 + 100, .up = true, .info = &info};
    char *t = render(&in);
    ck_assert_double_eq(must(t, "pgpitr_verify_last_errors"), (VERIFY_SUMMARY_KEEP + 2) % 2);
    ck_assert_double_eq(must(t, "pgpitr_verify_last_timestamp_seconds"),
                        (double)(FX_T0 + VERIFY_SUMMARY_KEEP + 2));
    free(t);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

START_TEST(verify_summary_parser)
{
    VerifySummary v;
    const char *ok = "{\"finished\": \"2026-11-22T03:00:00Z\", \"objects\": 5, \"errors\": 2}";
    ck_assert(verify_summary_parse(ok, strlen(ok), &v));
    ck_assert_int_eq(v.finished, FX_T0);
    ck_assert_uint_eq(v.errors, 2);
    const char *bad[] = {"", "[]", "{\"finished\": \"x\", \"objects\": 5, \"errors\": 2}",
                         "{\"finished\": \"2026-11-22T03:00:00Z\", \"objects\": 5, \"errors\": -1}",
                         "{\"finished\": \"2026-11-22T03:00:00Z\", \"errors\": 1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!verify_summary_parse(bad[i], strlen(bad[i]), &v), "accepted %s", bad[i]);
}
END_TEST

Suite *suite_metrics(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("render");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, repository_unreadable);
    tcase_add_test(tc, model_values);
    tcase_add_test(tc, backup_objects_are_what_objects_stores);
    tcase_add_test(tc, database_host);
    tcase_add_test(tc, label_escape);
    tcase_add_test(tc, verify_summaries);
    tcase_add_test(tc, verify_summary_parser);
    suite_add_tcase(s, tc);
    tc = tcase_create("host");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, ready_scan);
    tcase_add_test(tc, textfile_atomic);
    suite_add_tcase(s, tc);
    return s;
}
