/*
 * server.c - running a private postgres (and its client programs) as child processes of
 * pgpitr for drills; see pgserver.h. Owns fork/exec, signals and reaping of those children
 * and nothing else: no settings policy, no SQL, no log parsing (serverlog.c).
 */
#include "pgpitr/pg/pgserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_NS 50000000L   /* 50 ms between waitpid polls */
#define QUIT_WAIT_S 10

struct PgServer {
    pid_t pid;
    bool exited;
    int status;               /* waitpid status once exited */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap(void)
{
    struct timespec ts = {0, POLL_NS};
    nanosleep(&ts, NULL);
}

static void describe_status(int st, char *out, size_t size)
{
    if (WIFEXITED(st))
        snprintf(out, size, "exit code %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, size, "signal %d", WTERMSIG(st));
    else
        snprintf(out, size, "status 0x%x", (unsigned)st);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_exec(const char *path, char *const argv[], int logfd, int errfd, pid_t parent,
                       int death_signal)
{
    static const int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1,
                                SIGUSR2};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        sigaction(reset[i], &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, death_signal);
    int e = 0;
    if (getppid() != parent) /* pgpitr died before prctl took effect */
        _exit(127);
    int nul = open("/dev/null", O_RDONLY);
    if (nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(logfd, STDOUT_FILENO) < 0 ||
        dup2(logfd, STDERR_FILENO) < 0) {
        e = errno;
    } else {
        execv(path, argv);
        e = errno;
    }
    ssize_t w = write(errfd, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* Starts path with argv, output appended to log_path. Returns once the exec succeeded (or
 * failed: PGP_ERR_CONFIG naming path). */
static int spawn(const char *path, char *const argv[], const char *log_path, int death_signal,
                 pid_t *pid, PgpErr *err)
{
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", log_path);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        int e = errno;
        close(logfd);
        return PGP_FAIL_SYS(err, e, "cannot create a pipe");
    }
    pid_t parent = getpid();
    fflush(NULL);
    pid_t p = fork();
    if (p == 0)
        child_exec(path, argv, logfd, pfd[1], parent, death_signal);
    int fork_errno = errno;
    close(pfd[1]);
    close(logfd);
    if (p < 0) {
        close(pfd[0]);
        return PGP_FAIL_SYS(err, fork_errno, "cannot start \"%s\": fork", path);
    }
    int child_errno = 0;
    ssize_t got;
    do
        got = read(pfd[0], &child_errno, sizeof child_errno);
    while (got < 0 && errno == EINTR);
    close(pfd[0]);
    if (got > 0) {
        waitpid(p, NULL, 0);
        PGP_FAIL(err, PGP_ERR_CONFIG, "cannot run \"%s\": %s", path, strerror(child_errno));
        pgp_err_hint(err, "install the PostgreSQL server package of that version, or give its "
                     "bin directory with --pg-bin");
        return PGP_ERR_CONFIG;
    }
    *pid = p;
    return 0;
}

static int check_setting(const PgServerSetting *s, PgpErr *err)
{
    if (s->name == NULL || s->name[0] == '\0' || strchr(s->name, '=') != NULL ||
        s->value == NULL || strchr(s->value, '\n') != NULL)
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid server setting \"%s\"",
                        s->name ? s->name : "(null)");
    return 0;
}

int pg_server_start(const PgServerOptions *o, PgServer **out, PgpErr *err)
{
    *out = NULL;
    size_t argc = 3 + 2 * o->n_settings + 1;
    char **argv = calloc(argc, sizeof *argv);
    char **alloc = calloc(o->n_settings + 2, sizeof *alloc);
    PgServer *s = calloc(1, sizeof *s);
    int rc = 0;
    if (argv == NULL || alloc == NULL || s == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    size_t n = 0, na = 0;
    if (rc == 0 && asprintf(&alloc[na], "%s/postgres", o->bin_dir) < 0)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        argv[n++] = alloc[na++];
        argv[n++] = (char *)"-D";
        argv[n++] = (char *)o->pgdata;
    }
    for (size_t i = 0; rc == 0 && i < o->n_settings; i++) {
        rc = check_setting(&o->settings[i], err);
        if (rc == 0 && asprintf(&alloc[na], "%s=%s", o->settings[i].name,
                                o->settings[i].value) < 0)
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        if (rc == 0) {
            argv[n++] = (char *)"-c";
            argv[n++] = alloc[na++];
        }
    }
    if (rc == 0)
        rc = spawn(argv[0], argv, o->log_path, SIGQUIT, &s->pid, err);
    for (size_t i = 0; alloc != NULL && i < na; i++)
        free(alloc[i]);
    free(alloc);
    free(argv);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

pid_t pg_server_pid(const PgServer *s)
{
    return s ? s->pid : 0;
}

static bool reap(PgServer *s)
{
    if (s->exited)
        return true;
    int st;
    pid_t r = waitpid(s->pid, &st, WNOHANG);
    if (r == s->pid || (r < 0 && errno == ECHILD)) {
        s->exited = true;
        s->status = r == s->pid ? st : 0;
    }
    return s->exited;
}

bool pg_server_exited(PgServer *s, char *how, size_t how_size)
{
    if (!reap(s))
        return false;
    if (how != NULL && how_size > 0)
        describe_status(s->status, how, how_size);
    return true;
}

static bool wait_exit(PgServer *s, double seconds)
{
    double deadline = mono_s() + seconds;
    while (!reap(s)) {
        if (mono_s() >= deadline)
            return false;
        nap();
    }
    return true;
}

int pg_server_stop(PgServer *s, int timeout_s, PgpErr *err)
{
    if (s == NULL || reap(s))
        return 0;
    kill(s->pid, SIGINT);
    if (wait_exit(s, timeout_s))
        return 0;
    kill(s->pid, SIGQUIT);
    if (!wait_exit(s, QUIT_WAIT_S)) {
        kill(s->pid, SIGKILL);
        wait_exit(s, QUIT_WAIT_S);
    }
    return PGP_FAIL(err, PGP_ERR_PG, "the drill server (pid %ld) did not stop within %d s of a "
                    "fast shutdown request and was stopped immediately", (long)s->pid, timeout_s);
}

void pg_server_free(PgServer *s)
{
    if (s == NULL)
        return;
    if (!reap(s)) {
        kill(s->pid, SIGQUIT);
        if (!wait_exit(s, QUIT_WAIT_S)) {
            kill(s->pid, SIGKILL);
            wait_exit(s, QUIT_WAIT_S);
        }
    }
    free(s);
}

static int wait_tool(PgServer *t, const char *tool, int timeout_s,
                     const volatile sig_atomic_t *cancel, int *exit_code, PgpErr *err)
{
    double deadline = mono_s() + timeout_s;
    while (!reap(t)) {
        bool cancelled = cancel != NULL && *cancel != 0;
        if (cancelled || mono_s() >= deadline) {
            kill(t->pid, SIGKILL);
            waitpid(t->pid, NULL, 0);
            if (cancelled)
                return PGP_FAIL(err, PGP_ERR_IO, "%s interrupted", tool);
            return PGP_FAIL(err, PGP_ERR_PG, "%s did not finish within %d s", tool, timeout_s);
        }
        nap();
    }
    if (WIFEXITED(t->status))
        *exit_code = WEXITSTATUS(t->status);
    else
        *exit_code = 128 + (WIFSIGNALED(t->status) ? WTERMSIG(t->status) : 0);
    return 0;
}

int pg_server_run_tool(const char *bin_dir, const char *tool, const char *const *args,
                       const char *log_path, int timeout_s, const volatile sig_atomic_t *cancel,
                       int *exit_code, PgpErr *err)
{
    size_t n = 0;
    while (args[n] != NULL)
        n++;
    char **argv = calloc(n + 2, sizeof *argv);
    char *path = NULL;
    if (argv == NULL || asprintf(&path, "%s/%s", bin_dir, tool) < 0) {
        free(argv);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    argv[0] = path;
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = (char *)args[i];
    PgServer t = {0};
    int rc = spawn(path, argv, log_path, SIGKILL, &t.pid, err);
    if (rc == 0)
        rc = wait_tool(&t, tool, timeout_s, cancel, exit_code, err);
    free(path);
    free(argv);
    return rc;
}

int pg_server_free_port(int *port, PgpErr *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create a socket to find a free port");
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot find a free port");
    else
        *port = ntohs(a.sin_port);
    close(fd);
    return rc;
}

int pg_server_conf_line(const char *name, const char *value, char **line, PgpErr *err)
{
    *line = NULL;
    size_t nl = strlen(name);
    if (nl == 0 || nl > 63 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789_.") != nl)
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid setting name \"%.64s\"", name);
    if (strchr(value, '\n') != NULL || strchr(value, '\r') != NULL)
        return PGP_FAIL(err, PGP_ERR_USAGE, "the value of setting \"%s\" holds a line break",
                        name);
    size_t vl = strlen(value);
    char *out = malloc(nl + 2 * vl + 8);
    if (out == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    char *p = out;
    memcpy(p, name, nl);
    p += nl;
    memcpy(p, " = '", 4);
    p += 4;
    for (const char *v = value; *v != '\0'; v++) {
        if (*v == '\'' || *v == '\\')
            *p++ = *v;
        *p++ = *v;
    }
    *p++ = '\'';
    *p = '\0';
    *line = out;
    return 0;
}
