/*
 * serve_jobs.c - the job table, the output ring buffer and the child processes of
 * `pgpitr serve` (serve_jobs.h).
 */
#include "pgpitr/serve/serve_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/log.h"
#include "pgpitr/common/timefmt.h"

extern char **environ;

/* Children run the file this process runs, not whatever the path names now (docs/serve.md). */
#define SELF_EXE "/proc/self/exe"

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- ring buffer --------------------------------------------------------------------------- */

int serve_ring_init(ServeRing *r, size_t cap, PgpErr *err)
{
    memset(r, 0, sizeof *r);
    if ((r->buf = malloc(cap)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    r->cap = cap;
    return 0;
}

void serve_ring_put(ServeRing *r, const char *data, size_t n)
{
    r->total += n;
    if (n >= r->cap) {   /* only the last cap bytes survive */
        memcpy(r->buf, data + n - r->cap, r->cap);
        r->start = 0;
        r->len = r->cap;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        r->buf[(r->start + r->len) % r->cap] = data[i];
        if (r->len < r->cap)
            r->len++;
        else
            r->start = (r->start + 1) % r->cap;
    }
}

json_t *serve_ring_tail(const ServeRing *r, size_t n)
{
    json_t *a = json_array();
    char *flat = malloc(r->len + 1);
    if (a == NULL || flat == NULL) {
        free(flat);
        json_decref(a);
        return NULL;
    }
    /* bytes that are not printable ASCII become '?': the answer must be valid UTF-8 JSON */
    for (size_t i = 0; i < r->len; i++) {
        char c = r->buf[(r->start + i) % r->cap];
        flat[i] = c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f) ? c : '?';
    }
    flat[r->len] = '\0';
    char *p = flat, *end = flat + r->len;
    if (end > p && end[-1] == '\n')
        *--end = '\0';
    char *nl = r->total > r->len ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    if (nl != NULL)   /* the first line was cut by the wrap */
        p = nl + 1;
    size_t lines = 0;
    char *from = end;
    while (from > p && lines < n) {
        char *q = from;
        while (q > p && q[-1] != '\n')
            q--;
        lines++;
        from = q > p ? q - 1 : p;
        if (q == p)
            break;
    }
    if (from > p)
        from++;   /* past the '\n' that ended the line before */
    for (size_t i = 0; i < lines; i++) {
        size_t l = strcspn(from, "\n");
        json_array_append_new(a, json_stringn(from, l));
        from += l + (from[l] == '\n');
    }
    free(flat);
    return a;
}

void serve_ring_free(ServeRing *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}
/* ---- children ------------------------------------------------------------------------------ */

/* Starts SELF_EXE with base + args; its stdout to *out_fd (a pipe, read end), its stderr to
 * *err_fd (a pipe) or, err_fd NULL, to ours; stdin /dev/null. The child gets the default
 * signal mask and dispositions: the server blocks its signals in every thread (serve.c). */
static int spawn(const ServeJobs *j, const char *const *args, size_t n_args, pid_t *pid,
                 int *out_fd, int *err_fd, PgpErr *err)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1}, rc = 0;
    char **argv = calloc(j->n_base + n_args + 1, sizeof *argv);
    if (argv == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < j->n_base; i++)
        argv[i] = j->base[i];
    for (size_t i = 0; i < n_args; i++)
        argv[j->n_base + i] = (char *)args[i];
    if (pipe2(po, O_CLOEXEC) != 0 || (err_fd != NULL && pipe2(pe, O_CLOEXEC) != 0)) {
        rc = PGP_FAIL_SYS(err, errno, "cannot create a pipe");
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    if (err_fd != NULL)
        posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int e = posix_spawn(pid, SELF_EXE, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (e != 0) {
        rc = PGP_FAIL_SYS(err, e, "cannot start \"%s\"", SELF_EXE);
        goto out;
    }
    *out_fd = po[0];
    po[0] = -1;
    if (err_fd != NULL) {
        *err_fd = pe[0];
        pe[0] = -1;
    }
out:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    free(argv);
    return rc;
}

/* waitpid, retried on EINTR: the exit status, or -1 with *sig the signal that ended it. */
static int reap(pid_t pid, int *sig)
{
    int st = 0;
    *sig = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFSIGNALED(st)) {
        *sig = WTERMSIG(st);
        return -1;
    }
    return WEXITSTATUS(st);
}

int serve_child_run(const ServeJobs *j, const char *const *args, size_t n_args, size_t max,
                    int timeout_s, char **out, size_t *len, int *status, PgpErr *err)
{
    pid_t pid;
    int fd = -1, rc = spawn(j, args, n_args, &pid, &fd, NULL, err), sig;
    if (rc != 0)
        return rc;
    size_t cap = 0, used = 0;
    char *buf = NULL;
    int64_t deadline = now_us() + (int64_t)timeout_s * 1000000;
    for (;;) {
        int64_t left = (deadline - now_us()) / 1000;
        struct pollfd p = {fd, POLLIN, 0};
        int n = left > 0 ? poll(&p, 1, (int)(left > 1000 ? 1000 : left)) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 && left <= 0) {
            kill(pid, SIGKILL);
            rc = PGP_FAIL(err, PGP_ERR_IO, "\"pgpitr %s\" took more than %d s", args[0],
                          timeout_s);
            break;
        }
        if (n <= 0)
            continue;
        if (used + 65536 + 1 > cap) {
            char *b = cap < max + 65536 + 1 ? realloc(buf, cap = used + 65536 * 4 + 1) : NULL;
            if (b == NULL) {
                kill(pid, SIGKILL);
                rc = PGP_FAIL(err, PGP_ERR_NOMEM, "\"pgpitr %s\" printed too much", args[0]);
                break;
            }
            buf = b;
        }
        ssize_t got = read(fd, buf + used, 65536);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        used += (size_t)got;
    }
    close(fd);
    *status = reap(pid, &sig);
    if (rc == 0 && used > max)
        rc = PGP_FAIL(err, PGP_ERR_IO, "\"pgpitr %s\" printed more than %zu bytes", args[0], max);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    if (buf == NULL && (buf = malloc(1)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return 0;
}

/* ---- the job table ------------------------------------------------------------------------- */

int serve_jobs_init(ServeJobs *j, char *const *base, size_t n_base, PgpErr *err)
{
    memset(j, 0, sizeof *j);
    pthread_mutex_init(&j->mu, NULL);
    j->epoch = (int64_t)time(NULL);
    if ((j->base = calloc(n_base + 1, sizeof *j->base)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n_base; i++)
        if ((j->base[j->n_base++] = strdup(base[i])) == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    return 0;
}

bool serve_jobs_running(ServeJobs *j, ServeJobKind k, char id[SERVE_PARAM_MAX])
{
    for (size_t i = 0; i < j->n; i++)
        if (j->v[i]->kind == k && j->v[i]->state == SERVE_JOB_RUNNING) {
            snprintf(id, SERVE_PARAM_MAX, "%s", j->v[i]->id);
            return true;
        }
    return false;
}

static void job_free(ServeJob *job)
{
    serve_ring_free(&job->out);
    free(job->stdout_buf);
    free(job);
}

void serve_jobs_trim(ServeJobs *j)
{
    size_t finished = 0;
    for (size_t i = 0; i < j->n; i++)
        finished += j->v[i]->state != SERVE_JOB_RUNNING;
    for (size_t i = 0; i < j->n && finished > SERVE_JOBS_KEPT;) {
        ServeJob *job = j->v[i];
        if (job->state == SERVE_JOB_RUNNING) {
            i++;
            continue;
        }
        if (!job->joined)
            pthread_join(job->thread, NULL);   /* it has ended: the state is its last write */
        job_free(job);
        memmove(&j->v[i], &j->v[i + 1], (j->n - i - 1) * sizeof j->v[0]);
        j->n--;
        finished--;
    }
}

typedef struct JobRun {
    ServeJobs *j;
    ServeJob *job;
    int out_fd, err_fd;
} JobRun;

/* Appends what a child printed on stdout (fd_index 0) or stderr (1), under the table lock. */
static void job_output(ServeJobs *j, ServeJob *job, int fd_index, const char *buf, size_t n)
{
    pthread_mutex_lock(&j->mu);
    serve_ring_put(&job->out, buf, n);
    if (fd_index == 0) {
        size_t keep = job->stdout_len + n <= SERVE_JOB_STDOUT_MAX
                          ? n : SERVE_JOB_STDOUT_MAX - job->stdout_len;
        job->stdout_cut |= keep < n;
        memcpy(job->stdout_buf + job->stdout_len, buf, keep);
        job->stdout_len += keep;
    }
    pthread_mutex_unlock(&j->mu);
}

/* The job's thread: reads both pipes to their end, then reaps the child. */
static void *job_thread(void *arg)
{
    JobRun run = *(JobRun *)arg;
    free(arg);
    struct pollfd p[2] = {{run.out_fd, POLLIN, 0}, {run.err_fd, POLLIN, 0}};
    char buf[8192];
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || p[i].revents == 0)
                continue;
            ssize_t got = read(p[i].fd, buf, sizeof buf);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                close(p[i].fd);
                p[i].fd = -1;   /* poll skips a negative fd */
                continue;
            }
            job_output(run.j, run.job, i, buf, (size_t)got);
        }
    }
    for (int i = 0; i < 2; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    int sig, status = reap(run.job->pid, &sig);
    pthread_mutex_lock(&run.j->mu);
    ServeJob *job = run.job;
    job->exit_status = status;
    job->term_signal = sig;
    job->finished_us = now_us();
    job->state = status == 0 ? SERVE_JOB_SUCCEEDED : SERVE_JOB_FAILED;
    /* a failure says why in the server's log too, not only to whoever polls the job */
    json_t *last = status != 0 ? serve_ring_tail(&job->out, 1) : NULL;
    const char *why = json_string_value(json_array_get(last, 0));
    log_msg(status == 0 ? LOG_INFO : LOG_WARN, "serve: job %s ended: %s (exit status %d%s%s)%s%s",
            job->id, status == 0 ? "succeeded" : "failed", status, sig != 0 ? ", signal " : "",
            sig != 0 ? strsignal(sig) : "", why != NULL ? ": " : "", why != NULL ? why : "");
    json_decref(last);
    pthread_mutex_unlock(&run.j->mu);
    return NULL;
}

/* A new job record for kind k (table lock held); NULL when out of memory. */
static ServeJob *job_new(ServeJobs *j, ServeJobKind k, const char *token)
{
    ServeJob *job = calloc(1, sizeof *job);
    if (job == NULL || serve_ring_init(&job->out, SERVE_RING_SIZE, NULL) != 0 ||
        (job->stdout_buf = malloc(SERVE_JOB_STDOUT_MAX + 1)) == NULL) {
        if (job != NULL)
            job_free(job);
        return NULL;
    }
    job->kind = k;
    job->exit_status = -1;
    job->started_us = now_us();
    snprintf(job->token, sizeof job->token, "%s", token);
    snprintf(job->id, sizeof job->id, "%s-%lld-%u", serve_job_kind_name(k), (long long)j->epoch,
             ++j->seq);
    return job;
}

int serve_jobs_start(ServeJobs *j, ServeJobKind k, const ServeJobArgs *args, const char *token,
                     char id[SERVE_PARAM_MAX], PgpErr *err)
{
    pthread_mutex_lock(&j->mu);
    int rc = 0;
    JobRun *run = NULL;
    ServeJob *job = NULL;
    if (j->stopping) {
        rc = PGP_FAIL(err, PGP_ERR_IO, "the server is shutting down");
        goto out;
    }
    if (serve_jobs_running(j, k, id)) {
        rc = PGP_FAIL(err, PGP_ERR_LOCKED, "a %s job is running: %s", serve_job_kind_name(k), id);
        goto out;
    }
    serve_jobs_trim(j);
    if ((job = job_new(j, k, token)) == NULL || (run = calloc(1, sizeof *run)) == NULL) {
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        goto out;
    }
    const char *argv[SERVE_JOB_ARGS_MAX + 3] = {serve_job_kind_name(k), "--output", "json"};
    for (size_t i = 0; i < args->n; i++)
        argv[3 + i] = args->v[i];
    *run = (JobRun){j, job, -1, -1};
    if ((rc = spawn(j, argv, 3 + args->n, &job->pid, &run->out_fd, &run->err_fd, err)) != 0)
        goto out;
    if (pthread_create(&job->thread, NULL, job_thread, run) != 0) {
        /* cannot watch it: stop it rather than leave a child nobody reaps */
        kill(job->pid, SIGKILL);
        int sig;
        reap(job->pid, &sig);
        close(run->out_fd);
        close(run->err_fd);
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "cannot start a thread for the job");
        goto out;
    }
    run = NULL;   /* the thread's */
    j->v[j->n++] = job;
    snprintf(id, SERVE_PARAM_MAX, "%s", job->id);
    log_info("serve: job %s started by token %s (pid %d)", job->id, token, (int)job->pid);
    job = NULL;
out:
    pthread_mutex_unlock(&j->mu);
    free(run);
    if (job != NULL)
        job_free(job);
    return rc;
}

static json_t *time_json(int64_t us)
{
    char t[TIMEFMT_MAX];
    if (us == 0 || !timefmt_iso(us / 1000000, 0, t, sizeof t))
        return json_null();
    return json_string(t);
}

json_t *serve_job_json(const ServeJob *job)
{
    static const char *const states[] = {"running", "succeeded", "failed"};
    json_t *result = NULL;
    if (job->state != SERVE_JOB_RUNNING && job->stdout_len > 0 && !job->stdout_cut)
        result = json_loadb(job->stdout_buf, job->stdout_len, 0, NULL);
    json_t *tail = serve_ring_tail(&job->out, SERVE_JOB_TAIL_LINES);
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "id", job->id, "kind",
                     serve_job_kind_name(job->kind), "state", states[job->state], "token",
                     job->token, "exit_status",
                     job->state == SERVE_JOB_RUNNING || job->exit_status < 0
                         ? json_null() : json_integer(job->exit_status),
                     "signal",
                     job->term_signal != 0 ? json_string(strsignal(job->term_signal))
                                           : json_null(),
                     "started", time_json(job->started_us), "finished",
                     time_json(job->finished_us), "output_tail",
                     tail != NULL ? tail : json_array(), "result",
                     result != NULL ? result : json_null());
}

json_t *serve_jobs_get(ServeJobs *j, const char *id)
{
    json_t *out = NULL;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->n && out == NULL; i++)
        if (strcmp(j->v[i]->id, id) == 0)
            out = serve_job_json(j->v[i]);
    pthread_mutex_unlock(&j->mu);
    return out;
}

void serve_jobs_shutdown(ServeJobs *j)
{
    pthread_mutex_lock(&j->mu);
    j->stopping = true;
    for (size_t i = 0; i < j->n; i++)
        if (j->v[i]->state == SERVE_JOB_RUNNING) {
            log_warn("serve: stopping job %s (pid %d)", j->v[i]->id, (int)j->v[i]->pid);
            kill(j->v[i]->pid, SIGTERM);
        }
    pthread_mutex_unlock(&j->mu);
    /* No job starts once stopping is set and trim runs only from start: the list is stable. */
    for (size_t i = 0; i < j->n; i++) {
        if (!j->v[i]->joined)
            pthread_join(j->v[i]->thread, NULL);
        job_free(j->v[i]);
    }
    j->n = 0;
    for (size_t i = 0; i < j->n_base; i++)
        free(j->base[i]);
    free(j->base);
    j->base = NULL;
    pthread_mutex_destroy(&j->mu);
}
