/*
 * serve_route.h - the pure parts of `pgpitr serve`'s HTTP API: which route a path is (with
 * its validated parameter), which methods and role it takes, and the small JSON body of a
 * POST mapped through a whitelist to the command's flags. No I/O: unit-tested on its own
 * (tests/unit/test_serve_route.c); docs/serve.openapi.yaml describes the same routes.
 */
#ifndef PGPITR_SERVE_ROUTE_H
#define PGPITR_SERVE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define SERVE_PARAM_MAX 128          /* a label, drill id or job id */
#define SERVE_BODY_MAX (64 * 1024)   /* a larger request body is 413 */
#define SERVE_JOB_ARGS_MAX 8         /* flags a body can give a job */
#define SERVE_ARG_MAX 160            /* "--target-time=..." */

typedef enum {
    SERVE_R_NONE,          /* no such route: 404 */
    SERVE_R_HEALTH,        /* /health */
    SERVE_R_METRICS,       /* /metrics */
    SERVE_R_INFO,          /* /api/v1/info */
    SERVE_R_BACKUPS,       /* /api/v1/backups */
    SERVE_R_BACKUP,        /* /api/v1/backups/{label} */
    SERVE_R_DRILLS,        /* /api/v1/drills */
    SERVE_R_DRILL,         /* /api/v1/drills/{id} */
    SERVE_R_VERIFY,        /* /api/v1/verify */
    SERVE_R_EXPIRE,        /* /api/v1/expire */
    SERVE_R_JOB,           /* /api/v1/jobs/{id} */
} ServeRouteId;

/* The kinds of job POST starts; one of each runs at a time. */
typedef enum {
    SERVE_JOB_BACKUP,
    SERVE_JOB_DRILL,
    SERVE_JOB_VERIFY,
    SERVE_JOB_EXPIRE,
    SERVE_JOB__COUNT
} ServeJobKind;

typedef struct ServeRoute {
    ServeRouteId id;
    const char *allow;             /* the Allow header: "GET", "GET, POST", "POST" */
    char param[SERVE_PARAM_MAX];   /* {label} / {id}, "" when the route has none */
    bool param_bad;                /* the parameter does not match its pattern: 400 */
} ServeRoute;

/* The route of path (the URL path without the query). */
void serve_route_match(const char *path, ServeRoute *out);
/* Whether route r takes method ("GET", "HEAD" counts as GET, "POST"). */
bool serve_route_allows(const ServeRoute *r, const char *method);
/* Whether a request needs a token at all (everything but /health). */
bool serve_route_needs_token(const ServeRoute *r);
/* The job kind a POST to r starts; false when r starts none. */
bool serve_route_job_kind(const ServeRoute *r, ServeJobKind *kind);
/* "backup", "drill", "verify", "expire": the command and the kind's name in a job. */
const char *serve_job_kind_name(ServeJobKind k);

/* Patterns: a backup label (as manifest_label_valid), a drill id
 * ("20261122T040000Z-3fa9": 16 characters, '-', 4 lowercase hex), a job id (as made by
 * serve_jobs.c: KIND-DIGITS-DIGITS). */
bool serve_label_valid(const char *s);
bool serve_drill_id_valid(const char *s);
bool serve_job_id_valid(const char *s);

typedef struct ServeJobArgs {
    char v[SERVE_JOB_ARGS_MAX][SERVE_ARG_MAX];   /* "--label=x", "--dry-run" */
    size_t n;
} ServeJobArgs;

/* The body of a POST starting a job of kind k (len 0: none) as the command's flags, through
 * the whitelist (docs/serve.md): backup {label, checkpoint}, drill {backup, target_time,
 * target_latest, target_immediate, amcheck}, verify {backup}, expire {dry_run}. Returns false
 * with why ("malformed JSON: ...", "unknown field \"x\"", "\"label\" must be ...") for a
 * body that is not a JSON object, a field not in the whitelist or a value of the wrong
 * type or form. */
bool serve_job_args_parse(ServeJobKind k, const char *body, size_t len, ServeJobArgs *out,
                          char *why, size_t why_size);

#endif
