/*
 * serve_api.c - the endpoints of `pgpitr serve` (serve_http.h): /health and /metrics, info
 * and backups (from a `pgpitr info --output json` child), drill reports (read from the
 * repository's drill/ directory in-process), and the jobs (serve_jobs.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pgpitr/common/log.h"
#include "pgpitr/repo/meta_io.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/serve/serve_http.h"

#define INFO_MAX (64u << 20)
#define DRILL_REPORT_MAX (16u << 20)

void serve_api_init(ServeApi *a, ServeJobs *jobs, Storage *storage, const CryptoRepoKey *key)
{
    memset(a, 0, sizeof *a);
    a->jobs = jobs;
    a->storage = storage;
    a->key = key;
    pthread_mutex_init(&a->storage_mu, NULL);
    pthread_mutex_init(&a->health_mu, NULL);
}

void serve_api_free(ServeApi *a)
{
    json_decref(a->health);
    pthread_mutex_destroy(&a->storage_mu);
    pthread_mutex_destroy(&a->health_mu);
}

/* Runs `pgpitr ARGS` to its end: 0 with its stdout when it exited 0; otherwise an error reply
 * already made (500), or, want_status, its status in *status with the output. */
static int run_child(ServeApi *a, const char *const *args, size_t n, ServeReply *r, char **out,
                     size_t *len, int *status)
{
    PgpErr err = {0};
    int st = -1;
    if (serve_child_run(a->jobs, args, n, INFO_MAX, SERVE_CHILD_TIMEOUT, out, len, &st, &err)
        != 0) {
        log_error_report(&err);
        serve_reply_error(r, 500, "pgpitr %s: %s", args[0], err.msg);
        return -1;
    }
    if (status != NULL) {
        *status = st;
        return 0;
    }
    if (st != 0) {
        free(*out);
        *out = NULL;
        serve_reply_error(r, 500, "pgpitr %s failed (exit status %d): see the server's log",
                          args[0], st);
        return -1;
    }
    return 0;
}

/* The info JSON, parsed; NULL with a reply made. */
static json_t *load_info(ServeApi *a, ServeReply *r)
{
    static const char *const args[] = {"info", "--output", "json"};
    char *text = NULL;
    size_t len = 0;
    if (run_child(a, args, 3, r, &text, &len, NULL) != 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    free(text);
    if (j == NULL)
        serve_reply_error(r, 500, "pgpitr info printed no JSON: %s", je.text);
    return j;
}

static void get_info(ServeApi *a, ServeReply *r)
{
    json_t *j = load_info(a, r);
    if (j != NULL)
        serve_reply_json(r, 200, j);
}

static void get_backups(ServeApi *a, const ServeRoute *route, ServeReply *r)
{
    json_t *j = load_info(a, r);
    if (j == NULL)
        return;
    json_t *list = json_object_get(j, "backups");
    if (!json_is_array(list)) {
        json_decref(j);
        serve_reply_error(r, 500, "pgpitr info printed no backups");
        return;
    }
    if (route->id == SERVE_R_BACKUPS) {
        serve_reply_json(r, 200, json_pack("{s:O}", "backups", list));
        json_decref(j);
        return;
    }
    size_t i;
    json_t *b, *found = NULL;
    json_array_foreach(list, i, b) {
        const char *label = json_string_value(json_object_get(b, "label"));
        if (found == NULL && label != NULL && strcmp(label, route->param) == 0)
            found = json_incref(b);
    }
    json_decref(j);
    if (found != NULL)
        serve_reply_json(r, 200, found);
    else
        serve_reply_error(r, 404, "no backup \"%s\" in the repository", route->param);
}

static void get_metrics(ServeApi *a, ServeReply *r)
{
    static const char *const args[] = {"metrics"};
    char *text = NULL;
    size_t len = 0;
    if (run_child(a, args, 1, r, &text, &len, NULL) != 0)
        return;
    r->status = 200;
    r->type = "text/plain; version=0.0.4; charset=utf-8";
    r->body = text;
    r->len = len;
}

/* ---- /health ------------------------------------------------------------------------------- */

/* The summary of `pgpitr check --output json`: its overall status (from the exit status, the
 * Nagios convention check follows: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) and how many
 * checks had each status. Never a check's detail: /health needs no token. A check that could
 * not run, or printed no JSON (an older binary without check), is UNKNOWN. */
static json_t *health_summary(ServeApi *a)
{
    static const char *const args[] = {"check", "--output", "json"};
    static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    char *text = NULL;
    size_t len = 0;
    int st = -1;
    ServeReply r = {0};
    json_t *doc = NULL;
    if (run_child(a, args, 3, &r, &text, &len, &st) == 0)
        doc = json_loadb(text, len, 0, NULL);
    free(text);
    free(r.body);
    json_t *counts = json_object();
    json_t *checks = json_object_get(doc, "checks"), *c;
    size_t i;
    json_array_foreach(checks, i, c) {
        const char *s = json_string_value(json_object_get(c, "status"));
        char key[16];
        size_t k = 0;
        for (; s != NULL && s[k] != '\0' && k + 1 < sizeof key; k++)
            key[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] - 'A' + 'a' : s[k]);
        key[k] = '\0';
        if (strcmp(key, "ok") == 0 || strcmp(key, "warning") == 0 ||
            strcmp(key, "critical") == 0 || strcmp(key, "unknown") == 0 ||
            strcmp(key, "skipped") == 0)
            json_object_set_new(counts, key,
                                json_integer(json_integer_value(json_object_get(counts, key)) + 1));
    }
    const char *status = doc != NULL && st >= 0 && st <= 3 ? names[st] : "UNKNOWN";
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_decref(doc);
    return json_pack("{s:s, s:o, s:s}", "status", status, "counts",
                     counts != NULL ? counts : json_object(), "checked", when);
}

/* One `check` at a time, outside the lock: while it runs, other /health requests get the
 * previous summary (or UNKNOWN before the first) at once instead of holding a server thread
 * each, which a load balancer polling every second would otherwise do. */
static void get_health(ServeApi *a, ServeReply *r)
{
    struct timespec ts;
    pthread_mutex_lock(&a->health_mu);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    bool stale = a->health == NULL || ts.tv_sec - a->health_at >= SERVE_HEALTH_TTL;
    if (stale && !a->health_running) {
        a->health_running = true;
        pthread_mutex_unlock(&a->health_mu);
        json_t *fresh = health_summary(a);
        pthread_mutex_lock(&a->health_mu);
        json_decref(a->health);
        a->health = fresh;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        a->health_at = ts.tv_sec;
        a->health_running = false;
    }
    json_t *j = a->health != NULL
                    ? json_pack("{s:s, s:O}", "status", "up", "check", a->health)
                    : json_pack("{s:s, s:{s:s, s:{}, s:n}}", "status", "up", "check", "status",
                                "UNKNOWN", "counts", "checked");
    pthread_mutex_unlock(&a->health_mu);
    serve_reply_json(r, 200, j);
}

/* ---- drill reports ------------------------------------------------------------------------- */

typedef struct Ids {
    char (*v)[SERVE_PARAM_MAX];
    size_t n, cap;
} Ids;

static int collect_id(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Ids *ids = ud;
    size_t n = strlen(name);
    char id[SERVE_PARAM_MAX];
    if (info->is_dir || n < 6 || n - 5 >= sizeof id || strcmp(name + n - 5, ".json") != 0)
        return 0;
    memcpy(id, name, n - 5);
    id[n - 5] = '\0';
    if (!serve_drill_id_valid(id))
        return 0;
    if (ids->n == ids->cap) {
        size_t cap = ids->cap != 0 ? ids->cap * 2 : 64;
        void *v = realloc(ids->v, cap * sizeof *ids->v);
        if (v == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        ids->v = v;
        ids->cap = cap;
    }
    memcpy(ids->v[ids->n++], id, sizeof id);
    return 0;
}

static int id_desc(const void *x, const void *y)
{
    return -strcmp(x, y);
}

/* {id, status, started, finished} of one report; status "unreadable" when it does not parse. */
static json_t *drill_row(ServeApi *a, const char *id)
{
    char path[REPO_PATH_MAX], *text = NULL;
    size_t len = 0;
    json_t *j = NULL;
    if (repo_drill_report_path(id, path, NULL) == 0 &&
        meta_get_all(a->storage, a->key, path, DRILL_REPORT_MAX, &text, &len, NULL) == 0)
        j = json_loadb(text, len, 0, NULL);
    free(text);
    const char *status = json_string_value(json_object_get(j, "status"));
    json_t *row = json_pack("{s:s, s:s, s:O?, s:O?}", "id", id, "status",
                            status != NULL ? status : "unreadable", "started",
                            json_object_get(j, "started"), "finished",
                            json_object_get(j, "finished"));
    json_decref(j);
    return row;
}

static void get_drills(ServeApi *a, ServeReply *r)
{
    Ids ids = {0};
    PgpErr err = {0};
    pthread_mutex_lock(&a->storage_mu);
    int rc = storage_list(a->storage, REPO_LAYOUT_DRILL_DIR, collect_id, &ids, &err);
    json_t *list = json_array();
    if (rc == 0 && ids.n > 0) {
        qsort(ids.v, ids.n, sizeof *ids.v, id_desc);   /* ids sort by start time */
        for (size_t i = 0; i < ids.n && i < SERVE_DRILLS_LISTED; i++)
            json_array_append_new(list, drill_row(a, ids.v[i]));
    }
    pthread_mutex_unlock(&a->storage_mu);
    free(ids.v);
    if (rc != 0) {
        json_decref(list);
        log_error_report(&err);
        serve_reply_error(r, 500, "cannot list the drill reports: %s", err.msg);
        return;
    }
    serve_reply_json(r, 200, json_pack("{s:o}", "drills", list));
}

static void get_drill(ServeApi *a, const char *id, ServeReply *r)
{
    char path[REPO_PATH_MAX], *text = NULL;
    size_t len = 0;
    PgpErr err = {0};
    int rc = repo_drill_report_path(id, path, &err);
    pthread_mutex_lock(&a->storage_mu);
    if (rc == 0)
        rc = meta_get_all(a->storage, a->key, path, DRILL_REPORT_MAX, &text, &len, &err);
    pthread_mutex_unlock(&a->storage_mu);
    if (rc == PGP_ERR_NOT_FOUND) {
        serve_reply_error(r, 404, "no drill report \"%s\" in the repository", id);
    } else if (rc != 0) {
        log_error_report(&err);
        serve_reply_error(r, 500, "cannot read the drill report: %s", err.msg);
    } else {
        r->status = 200;
        r->type = "application/json";
        r->body = text;
        r->len = len;
    }
}

/* ---- jobs ---------------------------------------------------------------------------------- */

static void post_job(ServeApi *a, ServeJobKind k, const char *body, size_t len,
                     const char *token, ServeReply *r)
{
    ServeJobArgs args;
    char why[256], id[SERVE_PARAM_MAX] = "";
    if (!serve_job_args_parse(k, body, len, &args, why, sizeof why)) {
        serve_reply_error(r, 400, "%s", why);
        return;
    }
    PgpErr err = {0};
    int rc = serve_jobs_start(a->jobs, k, &args, token, id, &err);
    snprintf(r->value_buf, sizeof r->value_buf, "/api/v1/jobs/%s", id);
    if (rc == PGP_ERR_LOCKED) {
        serve_reply_json(r, 409, json_pack("{s:s, s:s, s:s}", "error", err.msg, "job", id,
                                           "location", r->value_buf));
    } else if (rc != 0) {
        log_error_report(&err);
        serve_reply_error(r, 500, "cannot start the job: %s", err.msg);
        return;
    } else {
        serve_reply_json(r, 202, json_pack("{s:s, s:s, s:s, s:s}", "id", id, "kind",
                                           serve_job_kind_name(k), "state", "running",
                                           "location", r->value_buf));
    }
    r->header = "Location";
    r->value = r->value_buf;
}

void serve_api_handle(ServeApi *a, const ServeRoute *route, bool post, const char *body,
                      size_t len, const char *token, ServeReply *r)
{
    ServeJobKind k;
    if (post && serve_route_job_kind(route, &k)) {
        post_job(a, k, body, len, token, r);
        return;
    }
    switch (route->id) {
    case SERVE_R_HEALTH: get_health(a, r); break;
    case SERVE_R_METRICS: get_metrics(a, r); break;
    case SERVE_R_INFO: get_info(a, r); break;
    case SERVE_R_BACKUPS:
    case SERVE_R_BACKUP: get_backups(a, route, r); break;
    case SERVE_R_DRILLS: get_drills(a, r); break;
    case SERVE_R_DRILL: get_drill(a, route->param, r); break;
    case SERVE_R_JOB: {
        json_t *j = serve_jobs_get(a->jobs, route->param);
        if (j != NULL)
            serve_reply_json(r, 200, j);
        else
            serve_reply_error(r, 404, "no job \"%s\" (finished jobs are kept for a while only)",
                              route->param);
        break;
    }
    default: serve_reply_error(r, 404, "no such endpoint"); break;
    }
}
