/*
 * test_progress.c - the status and final lines of a phase (src/common/progress.c): their text
 * from given counters and times (totals known or not, ETA units, no bytes, truncation), the
 * rate limit, the mode, and on a captured stderr: a status line drawn at begin, cleared before
 * a log line, and replaced by the final line; without a terminal nothing but the log.
 */
#include "pgpitr/common/progress.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/common/log.h"

#define MIB (1024ull * 1024)

START_TEST(test_status_totals)
{
    char out[PROGRESS_LINE_MAX];
    ProgressView v = {.cmd = "restore", .phase = "files", .unit = "files", .bytes = 40 * MIB,
                      .bytes_total = 100 * MIB, .items = 12, .items_total = 34, .seconds = 2};
    progress_format_status(&v, out, sizeof out);
    ck_assert_str_eq(out, "restore: files: 12/34 files, 40.0/100.0 MiB (40%), 20.0 MiB/s, ETA 3s");
    v.items_total = 0;
    v.bytes_total = 0;
    v.extra = "stored 3.0 MiB";
    progress_format_status(&v, out, sizeof out);
    ck_assert_str_eq(out, "restore: files: 12 files, 40.0 MiB, 20.0 MiB/s, stored 3.0 MiB");
    v.bytes = 0;   /* nothing yet: no rate shown, items still are */
    v.extra = NULL;
    progress_format_status(&v, out, sizeof out);
    ck_assert_str_eq(out, "restore: files: 12 files");
}
END_TEST

START_TEST(test_status_eta_and_waiting)
{
    char out[PROGRESS_LINE_MAX];
    ProgressView v = {.cmd = "backup", .phase = "stream", .bytes = 1 * MIB,
                      .bytes_total = 200 * MIB, .seconds = 1};
    progress_format_status(&v, out, sizeof out);
    ck_assert_str_eq(out, "backup: stream: 1.0/200.0 MiB (0%), 1.0 MiB/s, ETA 3m19s");
    v.bytes_total = 8000 * MIB;
    progress_format_status(&v, out, sizeof out);
    ck_assert_str_eq(out, "backup: stream: 1.0/8000.0 MiB (0%), 1.0 MiB/s, ETA 2h13m");
    v.bytes = 8000 * MIB;   /* done: 100%, no ETA */
    progress_format_status(&v, out, sizeof out);
    ck_assert_str_eq(out, "backup: stream: 8000.0/8000.0 MiB (100%), 8000.0 MiB/s");
    ProgressView w = {.cmd = "backup", .phase = "checkpoint", .seconds = 7.4,
                      .extra = "waiting for the server's spread checkpoint"};
    progress_format_status(&w, out, sizeof out);
    ck_assert_str_eq(out, "backup: checkpoint: 7 s, waiting for the server's spread checkpoint");
}
END_TEST

START_TEST(test_done_lines)
{
    char out[PROGRESS_LINE_MAX];
    ProgressView v = {.cmd = "backup", .phase = "stream", .unit = "files", .items = 1234,
                      .bytes = 456 * MIB, .seconds = 10, .extra = "stored 40.1 MiB"};
    progress_format_done(&v, out, sizeof out);
    ck_assert_str_eq(out, "backup: stream: 1234 files, 456.0 MiB in 10.0 s, 45.6 MiB/s, "
                          "stored 40.1 MiB");
    ProgressView w = {.cmd = "backup", .phase = "wal", .seconds = 0.42, .extra = "WAL x archived"};
    progress_format_done(&w, out, sizeof out);
    ck_assert_str_eq(out, "backup: wal: 0.4 s, WAL x archived");
    ProgressView z = {.cmd = "restore", .phase = "files", .unit = "files", .items = 3,
                      .bytes = MIB, .seconds = 0};   /* too fast to time: no division by 0 */
    progress_format_done(&z, out, sizeof out);
    ck_assert_str_eq(out, "restore: files: 3 files, 1.0 MiB in 0.0 s, 0.0 MiB/s");
    char small[16];
    progress_format_done(&v, small, sizeof small);
    ck_assert_str_eq(small, "backup: stream:");
    progress_format_status(&v, small, 1);
    ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(test_due_and_mode)
{
    ck_assert(progress_due(0, 5.0));            /* never drawn */
    ck_assert(!progress_due(5.0, 5.1));
    ck_assert(progress_due(5.0, 5.0 + PROGRESS_INTERVAL));
    ck_assert(progress_due(5.0, 4.0));          /* a clock that went back is not a stall */
    ck_assert(progress_wanted(PROGRESS_ON, true));
    ck_assert(!progress_wanted(PROGRESS_OFF, false));
    ck_assert(!progress_wanted(PROGRESS_AUTO, true));
}
END_TEST

/* stderr into a temporary file for fn, its text returned (malloc'd). */
static char *capture(void (*fn)(void))
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(f), STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    long n = ftell(f) >= 0 ? lseek(fileno(f), 0, SEEK_END) : 0;
    char *text = calloc((size_t)n + 1, 1);
    ck_assert_int_eq(pread(fileno(f), text, (size_t)n, 0), n);
    fclose(f);
    return text;
}

static void a_phase(bool tty)
{
    Progress p = {0};
    log_set_level(LOG_WARN);
    progress_begin(&p, tty, "restore", "files", "files", 4 * MIB, 2);
    progress_tick(&p);        /* the first tick draws at once */
    progress_add(&p, 2 * MIB, 1);
    progress_tick(&p);        /* not due yet: nothing */
    p.last_draw = 0;          /* due now */
    progress_tick(&p);
    log_warn("something odd");
    progress_tick(&p);        /* not due: the log line is not followed by a redraw yet */
    progress_add(&p, 2 * MIB, 1);
    progress_end(&p);
}

static void on_tty(void) { a_phase(true); }
static void off_tty(void) { a_phase(false); }

START_TEST(test_terminal)
{
    char *t = capture(on_tty);
    const char *first = "\r\033[Krestore: files: 0/2 files, 0.0/4.0 MiB (0%)";
    ck_assert_msg(strncmp(t, first, strlen(first)) == 0, "the first tick draws at once: %s", t);
    int clears = 0;   /* first draw, the due one, before the log line, the final line */
    for (const char *c = t; (c = strstr(c, "\r\033[K")) != NULL; c++)
        clears++;
    ck_assert_msg(clears == 4, "ticks that were not due drew: %s", t);
    ck_assert_ptr_nonnull(strstr(t, "\r\033[Krestore: files: 1/2 files, 2.0/4.0 MiB (50%)"));
    ck_assert_msg(strstr(t, "\r\033[Kpgpitr: warn: something odd\n") != NULL,
                  "a log line clears the status line: %s", t);
    const char *end = strstr(t, "\r\033[Krestore: files: 2 files, 4.0 MiB in ");
    ck_assert_msg(end != NULL && strchr(end, '\n') == t + strlen(t) - 1, "final line: %s", t);
    free(t);
    t = capture(off_tty);
    ck_assert_str_eq(t, "pgpitr: warn: something odd\n");   /* the final line is info */
    free(t);
}
END_TEST

Suite *suite_progress(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("progress");
    tcase_add_test(tc, test_status_totals);
    tcase_add_test(tc, test_status_eta_and_waiting);
    tcase_add_test(tc, test_done_lines);
    tcase_add_test(tc, test_due_and_mode);
    tcase_add_test(tc, test_terminal);
    suite_add_tcase(s, tc);
    return s;
}
