/*
 * runcmd.h - running another program with a deadline: argv executed directly (never through a
 * shell, so no byte of an argument is ever interpreted), an optional file descriptor as its
 * stdin, its stdout captured up to a bound (the rest is read and dropped, so the child never
 * blocks on a full pipe) or inherited, and the whole process group killed when the deadline
 * passes. For `pgpitr notify`, which asks systemctl and journalctl and runs the site's
 * notify-command.
 */
#ifndef PGPITR_RUNCMD_H
#define PGPITR_RUNCMD_H

#include <stdbool.h>
#include <stddef.h>

#include "pgpitr/common/err.h"

typedef struct RunCmdResult {
    char *out;              /* captured stdout, NUL-terminated (malloc'd; NULL if not captured) */
    size_t out_len;
    bool truncated;         /* stdout was longer than the bound */
    bool timed_out;         /* killed at the deadline */
    int exit_status;        /* when it exited: its status; -1 otherwise */
    int signal;             /* when a signal ended it: the signal; 0 otherwise */
} RunCmdResult;

/* Runs argv[0] (looked up in PATH) with argv. stdin_fd >= 0 becomes its stdin (else
 * /dev/null); with capture_max > 0 its stdout is captured up to that many bytes, else it is
 * inherited; stderr is inherited. The child runs in its own process group, which is killed
 * (SIGKILL) after timeout_s. Returns 0 when the program ran (whatever its status: see *r),
 * PGP_ERR_IO when it could not be started ("cannot run \"systemctl\": No such file..."). Free
 * r->out with runcmd_result_free. */
int runcmd(char *const argv[], int stdin_fd, size_t capture_max, int timeout_s,
           RunCmdResult *r, PgpErr *err);
void runcmd_result_free(RunCmdResult *r);

#endif
