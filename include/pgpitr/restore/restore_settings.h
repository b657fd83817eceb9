/*
 * restore_settings.h - how a restored server is set up beyond its recovery target: whether it
 * becomes a standby (--standby) or promotes, the DBA's own settings (--set NAME=VALUE), the
 * way its restore_command finds the repository, and the next step restore prints (a port
 * already taken on this host by the running source named, and a command that works).
 *
 * The recovery settings text itself is restore_conf.h's; this module decides what goes into
 * it and reads the restored configuration back (pgrecovery.h) to tell the DBA what the server
 * will do. Nothing here writes into the data directory.
 */
#ifndef PGPITR_RESTORE_SETTINGS_H
#define PGPITR_RESTORE_SETTINGS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/pg/pgserver.h"
#include "pgpitr/restore/restore.h"

/* ---- --set NAME=VALUE ------------------------------------------------------------------ */

/* Parses one --set argument: out->name is malloc'd (the caller frees it), out->value points
 * into arg. PGP_ERR_USAGE, naming the argument, for: no '=', a name that is not a
 * configuration parameter name ([A-Za-z_][A-Za-z0-9_]*, optionally one ".part" for an
 * extension's, at most 63 bytes), a value holding a line break, and a name restore writes
 * itself (recovery_target*, restore_command, archive_mode: the HINT names the option to use
 * instead). NOMEM. */
int restore_set_parse(const char *arg, PgServerSetting *out, PgpErr *err);

/* All --set arguments together: a name given twice (case-insensitive, as PostgreSQL compares
 * them), or primary_conninfo / primary_slot_name without --standby (the restored server
 * never connects to a primary then), is PGP_ERR_USAGE. */
int restore_set_check(const PgServerSetting *v, size_t n, bool standby, PgpErr *err);

/* --standby with a recovery target (a standby follows its primary; it does not stop at a
 * target) is PGP_ERR_USAGE. */
int restore_standby_check(const RestoreRequest *req, PgpErr *err);

/* ---- restore_command -------------------------------------------------------------------- */

/* What restore_command gives pgpitr, so that archive-get finds the repository, and reads the
 * settings, the way this restore did - without restore's environment, which the server does
 * not have:
 *   config: the configuration file that was read (--config, PGPITR_CONFIG, or the default
 *           file when it exists), as an absolute path; "" when none was read;
 *   repo:   the repository, absolute, when it came from --repo or PGPITR_REPO, or from the
 *           configuration file as a relative path (the server runs in its data directory);
 *           "" when the configuration file names it absolutely (archive-get reads it there);
 *   bin:    this program (/proc/self/exe). */
typedef struct RestoreCommandPaths {
    char bin[PATH_MAX];
    char config[PATH_MAX];
    char repo[PATH_MAX];
} RestoreCommandPaths;

/* PGP_ERR_IO naming the path that cannot be resolved; PGP_ERR_CONFIG without a repository. */
int restore_command_paths(const RestoreEnv *e, RestoreCommandPaths *out, PgpErr *err);

/* ---- the signal files ------------------------------------------------------------------ */

/* standby.signal and recovery.signal of the backup's data directory (a backup taken on a
 * standby holds standby.signal: restored, the server would stream from production and never
 * promote): never restored, restore writes the one it means. true for such an entry, and
 * *standby_signal set when it is standby.signal (left alone otherwise). */
bool restore_signal_entry(const ManifestEntry *e, bool *standby_signal);

/* "standby.signal" with --standby, else "recovery.signal". */
const char *restore_signal_name(bool standby);

/* ---- what restore prints ---------------------------------------------------------------- */

typedef struct RestoreNextStep {
    const char *pg_bin;           /* pg-bin as given (NULL: unset): where pg_ctl is */
    const char *pgdata;           /* the restored data directory (absolute) */
    int pg_major;                 /* of the backup: /usr/lib/postgresql/<major>/bin/pg_ctl */
    bool standby;                 /* --standby */
    bool backup_on_standby;       /* the backup held standby.signal */
    const PgServerSetting *set;   /* --set, for the summary */
    size_t n_set;
} RestoreNextStep;

/* The summary's lines about standby mode: with --standby, how the server follows its primary
 * (primary_conninfo read back from the restored configuration: which file sets it, never its
 * value, which may hold a password); without it, for a backup taken on a standby, that it
 * promotes instead. Then the --set settings written, if any. */
void restore_print_standby(const RestoreNextStep *n);

/* The summary's line about recovery without --standby: how far it replays (all archived WAL,
 * the backup's end, or the target along timeline tli) and what the server does then. */
void restore_print_recovery(const RestoreTargetSpec *t, uint32_t tli);

/* The summary's line about archiving: whether the restored server archives into the
 * repository (--archive-mode preserve) or not, and what that means for a PITR. */
void restore_print_archiving(RestoreArchiveMode mode);

/* The effective port of a restored data directory and whether a server on this host holds it
 * already (pg_ctl start would then fail on it). */
typedef struct RestorePort {
    int port;                     /* port setting, 5432 when unset; 0 when not a number */
    char source[PATH_MAX];        /* the file setting it; "" for the default */
    bool in_use;
    char holder[PATH_MAX + 64];   /* what holds it: a TCP listener, or a socket lock file and
                                     the pid in it */
    int free_port;                /* the first port above it free now (TCP and the socket
                                     directories); 0 when none was found */
} RestorePort;

/* Reads port, listen_addresses and unix_socket_directories of pgdata as the server would
 * (pgrecovery.h) and looks for a holder: a TCP socket listening on the port (any address,
 * /proc/net/tcp and tcp6) when listen_addresses is not empty, or a lock file
 * "<dir>/.s.PGSQL.<port>.lock" naming a live process in one of the socket directories (when
 * unset: /var/run/postgresql and /tmp, the usual built-in defaults). Never fails: what cannot
 * be read counts as free. */
void restore_port_probe(const char *pgdata, RestorePort *out);

/* The last lines: "next step: ..." with the exact pg_ctl command, or, when the port is in
 * use on this host, which port and who holds it and the command that starts the server on a
 * free one (with the --set port=N that writes it next time). */
void restore_print_next_step(const RestoreNextStep *n);

#endif
