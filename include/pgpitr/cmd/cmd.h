/*
 * cmd.h - the command table and what every command shares: global options, settings
 * resolved with precedence (flag > environment > config file), opening the repository.
 * Each command lives in its own src/cmd/<name>.c and is reached only through its CmdDef.
 */
#ifndef PGPITR_CMD_H
#define PGPITR_CMD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "pgpitr/common/config.h"
#include "pgpitr/archive/push_backlog.h"
#include "pgpitr/common/err.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/repo/repo_json.h"
#include "pgpitr/repo/repolock.h"
#include "pgpitr/storage/storage.h"

/* Room for the global options' ids (cmd_options.c checks it is enough). */
#define CMD_GLOBAL_FLAGS 32

typedef struct CmdGlobal {
    const char *repo;        /* --repo */
    const char *config;      /* --config */
    const char *log_level;   /* --log-level */
    /* Every other global option (--s3-*, --io-timeout), by CmdOptId; NULL: not given */
    const char *flag[CMD_GLOBAL_FLAGS];
} CmdGlobal;

typedef struct CmdDef {
    const char *name;
    const char *summary;     /* one line for `pgpitr --help` */
    const char *usage;       /* full `pgpitr CMD --help` text */
    int (*run)(const CmdGlobal *g, int argc, char **argv, PgpErr *err);
    /* When non-zero, every error except PGP_ERR_NOT_FOUND exits with this status
     * (archive-get: PostgreSQL treats > 125 as fatal and stops recovery). */
    int failure_exit;
    /* PGP_ERR_NOT_FOUND is an expected answer, exit 1 without a message. */
    bool quiet_not_found;
    /* What its exit statuses mean, printed by --help ("exit status:") and written word for
     * word in docs/exit-status.md (a unit test compares them):
     * exit_ok: what 0 means. exit_not_found: what 1 (PGP_ERR_NOT_FOUND) means; NULL when the
     * command never answers "not found": a NOT_FOUND reaching main then exits as I/O (5).
     * exit_other: what is particular about the other statuses (with failure_exit: what it
     * means); NULL when they mean what docs/exit-status.md says for every command. */
    const char *exit_ok;
    const char *exit_not_found;
    const char *exit_other;
    /* run's positive return without an error set is the exit status itself, not a failure:
     * check's 1 (WARNING) and 2 (CRITICAL), its answers rather than errors. */
    bool exit_from_run;
} CmdDef;

extern const CmdDef cmd_archive_push;
extern const CmdDef cmd_archive_get;
extern const CmdDef cmd_backup;
extern const CmdDef cmd_restore;
extern const CmdDef cmd_drill;
extern const CmdDef cmd_info;
extern const CmdDef cmd_verify;
extern const CmdDef cmd_expire;
extern const CmdDef cmd_metrics;
extern const CmdDef cmd_notify;
extern const CmdDef cmd_check;
extern const CmdDef cmd_serve;
extern const CmdDef cmd_key;
extern const CmdDef cmd_repo_get;
extern const CmdDef cmd_repo_name;
extern const CmdDef cmd_repo_put;

/* Every command, in the order `pgpitr --help` lists them (cmd_table.c). */
extern const CmdDef *const cmd_table[];
extern const size_t cmd_table_len;
/* `pgpitr --help`: the global options and every command's summary. */
void cmd_print_help(FILE *out);
/* The command named name, NULL if none. */
const CmdDef *cmd_find(const char *name);
/* The exit status of cmd (may be NULL: no command) failing with code: the code's status
 * (PGP_ERR_LIST), except NOT_FOUND for a command without exit_not_found (I/O, 5) and
 * everything but NOT_FOUND for a command with failure_exit. 0 for PGP_ERR_OK. */
int cmd_exit_status(const CmdDef *cmd, PgpErrCode code);
/* cmd->usage, then its "exit status:" lines made from the CmdDef (above). */
void cmd_print_usage(const CmdDef *cmd, FILE *out);

/* Where a setting came from (cmd_setting's precedence). */
typedef enum {
    CMD_SOURCE_NONE = 0,
    CMD_SOURCE_FLAG,
    CMD_SOURCE_ENV,
    CMD_SOURCE_CONFIG,
} CmdSource;

/* Settings every command resolves the same way. */
typedef struct CmdSettings {
    PgpConfig *config;
    const char *repo_path;   /* points into argv, environment or config; NULL if unset */
    /* Where repo_path came from, so that restore can write a restore_command that finds the
     * repository the same way without restore's environment (restore_settings.h). */
    CmdSource repo_source;
    const char *const *global_flag;  /* CmdGlobal.flag: the --s3-* flags */
} CmdSettings;

/* Loads the config file (--config > PGPITR_CONFIG > /etc/pgpitr/pgpitr.conf if present),
 * applies the log level (--log-level > PGPITR_LOG_LEVEL > config) and resolves the
 * repository path (--repo > PGPITR_REPO > config "repo"). */
int cmd_settings_load(const CmdGlobal *g, CmdSettings *out, PgpErr *err);
void cmd_settings_free(CmdSettings *s);
/* flag (may be NULL) > environment variable env (may be NULL) > config key. */
const char *cmd_setting(const CmdSettings *s, const char *flag, const char *env, const char *key);
/* Parses an integer setting within [min, max]; PGP_ERR_CONFIG naming `what` otherwise. */
int cmd_parse_int(const char *what, const char *text, long min, long max, long *out, PgpErr *err);

/* lease-ttl as given: PGPITR_LEASE_TTL > config lease-ttl; NULL when unset
 * (recovery_lease_ttl parses it). */
const char *cmd_lease_ttl(const CmdSettings *s);
/* restore_run's RestoreEnv (restore.h) from the settings (cmd_engine.c). */
struct RestoreEnv;
void cmd_restore_env(const CmdSettings *s, struct RestoreEnv *out);

/* Opens the repository at s->repo_path (PGP_ERR_CONFIG with a hint if unset). With create,
 * a missing directory is created; without, it is PGP_ERR_CONFIG. */
int cmd_open_repo(const CmdSettings *s, bool create, Storage **storage, Repo **repo, PgpErr *err);
/* The repository on storage st (already open) with the encryption settings of s
 * (repo_open_crypto): what cmd_open_repo does after opening the storage. */
int cmd_open_repo_on(const CmdSettings *s, Storage *st, Repo **repo, PgpErr *err);
/* Only the storage of s->repo_path (the driver its form names, with the S3 settings). */
int cmd_open_storage(const CmdSettings *s, bool create, Storage **storage, PgpErr *err);

/* Takes a repository lock (repolock.h) of `kind` for `command` ("backup"), waiting for live
 * conflicting holders as long as --lock-wait (wait_flag, may be NULL) > PGPITR_LOCK_WAIT >
 * config lock-wait say, in seconds (default 0: fail at once with PGP_ERR_LOCKED). Release with
 * repo_lock_release(*out). */
int cmd_lock_repo(const CmdSettings *s, Storage *st, RepoLockKind kind, const char *command,
                  const char *wait_flag, RepoLock **out, PgpErr *err);

/* Codec and level from --compress/--compress-level, PGPITR_COMPRESS(_LEVEL), the config
 * (compress, compress-level); default zstd level 1. */
int cmd_compression(const CmdSettings *s, const char *codec_flag, const char *level_flag,
                    PipeCodec *codec, int *level, PgpErr *err);

/* What archive-push does about a run of failures (push_backlog.h): archive-push-alert-after,
 * archive-push-queue-max, archive-push-queue-full from the environment and the config; `drop`
 * without queue-max, or another value, is PGP_ERR_CONFIG. */
int cmd_push_backlog_policy(const CmdSettings *s, PushBacklogPolicy *b, PgpErr *err);

/* Usage error for a command: "CMD: message" + hint to run --help. */
int cmd_usage_error(PgpErr *err, const CmdDef *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
