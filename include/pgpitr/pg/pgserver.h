/*
 * pgserver.h - a private PostgreSQL server for drills, run as a child process of pgpitr:
 * start `postgres -D DATA -c name=value ...` (never through pg_ctl: no detached daemon, the
 * pid is ours to watch and to stop), notice when it exits, stop it (fast, then immediate,
 * then SIGKILL), and run a client program of the same installation (pg_amcheck) with a time
 * limit. Knows nothing about what the settings mean: the caller (cmd/drill.c) decides them.
 *
 * The child gets its own process group (a terminal's Ctrl-C reaches pgpitr, which then stops
 * the server in order) and PR_SET_PDEATHSIG = SIGQUIT (if pgpitr is killed, the server stops
 * at once instead of living on unwatched). stdin is /dev/null; stdout and stderr are appended
 * to a log file.
 */
#ifndef PGPITR_PGSERVER_H
#define PGPITR_PGSERVER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "pgpitr/common/err.h"

typedef struct PgServerSetting {
    const char *name;
    const char *value;
} PgServerSetting;

typedef struct PgServerOptions {
    const char *bin_dir;              /* directory holding the postgres binary */
    const char *pgdata;
    const char *log_path;             /* stdout + stderr, appended (created 0600) */
    const PgServerSetting *settings;  /* passed as "-c name=value", which no configuration
                                         file can override */
    size_t n_settings;
} PgServerOptions;

typedef struct PgServer PgServer;

/* Forks and execs bin_dir/postgres. PGP_ERR_CONFIG when the binary is missing or cannot be
 * executed (the exec error comes back through a close-on-exec pipe, so this is known before
 * returning), PGP_ERR_USAGE for a setting name that is empty or holds '=' or a value holding
 * a newline. On success the server is starting; watch it with pg_server_exited. */
int pg_server_start(const PgServerOptions *o, PgServer **out, PgpErr *err);
pid_t pg_server_pid(const PgServer *s);

/* Non-blocking. true once the server process has exited (it is then reaped, and `how`
 * describes it: "exit code 1", "signal 9"). */
bool pg_server_exited(PgServer *s, char *how, size_t how_size);

/* Stops the server: SIGINT (fast shutdown) and up to timeout_s seconds, then SIGQUIT
 * (immediate shutdown) and 10 s, then SIGKILL. 0 when it stopped (or had already exited);
 * PGP_ERR_PG when it needed SIGQUIT or SIGKILL (it is gone either way). Idempotent. */
int pg_server_stop(PgServer *s, int timeout_s, PgpErr *err);

/* Stops the server if it still runs (SIGQUIT, then SIGKILL) and frees. NULL is a no-op. */
void pg_server_free(PgServer *s);

/* Runs bin_dir/tool with args (NULL-terminated, not including argv[0]), output appended to
 * log_path, and waits at most timeout_s seconds (then SIGKILL: PGP_ERR_PG "timed out"), or
 * until *cancel becomes non-zero (SIGKILL, PGP_ERR_IO "interrupted"). *exit_code: its exit
 * status (128 + N when killed by signal N). */
int pg_server_run_tool(const char *bin_dir, const char *tool, const char *const *args,
                       const char *log_path, int timeout_s, const volatile sig_atomic_t *cancel,
                       int *exit_code, PgpErr *err);

/* A TCP port free on 127.0.0.1 right now (asked from the kernel by binding port 0). */
int pg_server_free_port(int *port, PgpErr *err);

/* "name = 'value'" for postgresql.conf (' and \ doubled), malloc'd in *line. PGP_ERR_USAGE
 * for a name outside [A-Za-z0-9_.] or a value holding a newline or NUL. */
int pg_server_conf_line(const char *name, const char *value, char **line, PgpErr *err);

#endif
