/*
 * restore.h - restoring a backup to a recovery target, as one call: what `pgpitr restore`
 * runs after parsing its options, and what `pgpitr drill` runs into its throwaway directory.
 *
 * restore_run() chooses the backup (or takes the one asked for) and says why, validates
 * BEFORE writing anything that the target is reachable (backup intact, WAL from the backup's
 * start to the target present with no gap along the timeline path given by the archived
 * .history files, target after the backup's end), restores the files (verified, parallel),
 * and writes recovery.signal plus the recovery settings. The caller then starts PostgreSQL.
 */
#ifndef PGPITR_RESTORE_H
#define PGPITR_RESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/common/progress.h"
#include "pgpitr/pg/pgserver.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/restore/restore_guard.h"

typedef enum {
    RESTORE_TARGET_LATEST = 0,   /* replay all archived WAL (the default) */
    RESTORE_TARGET_IMMEDIATE,    /* stop at the backup's consistency point */
    RESTORE_TARGET_TIME,
    RESTORE_TARGET_LSN,
    RESTORE_TARGET_XID,
    RESTORE_TARGET_NAME,
} RestoreTargetKind;

typedef struct RestoreTargetSpec {
    RestoreTargetKind kind;
    int64_t time_us;             /* TIME: microseconds since the epoch, UTC */
    const char *time_text;       /* TIME: as given (ISO 8601 with offset) */
    uint64_t lsn;                /* LSN */
    const char *xid;             /* XID: decimal text */
    const char *name;            /* NAME: restore point */
    bool exclusive;              /* --target-exclusive */
    const char *timeline;        /* "latest" (default), "current" or a decimal timeline id;
                                    NULL is "latest", but "current" for IMMEDIATE (nothing
                                    after the backup's end is replayed) */
    const char *action;          /* "promote" (default), "pause", "shutdown" */
} RestoreTargetSpec;

/* What a restored cluster does with the backup's archiving settings (archive_mode,
 * archive_command, archive_library): a copy that keeps them archives its new timeline into
 * the repository of the cluster it came from once promoted, and the next restore to the
 * latest point follows the copy instead of production. */
typedef enum {
    RESTORE_ARCHIVE_OFF = 0,     /* default: archive_mode = off written last, overriding them */
    RESTORE_ARCHIVE_PRESERVE,    /* nothing written: for a PITR that replaces production */
} RestoreArchiveMode;

typedef struct RestoreTablespaceMap {
    const char *name;            /* tablespace oid (decimal). Backups record no tablespace
                                    names: a name is refused (PGP_ERR_USAGE, the HINT lists
                                    the backup's oids and locations) */
    const char *dir;
} RestoreTablespaceMap;

/* What restore takes from the command's settings (the command looks them up: cmd_restore_env):
 * where the repository and the configuration came from, for restore_command
 * (restore_command_paths), pg-bin and lease-ttl as given. */
/* One environment assignment restore_command carries (NAME='VALUE' before the program). */
typedef struct RestoreCommandEnv {
    const char *name;            /* a PGPITR_* variable: letters, digits, '_' */
    const char *value;           /* quoted by the writer; no line break (PGP_ERR_CONFIG) */
} RestoreCommandEnv;

typedef struct RestoreEnv {
    const char *config_path;     /* the configuration file that was read; NULL: none */
    const char *repo_path;       /* the repository as given; NULL: unset */
    bool repo_from_config;       /* repo_path came from the configuration file */
    const char *pg_bin;          /* pg-bin (PGPITR_PG_BIN > config); NULL: unset */
    const char *lease_ttl;       /* lease-ttl (recovery_lease_ttl parses it); NULL: unset */
    /* Settings restore got from its environment that restore_command needs but the server
     * running it will not have (PostgreSQL's startup process does not inherit the operator's
     * shell): an encrypted repository's key settings, names of files and commands, never a
     * key. NULL when n_command_env is 0. */
    const RestoreCommandEnv *command_env;
    size_t n_command_env;
} RestoreEnv;

typedef struct RestoreRequest {
    RestoreEnv env;
    const char *pgdata;
    const char *label;           /* NULL: choose */
    RestoreTargetSpec target;
    int jobs;
    bool delta;                  /* rewrite only files whose checksum differs */
    const char *keep_old;        /* with delta: a copy of what it may change goes here first
                                    (restore_keep.h); NULL: none */
    const RestoreTablespaceMap *ts_map;
    size_t n_ts_map;
    RestoreArchiveMode archive_mode;
    /* false (default): recovery.signal; the backup's standby.signal (a backup taken on a
     * standby) is not restored and primary_conninfo & co. are emptied (restore_conf.h), so the
     * server promotes and never connects to a primary. true (--standby): standby.signal, the
     * backup's primary_conninfo & co. stay; no recovery target allowed (PGP_ERR_USAGE). */
    bool standby;
    /* Settings written after the recovery settings (the drill's private server: port,
     * sockets, ...; restore --set), each name once: one given here replaces restore's own line
     * for it. Values are quoted by the writer (restore_conf.h). NULL when n_settings is 0. */
    const PgServerSetting *settings;
    size_t n_settings;
    const char *settings_comment;        /* "# ..." line before them; NULL: none */
    bool quiet;                  /* no progress line, no chosen-backup line on stdout */
    ProgressMode progress;       /* --progress / --no-progress; auto: a terminal, not quiet */
    bool tty_progress;           /* quiet, but the progress line on a terminal all the same
                                    (a drill: its phases are what the person waits on) */
    /* restore_run needs a READ repository lock held for the plan and the files: the caller
     * takes it (`pgpitr restore` waiting as --lock-wait says, its text here, NULL:
     * env/config/0; drill holds one for the whole drill). */
    const char *lock_wait;
    /* The target directories (data directory, tablespace locations) are locked from before
     * they are checked until restore_run returns (restore_files.h). When set, a successful
     * restore_run moves those locks here instead, for the caller to release with
     * restore_locks_release (drill: after its server has stopped and the directory is gone). */
    RestoreLocks *locks_out;
} RestoreRequest;

typedef struct RestoreReport {
    char label[80];
    char why[256];               /* why this backup was chosen */
    uint64_t backup_start_lsn, backup_stop_lsn;
    int64_t backup_start_time, backup_stop_time;
    uint32_t backup_timeline;
    uint64_t backup_size, backup_stored_size;
    uint64_t files, bytes;       /* restored (delta: rewritten) */
    double seconds;              /* restoring files */
    uint32_t target_timeline;    /* the timeline recovery will follow (0 if unknown) */
    int pg_major;                /* of the backup: which binaries must run it */
    /* added with PITR (restore_plan.h has the details): */
    char timeline_path[160];     /* target timeline's history: "1 -> 2 at 0/3000158" */
    uint64_t wal_segments;       /* archived segments validated from the backup's start */
    uint64_t latest_lsn;         /* end of the contiguous archived WAL (a segment boundary) */
    int64_t latest_time;         /* archive time of its last segment, unix s (approximate) */
    uint64_t files_kept;         /* --delta: files kept because size and SHA-256 matched */
    uint64_t removed;            /* --delta: entries removed that the backup does not have */
    uint64_t chunked_files;      /* files stored as chunks (manifest format 3) restored or kept */
    uint64_t chunks_fetched;     /* their chunks fetched from the repository */
    uint64_t chunks_kept;        /* --delta: their chunks found right in place, not fetched */
    char lease[REPO_PATH_MAX];   /* the recovery lease of the restored directory (lease.h;
                                    "" when the restore failed): drill removes it */
} RestoreReport;

/* See the header comment. repo is the repository, opened by the caller, which holds a READ
 * lock on it; req->env says where it came from, and restore_command finds it the same way
 * (restore_settings.h: --config, --repo as absolute paths; the pgpitr binary is this
 * process's own). The request is checked first (restore_request_check) (PGP_ERR_USAGE for an
 * inconsistent target, a bad label, xid, name, timeline, action or tablespace map, --standby
 * with a target). Backup
 * selection, validation and their errors: restore_plan.h. The recovery settings
 * (restore_conf.h) are made before anything is written: a binary or repository path holding
 * a line break is PGP_ERR_CONFIG there. Destination checks and locks: restore_dest_check and
 * restore_dest_acquire (restore_files.h); another restore or drill holding the destination is
 * PGP_ERR_LOCKED. recovery_target_timeline is written as the resolved number (the timeline
 * that was validated), never as 'latest'. On a failure after writing started everything this
 * restore created is removed (only that: the target was locked), except with delta (the
 * directory is left without global/pg_control; running the same delta restore again finishes
 * it). With keep_old, the directory is checked and locked with the target and filled before
 * the first change (restore_keep.h); a failure while filling it changes nothing in the
 * target. A successful restore writes the recovery lease of the directory (recovery_lease.h)
 * at the backup's start before releasing its lock; a lease that cannot be written is a
 * warning. */
int restore_run(Repo *repo, const RestoreRequest *req, RestoreReport *rep, PgpErr *err);
/* The checks restore_run makes first, for a caller to make before it opens the repository. */
int restore_request_check(const RestoreRequest *req, PgpErr *err);
/* Whether s is 1 to max decimal digits (an xid, a timeline, a tablespace oid). */
bool restore_all_digits(const char *s, size_t max);

/* "2026-11-22T03:15:07.25+01:00", "2026-11-22 03:15:07Z": ISO 8601 with a 'Z' or numeric
 * offset. A time without an offset is refused (PGP_ERR_USAGE with a HINT): the server's
 * time zone is not ours to guess. */
int restore_parse_time(const char *text, int64_t *time_us, PgpErr *err);

#endif
