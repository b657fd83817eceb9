/*
 * runcmd.c - another program run with a deadline (runcmd.h): fork, exec without a shell,
 * capture of a bounded stdout, a process-group kill at the deadline. Reports whether the
 * program could be started through a close-on-exec pipe (the child writes its exec errno).
 */
#include "pgpitr/common/runcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: stdin, stdout, own process group, exec; the exec errno goes to errfd. */
static void child(char *const argv[], int stdin_fd, int out_fd, int errfd)
{
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    int in = stdin_fd >= 0 ? stdin_fd : open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, STDIN_FILENO) < 0 || (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0))
        goto fail;
    if (stdin_fd >= 0)
        lseek(STDIN_FILENO, 0, SEEK_SET);   /* a file written by the caller: from its start */
    execvp(argv[0], argv);
fail:;
    int e = errno;
    ssize_t w = write(errfd, &e, sizeof e);
    (void)w;
    _exit(127);
}

/* Reads what the child writes until EOF or the deadline; keeps at most max bytes. */
static int capture(int fd, size_t max, int64_t deadline, RunCmdResult *r, PgpErr *err)
{
    r->out = malloc(max + 1);
    if (r->out == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    char buf[4096];
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            r->timed_out = true;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (n < 0 && errno != EINTR) {
            int e = errno;
            explicit_bzero(buf, sizeof buf);
            return PGP_FAIL_SYS(err, e, "cannot read a child's output");
        }
        if (n <= 0)
            continue;
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size_t keep = (size_t)got;
        if (r->out_len + keep > max) {
            keep = max - r->out_len;
            r->truncated = true;
        }
        memcpy(r->out + r->out_len, buf, keep);
        r->out_len += keep;
    }
    r->out[r->out_len] = '\0';
    explicit_bzero(buf, sizeof buf);    /* it may have held a key (a key command's output) */
    return 0;
}

/* Waits for pid until the deadline, then kills its group and reaps it. */
static void reap(pid_t pid, int64_t deadline, RunCmdResult *r)
{
    int status = 0;
    if (r->timed_out) {            /* the capture ran out of time */
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
    }
    for (;;) {
        pid_t w = waitpid(pid, &status, r->timed_out ? 0 : WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return;
        if (!r->timed_out && now_ms() >= deadline) {
            r->timed_out = true;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            continue;
        }
        if (w == 0) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (r->timed_out)
        kill(-pid, SIGKILL);       /* what the program left running in its group */
    if (WIFEXITED(status))
        r->exit_status = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r->signal = WTERMSIG(status);
}

int runcmd(char *const argv[], int stdin_fd, size_t capture_max, int timeout_s,
           RunCmdResult *r, PgpErr *err)
{
    memset(r, 0, sizeof *r);
    r->exit_status = -1;
    int out[2] = {-1, -1}, ep[2] = {-1, -1};
    if ((capture_max > 0 && pipe2(out, O_CLOEXEC) != 0) || pipe2(ep, O_CLOEXEC) != 0) {
        int e = errno;
        if (out[0] >= 0)
            close(out[0]), close(out[1]);
        return PGP_FAIL_SYS(err, e, "cannot run \"%s\"", argv[0]);
    }
    int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
    pid_t pid = fork();
    if (pid == 0)
        child(argv, stdin_fd, out[1], ep[1]);
    int rc = 0, e = errno;
    if (out[1] >= 0)
        close(out[1]);
    close(ep[1]);
    if (pid < 0) {
        rc = PGP_FAIL_SYS(err, e, "cannot run \"%s\"", argv[0]);
    } else {
        int child_errno = 0;
        ssize_t n;
        do
            n = read(ep[0], &child_errno, sizeof child_errno);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof child_errno) {
            reap(pid, deadline, r);
            rc = PGP_FAIL_SYS(err, child_errno, "cannot run \"%s\"", argv[0]);
        } else {
            if (capture_max > 0)
                rc = capture(out[0], capture_max, deadline, r, err);
            reap(pid, deadline, r);
        }
    }
    if (out[0] >= 0)
        close(out[0]);
    close(ep[0]);
    if (rc != 0)
        runcmd_result_free(r);
    return rc;
}

void runcmd_result_free(RunCmdResult *r)
{
    if (r == NULL)
        return;
    if (r->out != NULL)   /* it may hold a key: wiped on every path, not only by the caller */
        explicit_bzero(r->out, r->out_len);
    free(r->out);
    r->out = NULL;
    r->out_len = 0;
}
