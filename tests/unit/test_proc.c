/*
 * test_proc.c - process identity from /proc (src/common/proc.c): the stat parser with hostile
 * command names, start times of real processes, liveness of exited, zombie and reused pids.
 */
#include "pgpitr/common/proc.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

START_TEST(parse_stat_hostile_comm)
{
    uint64_t start = 0;
    char state = '?';
    /* comm "we ird) )x" with spaces and ')' : fields must be counted from the last ')' */
    const char *t = "42 (we ird) )x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21\n";
    ck_assert(proc_parse_stat(t, &start, &state));
    ck_assert_uint_eq(start, 987654);
    ck_assert_int_eq(state, 'S');
    ck_assert(proc_parse_stat("7 (a) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 5", &start,
                              NULL));
    ck_assert_uint_eq(start, 5);
    /* too few fields, no ')', a non-number */
    ck_assert(!proc_parse_stat("42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18\n",
                               &start, &state));
    ck_assert(!proc_parse_stat("42 x S 1 2 3", &start, &state));
    ck_assert(!proc_parse_stat("", &start, &state));
    ck_assert(!proc_parse_stat("42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 1x2 20",
                               &start, &state));
}
END_TEST

START_TEST(identity_of_this_process)
{
    PgpErr err = {0};
    char host[PROC_HOST_MAX], boot[PROC_BOOT_ID_LEN + 1];
    ck_assert_int_eq(proc_hostname(host, &err), 0);
    ck_assert_uint_gt(strlen(host), 0);
    ck_assert_int_eq(proc_boot_id(boot, &err), 0);
    ck_assert_uint_eq(strlen(boot), 36);
    ck_assert_int_eq(boot[8], '-');
    uint64_t start = 0;
    char state = '?';
    ck_assert_int_eq(proc_start_time(getpid(), &start, &state, &err), 0);
    ck_assert_int_eq(state, 'R');
    ck_assert(proc_alive(getpid(), start));
    /* the same pid with another start time is another (earlier or later) process */
    ck_assert(!proc_alive(getpid(), start + 1));
    ck_assert(!proc_alive(0, 0));
    ck_assert(!proc_alive(-1, 0));
    int64_t boot_wall = proc_boot_wall_time();
    ck_assert_int_gt(boot_wall, 0);
    ck_assert_int_le(boot_wall, (int64_t)time(NULL));
}
END_TEST

/* A child that waits on a pipe: its pid and start time, then it exits when told. */
static pid_t child_waiting(int *wfd, uint64_t *start)
{
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(p[1]);
        char c;
        while (read(p[0], &c, 1) > 0)
            ;
        _exit(0);
    }
    close(p[0]);
    *wfd = p[1];
    PgpErr err = {0};
    ck_assert_int_eq(proc_start_time(pid, start, NULL, &err), 0);
    return pid;
}

START_TEST(exited_and_zombie_children)
{
    int wfd;
    uint64_t start;
    pid_t pid = child_waiting(&wfd, &start);
    ck_assert(proc_alive(pid, start));
    close(wfd);
    /* Not reaped yet: a zombie, which is not alive. Wait until it has become one. */
    char state = 'S';
    for (int i = 0; i < 2000 && state != 'Z'; i++) {
        PgpErr err = {0};
        ck_assert_int_eq(proc_start_time(pid, &start, &state, &err), 0);
        if (state != 'Z')
            usleep(1000);
    }
    ck_assert_int_eq(state, 'Z');
    ck_assert(!proc_alive(pid, start));
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    ck_assert(!proc_alive(pid, start));
    PgpErr err = {0};
    ck_assert_int_eq(proc_start_time(pid, &start, NULL, &err), PGP_ERR_NOT_FOUND);
}
END_TEST

Suite *suite_proc(void)
{
    Suite *s = suite_create("proc");
    TCase *tc = tcase_create("proc");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, parse_stat_hostile_comm);
    tcase_add_test(tc, identity_of_this_process);
    tcase_add_test(tc, exited_and_zombie_children);
    suite_add_tcase(s, tc);
    return s;
}
