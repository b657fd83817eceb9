/*
 * test_info.c - `pgpitr info` (src/cmd/info_*.c): the formatting helpers (sizes, durations,
 * ages, wrapping at 80 columns) and the model on fabricated repositories (gaps, recoverable
 * windows cut by a gap, restorability of backups, freshness, the latest drill report, which
 * incomplete backup a live lock holder is writing), with its text (no line over 80 columns)
 * and JSON forms.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>
#include <unistd.h>

#include "fx_repo.h"
#include "pgpitr/cmd/info.h"
#include "pgpitr/common/proc.h"

#define SEG(n) ((uint64_t)(n) * FX_SEGSIZE)

START_TEST(sizes)
{
    char b[INFO_SIZE_MAX];
    info_format_size(0, b);
    ck_assert_str_eq(b, "0 B");
    info_format_size(1023, b);
    ck_assert_str_eq(b, "1023 B");
    info_format_size(1024, b);
    ck_assert_str_eq(b, "1.0 KiB");
    info_format_size(1536, b);
    ck_assert_str_eq(b, "1.5 KiB");
    info_format_size(UINT64_C(1048575), b);     /* would round to "1024.0 KiB" */
    ck_assert_str_eq(b, "1.0 MiB");
    info_format_size(UINT64_C(16) << 20, b);
    ck_assert_str_eq(b, "16.0 MiB");
    info_format_size((UINT64_C(5) << 30) / 2, b);
    ck_assert_str_eq(b, "2.5 GiB");
    info_format_size(UINT64_MAX, b);
    ck_assert_str_eq(b, "16.0 EiB");
}
END_TEST

START_TEST(durations_and_ages)
{
    char d[INFO_DURATION_MAX], a[INFO_DURATION_MAX + 16];
    static const struct { int64_t s; const char *want; } cases[] = {
        {0, "0s"}, {59, "59s"}, {60, "1m 00s"}, {65, "1m 05s"}, {3599, "59m 59s"},
        {3600, "1h 00m"}, {7380, "2h 03m"}, {86399, "23h 59m"}, {86400, "1d 00h"},
        {273600, "3d 04h"}, {-1, "-"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        info_format_duration(cases[i].s, d);
        ck_assert_str_eq(d, cases[i].want);
    }
    info_format_age(1000, 1000, a);
    ck_assert_str_eq(a, "just now");
    info_format_age(1302, 1000, a);
    ck_assert_str_eq(a, "5m 02s ago");
    info_format_age(1000, 1012, a);
    ck_assert_str_eq(a, "12s in the future");
}
END_TEST

/* Prints through info_print_wrapped into memory. */
static char *wrapped(size_t width, size_t indent, const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    info_print_wrapped(f, width, indent, text);
    fclose(f);
    return buf;
}

static size_t longest_line(const char *text)
{
    size_t best = 0;
    while (*text != '\0') {
        size_t n = strcspn(text, "\n");
        if (n > best)
            best = n;
        text += n + (text[n] == '\n');
    }
    return best;
}

START_TEST(wrapping)
{
    char *s = wrapped(80, 4, "  short line:  kept as is");
    ck_assert_str_eq(s, "  short line:  kept as is\n");    /* alignment spaces survive */
    free(s);
    s = wrapped(20, 4, "  one two three four five six seven");
    ck_assert_str_eq(s, "  one two three four\n    five six seven\n");
    free(s);
    /* a word longer than a line is cut, never printed past the width */
    s = wrapped(20, 4, "  x 0123456789012345678901234567890123456789 y");
    ck_assert_str_eq(s, "  x\n    0123456789012345\n    6789012345678901\n    23456789 y\n");
    ck_assert_uint_le(longest_line(s), 20);
    free(s);
    /* exactly the width fits */
    s = wrapped(10, 2, "0123456789");
    ck_assert_str_eq(s, "0123456789\n");
    free(s);
}
END_TEST

/* ---- the model on a fabricated repository ------------------------------------------------ */

static void put_drill(FxRepo *fx, const char *id, const char *json)
{
    char path[REPO_PATH_MAX];
    PgpErr err = {0};
    snprintf(path, sizeof path, "drill/%s.json", id);
    ck_assert_int_eq(storage_put_all(fx->st, path, 0, json, strlen(json), &err), 0);
}

/*
 * Timeline 1: segments 1-3, a hole at 4, 5-6. Backup "a" (segment 1) before the hole, "b"
 * (segment 5) after it, "c" (starts in the missing segment 4) never restorable.
 */
static void gap_repo(FxRepo *fx)
{
    fx_repo_init(fx, "info");
    for (uint64_t s = 1; s <= 6; s++)
        if (s != 4)
            fx_put_wal(fx, 1, s, NULL, FX_T0 + (int64_t)s * 60, NULL);
    fx_save_backup(fx, "a", 1, SEG(1) + 0x28, SEG(1) + 0x100, FX_T0 + 70, NULL);
    fx_save_backup(fx, "c", 1, SEG(4) + 0x28, SEG(4) + 0x100, FX_T0 + 250, NULL);
    fx_save_backup(fx, "b", 1, SEG(5) + 0x28, SEG(5) + 0x100, FX_T0 + 310, NULL);
}

static char *text_of(const Info *info)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    info_print_text(info, f);
    fclose(f);
    return buf;
}

START_TEST(windows_cut_by_a_gap)
{
    FxRepo fx;
    gap_repo(&fx);
    Info info;
    PgpErr err = {0};
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 3600, &info, &err), 0);
    ck_assert(info.cat.bound);
    ck_assert_uint_eq(info.n_gaps, 1);
    ck_assert_uint_eq(info.gaps[0].from_segno, 4);
    ck_assert_uint_eq(info.gaps[0].to_segno, 4);
    ck_assert_uint_eq(info.n_tls, 1);
    ck_assert_uint_eq(info.tls[0].first_segno, 1);
    ck_assert_uint_eq(info.tls[0].last_segno, 6);
    ck_assert_uint_eq(info.tls[0].n_gaps, 1);

    /* two windows: a's is cut at 4 and the archive resumes at 5; b's goes on to 6 */
    ck_assert_uint_eq(info.n_windows, 2);
    ck_assert_str_eq(info.windows[0].from->label, "a");
    ck_assert(info.windows[0].cut);
    ck_assert_uint_eq(info.windows[0].reach.end_segno, 3);
    ck_assert_uint_eq(info.windows[0].reach.missing_segno, 4);
    ck_assert(info.windows[0].has_resume);
    ck_assert_uint_eq(info.windows[0].resume_segno, 5);
    ck_assert_str_eq(info.windows[1].from->label, "b");
    ck_assert(!info.windows[1].cut);
    ck_assert_uint_eq(info.windows[1].reach.end_segno, 6);
    ck_assert_uint_eq(info.windows[1].reach.latest_lsn, SEG(7));

    /* backups ascending by stop time: a, c, b; c needs the missing segment */
    ck_assert_str_eq(info.cat.backups[1].label, "c");
    ck_assert(info.backups[0].restorable);
    ck_assert(!info.backups[1].restorable);
    ck_assert_uint_eq(info.backups[1].missing_segno, 4);
    ck_assert(info.backups[2].restorable);

    ck_assert_ptr_nonnull(info.newest);
    ck_assert_str_eq(info.newest->name, "000000010000000000000006");
    ck_assert(!info.drill.found);

    char *t = text_of(&info);
    ck_assert_uint_le(longest_line(t), INFO_WIDTH);
    ck_assert_ptr_nonnull(strstr(t, "GAP: 000000010000000000000004..000000010000000000000004"));
    ck_assert_ptr_nonnull(strstr(t, "CUT: segment 000000010000000000000004 is missing"));
    ck_assert_ptr_nonnull(strstr(t, "resumes at 000000010000000000000005"));
    ck_assert_ptr_nonnull(strstr(t, "c: complete"));
    ck_assert_ptr_nonnull(strstr(t, "NOT RESTORABLE"));
    ck_assert_ptr_nonnull(strstr(t, "000000010000000000000006\n    archived "
                                    "2026-11-22T03:06:00Z (54m 00s ago)"));
    free(t);

    char *js = NULL;
    ck_assert_int_eq(info_to_json(&info, &js, &err), 0);
    json_t *j = json_loads(js, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *w0 = json_array_get(json_object_get(j, "recovery_windows"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(w0, "missing_segment")),
                     "000000010000000000000004");
    ck_assert_str_eq(json_string_value(json_object_get(w0, "last_segment")),
                     "000000010000000000000003");
    ck_assert(json_is_true(json_object_get(w0, "cut")));
    json_t *tl = json_array_get(json_object_get(json_object_get(j, "archive"), "timelines"), 0);
    json_t *g0 = json_array_get(json_object_get(tl, "gaps"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(g0, "from")), "000000010000000000000004");
    ck_assert_int_eq(json_integer_value(json_object_get(g0, "missing_segments")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(tl, "segments")), 5);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "cluster"),
                                                       "system_identifier")),
                     "7300000000000000001");
    json_decref(j);
    free(js);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

/* Timeline 2 forks off 1 in segment 3 (its history file is archived); timeline 3 has a
 * segment but no history file. One backup on timeline 1 reaches both 1 and 2. */
START_TEST(timelines)
{
    FxRepo fx;
    fx_repo_init(&fx, "info-tli");
    for (uint64_t s = 1; s <= 3; s++)
        fx_put_wal(&fx, 1, s, NULL, FX_T0 + (int64_t)s, NULL);
    for (uint64_t s = 3; s <= 5; s++)
        fx_put_wal(&fx, 2, s, NULL, FX_T0 + 10 + (int64_t)s, NULL);
    fx_put_wal(&fx, 3, 9, NULL, FX_T0 + 100, NULL);
    fx_put_history(&fx, 2, "1\t0/3000158\tno recovery target specified\n");
    fx_save_backup(&fx, "a", 1, SEG(1) + 0x28, SEG(1) + 0x100, FX_T0 + 5, NULL);
    Info info;
    PgpErr err = {0};
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 200, &info, &err), 0);
    ck_assert_uint_eq(info.n_tls, 3);
    ck_assert_uint_eq(info.n_gaps, 0);
    /* timeline 1: segments 1-3, nothing of timeline 1 after them: not cut */
    ck_assert_uint_eq(info.tls[0].n_windows, 1);
    const InfoWindow *w = &info.windows[info.tls[0].first_window];
    ck_assert_uint_eq(w->reach.end_segno, 3);
    ck_assert(!w->cut);
    /* timeline 2: 1-2 from timeline 1, then 3-5 from timeline 2 */
    ck_assert_uint_eq(info.tls[1].n_windows, 1);
    w = &info.windows[info.tls[1].first_window];
    ck_assert_uint_eq(w->tli, 2);
    ck_assert_uint_eq(w->reach.end_segno, 5);
    ck_assert_int_eq(w->reach.latest_time, FX_T0 + 15);
    /* timeline 3: no history, not reachable from the backup */
    ck_assert_uint_eq(info.tls[2].n_windows, 0);
    ck_assert_str_eq(info.newest->name, "000000030000000000000009");
    char *t = text_of(&info);
    ck_assert_uint_le(longest_line(t), INFO_WIDTH);
    ck_assert_ptr_nonnull(strstr(t, "timeline 2: history 1 -> 2 at 0/3000158"));
    ck_assert_ptr_nonnull(strstr(t, "timeline 3: history file MISSING"));
    ck_assert_ptr_nonnull(strstr(t, "timeline 3: NOTHING recoverable"));
    ck_assert_ptr_nonnull(strstr(t, "(end of 000000020000000000000005;"));
    free(t);
    char *js = NULL;
    ck_assert_int_eq(info_to_json(&info, &js, &err), 0);
    json_t *j = json_loads(js, 0, NULL);
    json_t *tls = json_object_get(json_object_get(j, "archive"), "timelines");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tls, 0), "history")),
                     "not_needed");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tls, 1), "history")),
                     "found");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(tls, 2), "history")),
                     "missing");
    json_decref(j);
    free(js);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

/* Timeline 2, a promoted copy, forked off 1 in segment 3 and archived its history file and
 * one segment; production went on on timeline 1 and archived segment 6 after them. */
START_TEST(production_timeline)
{
    FxRepo fx;
    fx_repo_init(&fx, "info-prod");
    for (uint64_t s = 1; s <= 5; s++)
        fx_put_wal(&fx, 1, s, NULL, FX_T0 + (int64_t)s, NULL);
    fx_put_history_at(&fx, 2, "1\t0/3000158\tbefore 2026-11-22 03:00:02+00\n", FX_T0 + 20);
    fx_put_wal(&fx, 2, 3, NULL, FX_T0 + 21, NULL);
    fx_put_wal(&fx, 1, 6, NULL, FX_T0 + 60, NULL);
    fx_save_backup(&fx, "a", 1, SEG(1) + 0x28, SEG(1) + 0x100, FX_T0 + 1, NULL);
    Info info;
    PgpErr err = {0};
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 120, &info, &err), 0);
    ck_assert(info.production.known);
    ck_assert_uint_eq(info.production.tli, 1);
    ck_assert_uint_eq(info.production.latest, 2);
    ck_assert_uint_eq(info.tls[1].act->parent, 1);
    char *t = text_of(&info);
    ck_assert_uint_le(longest_line(t), INFO_WIDTH);
    ck_assert_ptr_nonnull(strstr(t, "  production's timeline: 1 (the most recently archived WAL)\n"
                                    "  WARNING: timeline 2 has the highest history file"));
    ck_assert_ptr_nonnull(strstr(t, "a restore without --target-timeline 1 follows\n    "
                                    "timeline 2\n"));
    ck_assert_ptr_nonnull(strstr(t, "  timeline 1\n    last archived 2026-11-22T03:01:00Z (1m 00s "
                                    "ago): production's timeline\n"));
    ck_assert_ptr_nonnull(strstr(t, "  timeline 2: history 1 -> 2 at 0/3000158\n    forked off "
                                    "timeline 1 at 0/3000158\n    last archived "
                                    "2026-11-22T03:00:21Z (1m 39s ago)\n"));
    free(t);
    char *js = NULL;
    ck_assert_int_eq(info_to_json(&info, &js, &err), 0);
    json_t *j = json_loads(js, 0, NULL);
    json_t *a = json_object_get(j, "archive");
    json_t *prod = json_object_get(a, "production");
    ck_assert_int_eq(json_integer_value(json_object_get(prod, "timeline")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(prod, "latest_timeline")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(prod, "last_object")),
                     "000000010000000000000006");
    ck_assert(json_is_false(json_object_get(prod, "ambiguous")));
    json_t *warnings = json_object_get(prod, "warnings");
    ck_assert_uint_eq(json_array_size(warnings), 1);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_array_get(warnings, 0)),
                                 "timeline 2 has the highest history file"));
    json_t *tls = json_object_get(a, "timelines");
    ck_assert(json_is_true(json_object_get(json_array_get(tls, 0), "production")));
    ck_assert(json_is_null(json_object_get(json_array_get(tls, 0), "parent")));
    json_t *t2 = json_array_get(tls, 1);
    ck_assert(json_is_false(json_object_get(t2, "production")));
    ck_assert_int_eq(json_integer_value(json_object_get(t2, "parent")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(t2, "fork_lsn")), "0/3000158");
    ck_assert_str_eq(json_string_value(json_object_get(t2, "last_archived")),
                     "2026-11-22T03:00:21Z");
    json_decref(j);
    free(js);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

START_TEST(latest_drill)
{
    FxRepo fx;
    gap_repo(&fx);
    put_drill(&fx, "20261120T040000Z-0001",
              "{\"status\": \"failed\", \"phases\": {\"total_s\": 9.5}}");
    put_drill(&fx, "20261121T040000Z-0002",
              "{\"status\": \"passed\", \"started\": \"2026-11-21T04:00:00Z\", \"finished\": "
              "\"2026-11-21T04:01:00Z\", \"phases\": {\"total_s\": 42.25}}");
    put_drill(&fx, "20261122T040000Z-0003", "{ not json");   /* newest: skipped */
    Info info;
    PgpErr err = {0};
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 3600, &info, &err), 0);
    ck_assert(info.drill.found);
    ck_assert_str_eq(info.drill.id, "20261121T040000Z-0002");
    ck_assert_str_eq(info.drill.status, "passed");
    ck_assert(info.drill.has_rto);
    ck_assert(info.drill.rto_s > 42.2 && info.drill.rto_s < 42.3);
    ck_assert_int_eq(info.drill.started_t, FX_T0 - 86400 + 3600);
    char *t = text_of(&info);
    ck_assert_ptr_nonnull(strstr(t, "20261121T040000Z-0002: PASSED (started 1d 00h ago)"));
    ck_assert_ptr_nonnull(strstr(t, "measured RTO 42.2 s"));
    free(t);
    info_free(&info);

    /* a failed drill has no RTO */
    put_drill(&fx, "20261122T050000Z-0004", "{\"status\": \"failed\", \"phases\": "
              "{\"total_s\": 3}}");
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 3600, &info, &err), 0);
    ck_assert_str_eq(info.drill.id, "20261122T050000Z-0004");
    ck_assert(!info.drill.has_rto);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

static json_t *info_json_of(const Info *info)
{
    char *js = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(info_to_json(info, &js, &err), 0);
    json_t *j = json_loads(js, 0, NULL);
    ck_assert_ptr_nonnull(j);
    free(js);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "schema_version")), 2);
    return j;
}

static json_t *objective_at(json_t *j, const char *which, const char *field)
{
    json_t *v = json_object_get(json_object_get(json_object_get(j, "objectives"), which), field);
    ck_assert_msg(v != NULL, "objectives.%s.%s is missing", which, field);
    return v;
}

/* The objectives judged now against the settings: archive freshness (newest segment 6 at
 * FX_T0 + 360, info at FX_T0 + 3600: 54 min) and the newest drill's measured recovery time,
 * also when that drill failed on its rto-objective (its objectives section measured it). */
START_TEST(objectives)
{
    FxRepo fx;
    gap_repo(&fx);
    Info info;
    PgpErr err = {0};
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 3600, &info, &err), 0);
    char *t = text_of(&info);
    ck_assert_ptr_null(strstr(t, "OBJECTIVES"));            /* none set: no section */
    free(t);
    json_t *j = info_json_of(&info);
    ck_assert(json_is_null(objective_at(j, "rpo", "objective_s")));
    ck_assert(json_real_value(objective_at(j, "rpo", "measured_s")) == 3240);
    ck_assert(json_is_null(objective_at(j, "rpo", "met")));
    ck_assert(json_is_null(objective_at(j, "rto", "measured_s")));
    ck_assert(json_is_null(objective_at(j, "rto", "drill")));
    json_decref(j);
    info.rpo_objective_s = 3600;
    info.rto_objective_s = 60;
    t = text_of(&info);
    ck_assert_msg(strstr(t, "\nOBJECTIVES\n  RPO 1h 00m: archive freshness 54m 00s, met\n"
                            "  RTO 1m 00s: no drill measured it (run pgpitr drill)\n"), "%s", t);
    free(t);
    info_free(&info);

    put_drill(&fx, "20261121T040000Z-0002", "{\"status\": \"failed\", \"phases\": "
              "{\"total_s\": 90}, \"objectives\": {\"rto\": {\"objective_s\": 60, "
              "\"measured_s\": 90, \"met\": false}, \"rpo\": {\"objective_s\": null, "
              "\"measured_s\": 30, \"met\": null}}}");
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 3600, &info, &err), 0);
    ck_assert(info.drill.has_objectives && !info.drill.has_rto);
    ck_assert(info.drill.obj_rto.set && info.drill.obj_rto.measured_s == 90);
    ck_assert(!info.drill.obj_rto.met);
    ck_assert(!info.drill.obj_rpo.set && info.drill.obj_rpo.measured_s == 30);
    info.rpo_objective_s = 1800;
    info.rto_objective_s = 60;
    t = text_of(&info);
    ck_assert_msg(strstr(t, "  RPO 30m 00s: archive freshness 54m 00s, NOT MET\n"
                            "  RTO 1m 00s: newest drill 90.0 s (20261121T040000Z-0002), NOT "
                            "MET\n"), "%s", t);
    free(t);
    j = info_json_of(&info);
    ck_assert_int_eq(json_integer_value(objective_at(j, "rto", "objective_s")), 60);
    ck_assert(json_real_value(objective_at(j, "rto", "measured_s")) == 90);
    ck_assert(json_is_false(objective_at(j, "rto", "met")));
    ck_assert_str_eq(json_string_value(objective_at(j, "rto", "drill")), "20261121T040000Z-0002");
    ck_assert(json_is_false(objective_at(j, "rpo", "met")));
    json_decref(j);
    info.rto_objective_s = 120;                 /* judged against the setting now */
    j = info_json_of(&info);
    ck_assert(json_is_true(objective_at(j, "rto", "met")));
    json_decref(j);
    info_free(&info);

    /* A report of schema version 1 (no section): a passed drill's total is its RTO; one that
     * did not measure it says so. */
    put_drill(&fx, "20261122T040000Z-0003", "{\"status\": \"passed\", \"phases\": "
              "{\"total_s\": 42.5}}");
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 3600, &info, &err), 0);
    ck_assert(!info.drill.has_objectives);
    info.rto_objective_s = 60;
    t = text_of(&info);
    ck_assert_ptr_nonnull(strstr(t, "  RTO 1m 00s: newest drill 42.5 s (20261122T040000Z-0003), "
                                    "met\n"));
    ck_assert_ptr_null(strstr(t, "RPO"));
    free(t);
    info_free(&info);
    put_drill(&fx, "20261123T040000Z-0004", "{\"status\": \"failed\", \"objectives\": "
              "{\"rto\": {\"objective_s\": 60, \"measured_s\": null, \"met\": false}}}");
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 3600, &info, &err), 0);
    info.rto_objective_s = 60;
    t = text_of(&info);
    ck_assert_ptr_nonnull(strstr(t, "  RTO 1m 00s: the newest drill (20261123T040000Z-0004) did "
                                    "not measure it\n"));
    free(t);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

/* A backup holder object of this process (alive) or of a reused pid (dead). */
static void put_lock(FxRepo *fx, const char *name, bool alive, const char *label, int64_t since)
{
    char host[PROC_HOST_MAX], boot[PROC_BOOT_ID_LEN + 1], t[32], path[REPO_PATH_MAX];
    uint64_t start = 0;
    PgpErr err = {0};
    ck_assert_int_eq(proc_hostname(host, &err), 0);
    ck_assert_int_eq(proc_boot_id(boot, &err), 0);
    ck_assert_int_eq(proc_start_time(getpid(), &start, NULL, &err), 0);
    catalog_format_time(since, t);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s}", "kind", "backup",
                          "command", "backup", "pid", (json_int_t)getpid(), "host", host,
                          "boot_id", boot, "proc_start", (json_int_t)(alive ? start : start + 1),
                          "since", t, "heartbeat", t);
    if (label != NULL)
        json_object_set_new(j, "label", json_string(label));
    char *text = json_dumps(j, 0);
    json_decref(j);
    snprintf(path, sizeof path, "locks/%s", name);
    ck_assert_int_eq(storage_put_all(fx->st, path, STORAGE_WRITE_REPLACE, text, strlen(text),
                                     &err), 0);
    free(text);
}

static void put_incomplete(FxRepo *fx, const char *label, int64_t mtime)
{
    char path[REPO_PATH_MAX + 32], dir[REPO_PATH_MAX];
    PgpErr err = {0};
    snprintf(dir, sizeof dir, "backup/%s", label);
    snprintf(path, sizeof path, "%s/backup.inprogress", dir);
    ck_assert_int_eq(storage_put_all(fx->st, path, 0, "{}", 2, &err), 0);
    fx_set_mtime(fx, dir, mtime);
}

static size_t backup_index(const Info *info, const char *label)
{
    for (size_t i = 0; i < info->cat.n_backups; i++)
        if (strcmp(info->cat.backups[i].label, label) == 0)
            return i;
    ck_abort_msg("no backup %s", label);
    return 0;
}

START_TEST(running_backup)
{
    FxRepo fx;
    gap_repo(&fx);
    int64_t now = (int64_t)time(NULL);
    put_incomplete(&fx, "failed1", now - 3600);
    put_incomplete(&fx, "run1", now - 60);
    put_lock(&fx, "backup-live.json", true, "run1", now - 120);
    put_lock(&fx, "backup-dead.json", false, "failed1", now - 7200);
    Info info;
    PgpErr err = {0};
    ck_assert_int_eq(info_load(fx.repo, fx.root, now, &info, &err), 0);
    ck_assert_uint_eq(info.n_locks, 2);
    ck_assert(!info.locks_unknown);
    size_t run = backup_index(&info, "run1"), failed = backup_index(&info, "failed1");
    ck_assert_ptr_nonnull(info.backups[run].running);
    ck_assert(info.backups[run].running_by_label);
    ck_assert_ptr_null(info.backups[failed].running);   /* its holder is dead */
    char *t = text_of(&info), want[200], since[32];
    ck_assert_uint_le(longest_line(t), INFO_WIDTH);
    catalog_format_time(now - 120, since);
    snprintf(want, sizeof want, "run1: running (pid %ld on host ", (long)getpid());
    ck_assert_ptr_nonnull(strstr(t, want));
    snprintf(want, sizeof want, ", since %s)\n    no manifest.json yet", since);
    ck_assert_ptr_nonnull(strstr(t, want));
    ck_assert_ptr_nonnull(strstr(t, "failed1: INCOMPLETE, failed or interrupted (removed by "
                                    "the next backup or"));
    ck_assert_ptr_nonnull(strstr(t, "2 incomplete (1 running)"));
    ck_assert_ptr_nonnull(strstr(t, "\nLOCKS\n  backup lock, backup failed1: DEAD (last "
                                    "heartbeat 2h 00m ago)\n    pid "));
    ck_assert_ptr_nonnull(strstr(t, "the process is gone"));
    snprintf(want, sizeof want, "  backup lock, backup run1: live (last heartbeat 2m 00s ago)\n"
             "    pid %ld on host ", (long)getpid());
    ck_assert_msg(strstr(t, want) != NULL, "%s", t);
    free(t);
    char *js = NULL;
    ck_assert_int_eq(info_to_json(&info, &js, &err), 0);
    json_t *j = json_loads(js, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *r = json_object_get(json_array_get(json_object_get(j, "backups"), run), "running");
    ck_assert_int_eq(json_integer_value(json_object_get(r, "pid")), getpid());
    ck_assert_str_eq(json_string_value(json_object_get(r, "matched_by")), "label");
    ck_assert_str_eq(json_string_value(json_object_get(r, "since")), since);
    ck_assert(json_is_null(json_object_get(json_array_get(json_object_get(j, "backups"),
                                                          failed), "running")));
    json_t *locks = json_object_get(j, "locks");
    ck_assert_uint_eq(json_array_size(locks), 2);
    /* ascending by since: the dead one first */
    ck_assert(json_is_false(json_object_get(json_array_get(locks, 0), "alive")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(locks, 0), "label")),
                     "failed1");
    ck_assert(json_is_true(json_object_get(json_array_get(locks, 1), "alive")));
    json_decref(j);
    free(js);
    info_free(&info);

    /* a holder without a label (an older pgpitr): the newest incomplete directory, if it
     * changed after the lock was taken */
    PgpErr e2;
    ck_assert_int_eq(storage_remove(fx.st, "locks/backup-dead.json", &e2), 0);
    put_lock(&fx, "backup-live.json", true, NULL, now - 120);
    ck_assert_int_eq(info_load(fx.repo, fx.root, now, &info, &err), 0);
    run = backup_index(&info, "run1");
    ck_assert_ptr_nonnull(info.backups[run].running);
    ck_assert(!info.backups[run].running_by_label);
    ck_assert_ptr_null(info.backups[backup_index(&info, "failed1")].running);
    info_free(&info);
    fx_set_mtime(&fx, "backup/run1", now - 180);    /* older than the lock: a leftover */
    ck_assert_int_eq(info_load(fx.repo, fx.root, now, &info, &err), 0);
    ck_assert_ptr_null(info.backups[backup_index(&info, "run1")].running);
    t = text_of(&info);
    ck_assert_ptr_nonnull(strstr(t, "run1: INCOMPLETE, failed or interrupted"));
    free(t);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

START_TEST(recovery_leases)
{
    FxRepo fx;
    gap_repo(&fx);
    int64_t now = FX_T0 + 3600;
    Lease l;
    memset(&l, 0, sizeof l);
    snprintf(l.host, sizeof l.host, "db1");
    snprintf(l.datadir, sizeof l.datadir, "/var/lib/postgresql/15/a-rather-long-directory-name"
             "-that-still-fits/restored");
    l.system_identifier = FX_SYSID;
    lease_set_position(&l, 1, 2, FX_SEGSIZE);
    snprintf(l.created_by, sizeof l.created_by, "restore");
    l.since = now - 600;
    l.renewed = now - 60;
    l.expires = now + 86340;
    PgpErr err = {0};
    ck_assert_int_eq(lease_write(fx.st, &l, &err), 0);
    snprintf(l.datadir, sizeof l.datadir, "/srv/gone");
    l.renewed = l.since;
    l.expires = now - 30;
    ck_assert_int_eq(lease_write(fx.st, &l, &err), 0);
    fx_put_raw(&fx, "leases/recovery-x-0000000000000000.json", "garbage");
    Info info;
    ck_assert_int_eq(info_load(fx.repo, fx.root, now, &info, &err), 0);
    ck_assert_uint_eq(info.n_leases, 3);
    char *t = text_of(&info);
    ck_assert_uint_le(longest_line(t), INFO_WIDTH);
    ck_assert_msg(strstr(t, "\nRECOVERY LEASES\n") != NULL, "%s", t);
    ck_assert_msg(strstr(t, "  live: host db1, data directory\n      \"/var/lib/postgresql/") != NULL,
                  "%s", t);
    ck_assert_ptr_nonnull(strstr(t, "expire keeps that WAL; the lease expires in 23h 59m unless"));
    ck_assert_ptr_nonnull(strstr(t, "needs WAL from 000000010000000000000002 on (every "
                                    "timeline); written by\n      restore, renewed 1m 00s ago"));
    ck_assert_ptr_nonnull(strstr(t, "  STALE: host db1, data directory \"/srv/gone\""));
    ck_assert_ptr_nonnull(strstr(t, "expired 30s ago: ignored, the next expire removes it"));
    ck_assert_msg(strstr(t, "UNREADABLE lease \"leases/recovery-x-0000000000000000.json\" "
                            "(recovery lease:\n      not a JSON object), last changed") != NULL,
                  "%s", t);
    free(t);
    char *js = NULL;
    ck_assert_int_eq(info_to_json(&info, &js, &err), 0);
    json_t *j = json_loads(js, 0, NULL), *a = json_object_get(j, "leases");
    ck_assert_uint_eq(json_array_size(a), 3);
    size_t live = 0, stale = 0, unreadable = 0;
    for (size_t i = 0; i < 3; i++) {
        const char *st = json_string_value(json_object_get(json_array_get(a, i), "state"));
        live += strcmp(st, "live") == 0;
        stale += strcmp(st, "stale") == 0;
        unreadable += strcmp(st, "unreadable") == 0;
    }
    ck_assert(live == 1 && stale == 1 && unreadable == 1);
    json_decref(j);
    free(js);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

/* A backup taken on a standby (format 2 manifest): info names the standby and its primary in
 * text (wrapped within 80 columns) and JSON; a backup of a primary has "source": null. */
START_TEST(standby_source)
{
    FxRepo fx;
    gap_repo(&fx);
    BackupManifest *m = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(manifest_load(fx.st, NULL, "b", &m, &err), 0);
    ck_assert_int_eq(manifest_set_standby_source(m, "/var/run/postgresql/standby-sockets:5433",
                                                 "db1.example.com:5432", &err), 0);
    ck_assert_int_eq(storage_remove(fx.st, "backup/b/manifest.json", &err), 0);
    ck_assert_int_eq(manifest_save(fx.st, NULL, "b", m, &err), 0);
    manifest_free(m);
    Info info;
    ck_assert_int_eq(info_load(fx.repo, fx.root, FX_T0 + 400, &info, &err), 0);
    char *t = text_of(&info);
    ck_assert_uint_le(longest_line(t), INFO_WIDTH);
    ck_assert_msg(strstr(t, "    taken on the standby /var/run/postgresql/standby-sockets:5433 "
                            "(primary\n      db1.example.com:5432)\n") != NULL, "%s", t);
    char *first = strstr(t, "taken on the");
    ck_assert_ptr_null(strstr(first + 1, "taken on the"));   /* only b */
    free(t);
    char *js = NULL;
    ck_assert_int_eq(info_to_json(&info, &js, &err), 0);
    json_t *j = json_loads(js, 0, NULL), *backups = json_object_get(j, "backups");
    json_t *src = json_object_get(json_array_get(backups, backup_index(&info, "b")), "source");
    ck_assert_str_eq(json_string_value(json_object_get(src, "role")), "standby");
    ck_assert_str_eq(json_string_value(json_object_get(src, "server")),
                     "/var/run/postgresql/standby-sockets:5433");
    ck_assert_str_eq(json_string_value(json_object_get(src, "primary")), "db1.example.com:5432");
    src = json_object_get(json_array_get(backups, backup_index(&info, "a")), "source");
    ck_assert(json_is_null(src));
    json_decref(j);
    free(js);
    info_free(&info);
    fx_repo_free(&fx);
}
END_TEST

Suite *suite_info(void)
{
    Suite *s = suite_create("info");
    TCase *tc = tcase_create("format");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, durations_and_ages);
    tcase_add_test(tc, wrapping);
    suite_add_tcase(s, tc);
    tc = tcase_create("model");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, windows_cut_by_a_gap);
    tcase_add_test(tc, timelines);
    tcase_add_test(tc, production_timeline);
    tcase_add_test(tc, latest_drill);
    tcase_add_test(tc, objectives);
    tcase_add_test(tc, running_backup);
    tcase_add_test(tc, recovery_leases);
    tcase_add_test(tc, standby_source);
    suite_add_tcase(s, tc);
    return s;
}
