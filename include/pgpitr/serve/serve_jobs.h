/*
 * serve_jobs.h - the jobs of `pgpitr serve`: commands (backup, drill, verify, expire) run as
 * child processes of the server, one of each kind at a time, their output kept in a bounded
 * ring buffer, their end recorded; and the short synchronous children the GET endpoints run
 * (info, check, metrics).
 *
 * Children are the server's own binary (/proc/self/exe: the very file the server runs, even
 * after an upgrade replaced the path) with the server's global settings (ServeJobs.base), so
 * they take the same repository locks as the CLI: a backup started over HTTP and one started
 * by cron exclude each other. Each running job has a thread that reads its output and reaps
 * it (waitpid); nothing else waits for children.
 */
#ifndef PGPITR_SERVE_JOBS_H
#define PGPITR_SERVE_JOBS_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pgpitr/common/err.h"
#include "pgpitr/serve/serve_route.h"

#define SERVE_RING_SIZE (64 * 1024)     /* output kept per job (its last bytes) */
#define SERVE_JOB_STDOUT_MAX (4u << 20) /* stdout kept to parse the JSON result */
#define SERVE_JOBS_KEPT 32              /* finished jobs remembered, oldest dropped first */
#define SERVE_JOB_TAIL_LINES 40         /* lines of output a job's answer shows */

/* The last `cap` bytes written. */
typedef struct ServeRing {
    char *buf;
    size_t cap, start, len;
    uint64_t total;           /* bytes ever written */
} ServeRing;

int serve_ring_init(ServeRing *r, size_t cap, PgpErr *err);
void serve_ring_put(ServeRing *r, const char *data, size_t n);
/* The last n lines (a partial first line dropped when the ring wrapped), malloc'd as a JSON
 * array of strings; NULL when out of memory. */
json_t *serve_ring_tail(const ServeRing *r, size_t n);
void serve_ring_free(ServeRing *r);

typedef enum { SERVE_JOB_RUNNING, SERVE_JOB_SUCCEEDED, SERVE_JOB_FAILED } ServeJobState;

typedef struct ServeJob {
    char id[SERVE_PARAM_MAX];
    ServeJobKind kind;
    ServeJobState state;
    char token[64];           /* the name of the token that started it */
    pid_t pid;
    int exit_status;          /* the child's exit status; -1 while running or when killed */
    int term_signal;          /* the signal that ended it, 0 if none */
    int64_t started_us, finished_us;
    ServeRing out;            /* stdout and stderr as they came */
    char *stdout_buf;         /* stdout alone, for the JSON result */
    size_t stdout_len;
    bool stdout_cut;          /* stdout beyond SERVE_JOB_STDOUT_MAX was dropped */
    pthread_t thread;
    bool joined;
} ServeJob;

typedef struct ServeJobs {
    pthread_mutex_t mu;
    char **base;              /* "pgpitr", then the global options every child gets */
    size_t n_base;
    ServeJob *v[SERVE_JOBS_KEPT + SERVE_JOB__COUNT];   /* oldest first */
    size_t n;
    int64_t epoch;            /* server start (seconds): job ids are KIND-EPOCH-SEQ */
    unsigned seq;
    bool stopping;            /* no new job once shutdown began */
} ServeJobs;

/* base: argv[0] and global options (copied). */
int serve_jobs_init(ServeJobs *j, char *const *base, size_t n_base, PgpErr *err);
/* Starts a job of kind k with the command's args (--output json is added); *id is its id.
 * A job of the same kind still running: PGP_ERR_LOCKED, *id the running job's id. */
int serve_jobs_start(ServeJobs *j, ServeJobKind k, const ServeJobArgs *args, const char *token,
                     char id[SERVE_PARAM_MAX], PgpErr *err);
/* The job's JSON (docs/serve.openapi.yaml, Job), NULL when there is no such job. */
json_t *serve_jobs_get(ServeJobs *j, const char *id);
/* Shutdown: SIGTERM to every running child, then waits for each to end (a drill stops its
 * server and removes its work directory; a backup ends, its lock then held by a process that
 * no longer exists, which the next backup takes over) and frees everything. */
void serve_jobs_shutdown(ServeJobs *j);

/* Table only (unit tests): whether a job of kind k runs (its id in id), and dropping the oldest
 * finished jobs beyond SERVE_JOBS_KEPT. Called with j->mu held. */
bool serve_jobs_running(ServeJobs *j, ServeJobKind k, char id[SERVE_PARAM_MAX]);
void serve_jobs_trim(ServeJobs *j);
/* The job's JSON from its fields (called with j->mu held). */
json_t *serve_job_json(const ServeJob *job);

/* Runs `pgpitr [base] args...` to its end, capturing stdout (up to max bytes: more is an error)
 * with stderr going to the server's; fails after timeout_s (the child is killed). *status is
 * its exit status (-1 if killed by a signal). */
int serve_child_run(const ServeJobs *j, const char *const *args, size_t n_args, size_t max,
                    int timeout_s, char **out, size_t *len, int *status, PgpErr *err);

#endif
