/*
 * test_serve_jobs.c - the job table of `pgpitr serve` (src/serve/serve_jobs.c) without
 * processes: the output ring buffer (last bytes, last lines, a line cut by the wrap dropped,
 * unprintable bytes replaced), one running job per kind, the bound on finished jobs kept, and
 * a job's JSON. Children are covered by tests/integration/test_serve.sh.
 */
#include "pgpitr/serve/serve_jobs.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static char *tail_text(const ServeRing *r, size_t n)
{
    json_t *a = serve_ring_tail(r, n);
    ck_assert_ptr_nonnull(a);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

static void tail_is(const ServeRing *r, size_t n, const char *want)
{
    char *s = tail_text(r, n);
    ck_assert_str_eq(s, want);
    free(s);
}

START_TEST(ring)
{
    ServeRing r;
    ck_assert_int_eq(serve_ring_init(&r, 16, NULL), 0);
    tail_is(&r, 5, "[]");
    serve_ring_put(&r, "a\nbb\n", 5);
    tail_is(&r, 5, "[\"a\",\"bb\"]");
    tail_is(&r, 1, "[\"bb\"]");
    serve_ring_put(&r, "ccc", 3);   /* a line without its newline yet */
    tail_is(&r, 2, "[\"bb\",\"ccc\"]");
    /* wrap: 8 + 12 bytes, only the last 16 kept ("\nccc\nddd\neeeeee\n"): what is left of
     * "bb" is a cut line, dropped; ccc is whole */
    serve_ring_put(&r, "\nddd\neeeeee\n", 12);
    ck_assert_uint_eq(r.len, 16);
    ck_assert_uint_eq(r.total, 20);
    tail_is(&r, 10, "[\"ccc\",\"ddd\",\"eeeeee\"]");
    serve_ring_put(&r, "ff\n", 3);   /* now "cc\nddd\n...": the cut "cc" is dropped */
    tail_is(&r, 10, "[\"ddd\",\"eeeeee\",\"ff\"]");
    /* one write longer than the ring */
    serve_ring_put(&r, "0123456789\nabcdefghij\n", 22);
    tail_is(&r, 10, "[\"abcdefghij\"]");
    /* bytes that are not printable ASCII never reach the JSON as such */
    serve_ring_put(&r, "x\x01\xff\n", 4);
    tail_is(&r, 1, "[\"x??\"]");
    serve_ring_free(&r);
}
END_TEST

static ServeJob *fake_job(ServeJobs *j, ServeJobKind k, ServeJobState st)
{
    ServeJob *job = calloc(1, sizeof *job);
    ck_assert_ptr_nonnull(job);
    ck_assert_int_eq(serve_ring_init(&job->out, 64, NULL), 0);
    job->stdout_buf = malloc(64);
    job->kind = k;
    job->state = st;
    job->joined = true;   /* no thread behind it */
    job->exit_status = st == SERVE_JOB_SUCCEEDED ? 0 : st == SERVE_JOB_FAILED ? 7 : -1;
    job->started_us = 1796417321000000;
    snprintf(job->id, sizeof job->id, "%s-1-%u", serve_job_kind_name(k), ++j->seq);
    j->v[j->n++] = job;
    return job;
}

START_TEST(table)
{
    ServeJobs j;
    char *const base[] = {"pgpitr"};
    ck_assert_int_eq(serve_jobs_init(&j, base, 1, NULL), 0);
    char id[SERVE_PARAM_MAX];
    ck_assert(!serve_jobs_running(&j, SERVE_JOB_BACKUP, id));
    fake_job(&j, SERVE_JOB_BACKUP, SERVE_JOB_FAILED);
    ck_assert(!serve_jobs_running(&j, SERVE_JOB_BACKUP, id));
    ServeJob *run = fake_job(&j, SERVE_JOB_BACKUP, SERVE_JOB_RUNNING);
    ck_assert(serve_jobs_running(&j, SERVE_JOB_BACKUP, id));
    ck_assert_str_eq(id, run->id);
    ck_assert(!serve_jobs_running(&j, SERVE_JOB_DRILL, id));
    /* a second backup is refused, naming the running one; nothing added */
    PgpErr err = {0};
    ServeJobArgs args = {0};
    size_t n = j.n;
    ck_assert_int_eq(serve_jobs_start(&j, SERVE_JOB_BACKUP, &args, "t", id, &err),
                     PGP_ERR_LOCKED);
    ck_assert_str_eq(id, run->id);
    ck_assert_uint_eq(j.n, n);
    /* finished jobs beyond the bound go, oldest first; running ones stay */
    while (j.n < SERVE_JOBS_KEPT + 3)
        fake_job(&j, SERVE_JOB_VERIFY, SERVE_JOB_SUCCEEDED);
    serve_jobs_trim(&j);
    ck_assert_uint_eq(j.n, SERVE_JOBS_KEPT + 1);
    ck_assert_ptr_eq(j.v[0], run);
    ck_assert_str_eq(j.v[1]->id, "verify-1-4");   /* backup-1-1 and verify-1-3 went */
    json_t *got = serve_jobs_get(&j, "verify-1-4");
    ck_assert_ptr_nonnull(got);
    json_decref(got);
    ck_assert_ptr_null(serve_jobs_get(&j, "backup-1-1"));
    run->state = SERVE_JOB_FAILED;   /* so that shutdown signals nothing */
    serve_jobs_shutdown(&j);
}
END_TEST

START_TEST(job_json)
{
    ServeJobs j;
    char *const base[] = {"pgpitr"};
    ck_assert_int_eq(serve_jobs_init(&j, base, 1, NULL), 0);
    ServeJob *job = fake_job(&j, SERVE_JOB_DRILL, SERVE_JOB_FAILED);
    strcpy(job->token, "ci");
    const char *out = "{\"status\": \"failed\"}\n";
    memcpy(job->stdout_buf, out, strlen(out));
    job->stdout_len = strlen(out);
    serve_ring_put(&job->out, "pgpitr: error: boom\n", 20);
    job->finished_us = job->started_us + 2000000;
    json_t *a = serve_job_json(job);
    char *s = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(s, "{\"exit_status\":7,\"finished\":\"2026-12-04T20:48:43Z\","
                        "\"id\":\"drill-1-1\",\"kind\":\"drill\",\"output_tail\":"
                        "[\"pgpitr: error: boom\"],\"result\":{\"status\":\"failed\"},"
                        "\"signal\":null,\"started\":\"2026-12-04T20:48:41Z\","
                        "\"state\":\"failed\",\"token\":\"ci\"}");
    free(s);
    json_decref(a);
    /* output that is not JSON (or was cut) gives a null result; running: no exit status */
    job->stdout_len = 3;
    job->state = SERVE_JOB_RUNNING;
    a = serve_job_json(job);
    ck_assert(json_is_null(json_object_get(a, "result")));
    ck_assert(json_is_null(json_object_get(a, "exit_status")));
    ck_assert_str_eq(json_string_value(json_object_get(a, "state")), "running");
    json_decref(a);
    job->state = SERVE_JOB_FAILED;
    serve_jobs_shutdown(&j);
}
END_TEST

Suite *suite_serve_jobs(void)
{
    Suite *s = suite_create("serve_jobs");
    TCase *tc = tcase_create("serve_jobs");
    tcase_add_test(tc, ring);
    tcase_add_test(tc, table);
    tcase_add_test(tc, job_json);
    suite_add_tcase(s, tc);
    return s;
}
