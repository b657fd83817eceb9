/*
 * test_serve_route.c - the pure parts of `pgpitr serve`'s API (src/serve/serve_route.c): which
 * route a path is, the methods and tokens it takes, the label / drill id / job id patterns (no
 * path traversal gets through), and the POST body whitelist mapped to flags.
 */
#include "pgpitr/serve/serve_route.h"

#include <check.h>
#include <string.h>

static ServeRoute route(const char *path)
{
    ServeRoute r;
    serve_route_match(path, &r);
    return r;
}

START_TEST(routes)
{
    ck_assert_int_eq(route("/health").id, SERVE_R_HEALTH);
    ck_assert_int_eq(route("/metrics").id, SERVE_R_METRICS);
    ck_assert_int_eq(route("/api/v1/info").id, SERVE_R_INFO);
    ck_assert_int_eq(route("/api/v1/backups").id, SERVE_R_BACKUPS);
    ck_assert_int_eq(route("/api/v1/drills").id, SERVE_R_DRILLS);
    ck_assert_int_eq(route("/api/v1/verify").id, SERVE_R_VERIFY);
    ck_assert_int_eq(route("/api/v1/expire").id, SERVE_R_EXPIRE);
    ServeRoute r = route("/api/v1/backups/base1");
    ck_assert_int_eq(r.id, SERVE_R_BACKUP);
    ck_assert_str_eq(r.param, "base1");
    ck_assert(!r.param_bad);
    r = route("/api/v1/drills/20261122T040000Z-3fa9");
    ck_assert_int_eq(r.id, SERVE_R_DRILL);
    ck_assert(!r.param_bad);
    r = route("/api/v1/jobs/backup-1796417321-12");
    ck_assert_int_eq(r.id, SERVE_R_JOB);
    ck_assert(!r.param_bad);
    /* unknown: 404 */
    ck_assert_int_eq(route("/").id, SERVE_R_NONE);
    ck_assert_int_eq(route("/api/v1").id, SERVE_R_NONE);
    ck_assert_int_eq(route("/api/v1/info/").id, SERVE_R_NONE);
    ck_assert_int_eq(route("/api/v1/backups/").id, SERVE_R_NONE);
    ck_assert_int_eq(route("/api/v2/info").id, SERVE_R_NONE);
    ck_assert_int_eq(route("/healthz").id, SERVE_R_NONE);
    ck_assert_int_eq(route("/api/v1/jobs").id, SERVE_R_NONE);
}
END_TEST

START_TEST(parameters_refused)
{
    static const char *const bad[] = {
        "/api/v1/backups/..", "/api/v1/backups/../repo.json", "/api/v1/backups/.hidden",
        "/api/v1/backups/a b", "/api/v1/backups/a/b", "/api/v1/drills/../repo",
        "/api/v1/drills/20261122T040000Z-3FA9", "/api/v1/drills/20261122T040000Z-3fa9.json",
        "/api/v1/drills/20261122T040000Z-3fa", "/api/v1/drills/x0261122T040000Z-3fa9",
        "/api/v1/jobs/backup-1-", "/api/v1/jobs/restore-1-1", "/api/v1/jobs/backup--1",
        "/api/v1/jobs/backup-1-1/x", "/api/v1/jobs/backup-1-12345678901",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ServeRoute r = route(bad[i]);
        ck_assert_msg(r.id != SERVE_R_NONE && r.param_bad, "%s accepted", bad[i]);
    }
    /* a parameter too long to copy is refused, not cut to something valid */
    char long_path[400] = "/api/v1/backups/";
    memset(long_path + strlen(long_path), 'a', 300);
    ServeRoute r = route(long_path);
    ck_assert(r.param_bad);
}
END_TEST

START_TEST(methods_and_tokens)
{
    ServeRoute r = route("/api/v1/backups");
    ck_assert(serve_route_allows(&r, "GET"));
    ck_assert(serve_route_allows(&r, "HEAD"));
    ck_assert(serve_route_allows(&r, "POST"));
    ck_assert(!serve_route_allows(&r, "DELETE"));
    ck_assert_str_eq(r.allow, "GET, POST");
    ServeJobKind k;
    ck_assert(serve_route_job_kind(&r, &k));
    ck_assert_int_eq(k, SERVE_JOB_BACKUP);
    r = route("/api/v1/verify");
    ck_assert(!serve_route_allows(&r, "GET"));
    ck_assert_str_eq(r.allow, "POST");
    r = route("/api/v1/info");
    ck_assert(!serve_route_allows(&r, "POST"));
    ck_assert(!serve_route_allows(&r, "PUT"));
    ck_assert(!serve_route_job_kind(&r, &k));
    ck_assert(serve_route_needs_token(&r));
    r = route("/health");
    ck_assert(!serve_route_needs_token(&r));
    r = route("/metrics");
    ck_assert(serve_route_needs_token(&r));
}
END_TEST

static bool args(ServeJobKind k, const char *body, ServeJobArgs *a, char *why)
{
    return serve_job_args_parse(k, body, strlen(body), a, why, 256);
}

START_TEST(body_whitelist)
{
    ServeJobArgs a;
    char why[256];
    ck_assert(args(SERVE_JOB_BACKUP, "", &a, why));
    ck_assert_uint_eq(a.n, 0);
    ck_assert(args(SERVE_JOB_BACKUP, " \n", &a, why));
    ck_assert(args(SERVE_JOB_BACKUP, "{}", &a, why));
    ck_assert(args(SERVE_JOB_BACKUP, "{\"label\": \"api-1\", \"checkpoint\": \"spread\"}", &a, why));
    ck_assert_uint_eq(a.n, 2);
    ck_assert_str_eq(a.v[0], "--label=api-1");
    ck_assert_str_eq(a.v[1], "--checkpoint=spread");
    ck_assert(args(SERVE_JOB_DRILL, "{\"target_time\": \"2026-12-04T10:00:00+00:00\", "
                                    "\"amcheck\": true, \"target_latest\": false}", &a, why));
    ck_assert_uint_eq(a.n, 2);
    ck_assert_str_eq(a.v[0], "--target-time=2026-12-04T10:00:00+00:00");
    ck_assert_str_eq(a.v[1], "--amcheck");
    ck_assert(args(SERVE_JOB_EXPIRE, "{\"dry_run\": true}", &a, why));
    ck_assert_str_eq(a.v[0], "--dry-run");
    ck_assert(args(SERVE_JOB_VERIFY, "{\"backup\": \"base1\"}", &a, why));
    ck_assert_str_eq(a.v[0], "--backup=base1");
    /* a value is glued to its flag in one argument: "--help" as a label cannot become a flag */
    ck_assert(args(SERVE_JOB_BACKUP, "{\"label\": \"--help\"}", &a, why));
    ck_assert_uint_eq(a.n, 1);
    ck_assert_str_eq(a.v[0], "--label=--help");
}
END_TEST

static void refused(ServeJobKind k, const char *body, const char *why_part)
{
    ServeJobArgs a;
    char why[256] = "";
    ck_assert_msg(!args(k, body, &a, why), "%s accepted", body);
    ck_assert_msg(strstr(why, why_part) != NULL, "%s: \"%s\" lacks \"%s\"", body, why, why_part);
}

START_TEST(body_refused)
{
    refused(SERVE_JOB_BACKUP, "{", "malformed JSON");
    refused(SERVE_JOB_BACKUP, "[1]", "must be a JSON object");
    refused(SERVE_JOB_BACKUP, "\"x\"", "malformed JSON");   /* jansson wants an array/object */
    refused(SERVE_JOB_BACKUP, "{\"pg_conn\": \"host=evil\"}", "unknown field \"pg_conn\"");
    refused(SERVE_JOB_BACKUP, "{\"dry_run\": true}", "a backup job takes: label, checkpoint");
    refused(SERVE_JOB_EXPIRE, "{\"retain_full\": 0}", "unknown field \"retain_full\"");
    refused(SERVE_JOB_BACKUP, "{\"label\": \"../x\"}", "\"label\" must be");
    refused(SERVE_JOB_BACKUP, "{\"label\": 5}", "\"label\" must be");
    refused(SERVE_JOB_BACKUP, "{\"label\": \"a\\u0000b\"}", "malformed JSON");
    refused(SERVE_JOB_BACKUP, "{\"checkpoint\": \"slow\"}", "\"checkpoint\" must be");
    refused(SERVE_JOB_EXPIRE, "{\"dry_run\": \"yes\"}", "\"dry_run\" must be true or false");
    refused(SERVE_JOB_DRILL, "{\"target_time\": \"now; rm -rf /\"}", "\"target_time\" must be");
    refused(SERVE_JOB_DRILL, "{\"target_time\": \"\"}", "\"target_time\" must be");
    refused(SERVE_JOB_DRILL, "{\"amcheck\": true, \"amcheck\": false}", "malformed JSON");
    refused(SERVE_JOB_VERIFY, "{\"a\\nb\": 1}", "unknown field \"a?b\"");
}
END_TEST

Suite *suite_serve_route(void)
{
    Suite *s = suite_create("serve_route");
    TCase *tc = tcase_create("serve_route");
    tcase_add_test(tc, routes);
    tcase_add_test(tc, parameters_refused);
    tcase_add_test(tc, methods_and_tokens);
    tcase_add_test(tc, body_whitelist);
    tcase_add_test(tc, body_refused);
    suite_add_tcase(s, tc);
    return s;
}
