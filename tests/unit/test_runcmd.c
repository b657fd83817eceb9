/*
 * test_runcmd.c - runcmd (src/common/runcmd.c): arguments reach the program as they are (no
 * shell), stdout captured and bounded, a file as stdin read from its start, exit statuses
 * and signals, a program that cannot be started, and the deadline killing the whole group.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/runcmd.h"

START_TEST(arguments_are_not_interpreted)
{
    char *argv[] = {"printf", "%s|", "$(id) `id`; x", "a b", NULL};
    RunCmdResult r;
    PgpErr err = {0};
    ck_assert_int_eq(runcmd(argv, -1, 1024, 10, &r, &err), 0);
    ck_assert_int_eq(r.exit_status, 0);
    ck_assert_str_eq(r.out, "$(id) `id`; x|a b|");
    ck_assert(!r.truncated && !r.timed_out);
    runcmd_result_free(&r);
}
END_TEST

START_TEST(bounded_capture_and_stdin)
{
    char *yes[] = {"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL};
    RunCmdResult r;
    PgpErr err = {0};
    ck_assert_int_eq(runcmd(yes, -1, 10, 10, &r, &err), 0);
    ck_assert_int_eq(r.exit_status, 0);       /* read to the end: the writer never blocked */
    ck_assert(r.truncated);
    ck_assert_str_eq(r.out, "xxxxxxxxxx");
    runcmd_result_free(&r);

    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    fputs("from stdin\n", f);
    fflush(f);                                  /* offset at the end: runcmd rewinds */
    char *cat[] = {"cat", NULL};
    ck_assert_int_eq(runcmd(cat, fileno(f), 100, 10, &r, &err), 0);
    ck_assert_str_eq(r.out, "from stdin\n");
    runcmd_result_free(&r);
    fclose(f);
}
END_TEST

START_TEST(statuses_and_failures)
{
    char *ex[] = {"sh", "-c", "exit 7", NULL};
    char *sig[] = {"sh", "-c", "kill -TERM $$", NULL};
    char *none[] = {"pgpitr-no-such-program", NULL};
    RunCmdResult r;
    PgpErr err = {0};
    ck_assert_int_eq(runcmd(ex, -1, 0, 10, &r, &err), 0);
    ck_assert_int_eq(r.exit_status, 7);
    ck_assert_int_eq(runcmd(sig, -1, 0, 10, &r, &err), 0);
    ck_assert_int_eq(r.signal, SIGTERM);
    ck_assert_int_eq(r.exit_status, -1);
    ck_assert_int_eq(runcmd(none, -1, 100, 10, &r, &err), PGP_ERR_IO);
    ck_assert_msg(strstr(err.msg, "cannot run \"pgpitr-no-such-program\"") != NULL, "%s",
                  err.msg);
}
END_TEST

START_TEST(deadline_kills_the_group)
{
    char path[] = "/tmp/pgpitr_runcmd_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char script[512];
    snprintf(script, sizeof script, "sleep 300 & echo $! > %s; wait", path);
    char *argv[] = {"sh", "-c", script, NULL};
    RunCmdResult r;
    PgpErr err = {0};
    time_t t0 = time(NULL);
    for (int capture = 0; capture < 2; capture++) {
        ck_assert_int_eq(runcmd(argv, -1, capture ? 100 : 0, 1, &r, &err), 0);
        ck_assert(r.timed_out);
        ck_assert_int_eq(r.signal, SIGKILL);
        runcmd_result_free(&r);
        FILE *f = fopen(path, "r");
        long child = 0;
        ck_assert_int_eq(fscanf(f, "%ld", &child), 1);
        fclose(f);
        int gone = 0;
        for (int i = 0; i < 200 && !gone; i++) {   /* the grandchild, killed with the group */
            gone = kill((pid_t)child, 0) != 0;
            if (!gone)
                usleep(10000);
        }
        ck_assert_msg(gone, "the sleep the program started is still running");
    }
    ck_assert_int_lt(time(NULL) - t0, 20);
    unlink(path);
}
END_TEST

Suite *suite_runcmd(void)
{
    Suite *s = suite_create("runcmd");
    TCase *tc = tcase_create("runcmd");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, arguments_are_not_interpreted);
    tcase_add_test(tc, bounded_capture_and_stdin);
    tcase_add_test(tc, statuses_and_failures);
    tcase_add_test(tc, deadline_kills_the_group);
    suite_add_tcase(s, tc);
    return s;
}
