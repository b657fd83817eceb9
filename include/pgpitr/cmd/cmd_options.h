/*
 * cmd_options.h - the one table of options (cmd_options.c): every flag and setting of every
 * command with its value type, the commands that take it, its environment variable, its
 * configuration key, its default and a line of help; and the one parser every command runs.
 *
 * The parser builds getopt_long's array for a command from the table, handles --help (prints
 * cmd_print_usage) and --output text|json, refuses unknown options and stray arguments with
 * the messages the commands always gave, and hands every other option to the command in
 * command-line order.
 * Settings are then resolved from the table's environment variable and key with cmd_setting's
 * precedence (flag > environment > configuration file > default).
 *
 * test_options.c fails when the table and a command's --help text, the configuration file's
 * known keys or the table in docs/configuration.md disagree.
 */
#ifndef PGPITR_CMD_OPTIONS_H
#define PGPITR_CMD_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "pgpitr/cmd/cmd.h"

/* One id per row of the table: an option with one meaning for the commands of its row. */
typedef enum {
    /* global (before the command) */
    CMD_OPT_REPO, CMD_OPT_CONFIG, CMD_OPT_LOG_LEVEL, CMD_OPT_VERSION,
    /* global: an S3 repository (docs/s3.md) */
    CMD_OPT_IO_TIMEOUT, CMD_OPT_S3_ENDPOINT, CMD_OPT_S3_REGION, CMD_OPT_S3_URI_STYLE,
    CMD_OPT_S3_KEY, CMD_OPT_S3_CA_FILE, CMD_OPT_S3_CA_PATH, CMD_OPT_S3_VERIFY_TLS,
    CMD_OPT_S3_SSE, CMD_OPT_S3_KMS_KEY_ID, CMD_OPT_S3_STORAGE_CLASS, CMD_OPT_S3_PART_SIZE,
    /* archive-push, backup */
    CMD_OPT_COMPRESS, CMD_OPT_COMPRESS_LEVEL,
    /* archive-push */
    CMD_OPT_PUSH_JOBS, CMD_OPT_PUSH_ALERT_AFTER, CMD_OPT_PUSH_QUEUE_MAX, CMD_OPT_PUSH_QUEUE_FULL,
    /* archive-get */
    CMD_OPT_SPOOL_PATH, CMD_OPT_SPOOL_SIZE, CMD_OPT_PREFETCH_JOBS,
    /* backup */
    CMD_OPT_PG_CONN, CMD_OPT_PRIMARY_CONN, CMD_OPT_LABEL, CMD_OPT_CHECKPOINT, CMD_OPT_JOBS,
    CMD_OPT_MAX_RATE, CMD_OPT_ARCHIVE_TIMEOUT, CMD_OPT_SERVER_COMPRESS,
    /* several commands */
    CMD_OPT_OUTPUT, CMD_OPT_LOCK_WAIT, CMD_OPT_BACKUP,
    /* backup, restore */
    CMD_OPT_PROGRESS, CMD_OPT_NO_PROGRESS,
    /* restore, drill */
    CMD_OPT_TARGET_TIME, CMD_OPT_TARGET_LSN, CMD_OPT_TARGET_XID, CMD_OPT_TARGET_NAME,
    CMD_OPT_TARGET_IMMEDIATE, CMD_OPT_TARGET_LATEST, CMD_OPT_TARGET_EXCLUSIVE,
    CMD_OPT_TARGET_TIMELINE, CMD_OPT_TARGET_ACTION,
    /* restore */
    CMD_OPT_PGDATA, CMD_OPT_RESTORE_JOBS, CMD_OPT_DELTA, CMD_OPT_KEEP_OLD,
    CMD_OPT_TABLESPACE_MAP, CMD_OPT_ARCHIVE_MODE, CMD_OPT_STANDBY, CMD_OPT_SET,
    /* drill */
    CMD_OPT_CHECK_SQL, CMD_OPT_AMCHECK, CMD_OPT_MAX_TABLES, CMD_OPT_REPORT, CMD_OPT_KEEP,
    CMD_OPT_WORKDIR, CMD_OPT_PG_BIN, CMD_OPT_DB_USER, CMD_OPT_TIMEOUT, CMD_OPT_DRILL_JOBS,
    /* expire */
    CMD_OPT_RETAIN_FULL, CMD_OPT_RETAIN_DAYS, CMD_OPT_RETAIN_DAILY, CMD_OPT_RETAIN_WEEKLY,
    CMD_OPT_RETAIN_MONTHLY, CMD_OPT_DRY_RUN,
    /* check */
    CMD_OPT_NO_ARCHIVE_TEST,
    /* key rotate: the new master key (docs/encryption.md) */
    CMD_OPT_NEW_KEY_FILE, CMD_OPT_NEW_PASSPHRASE_FILE, CMD_OPT_NEW_KEY_COMMAND,
    CMD_OPT_RAW, CMD_OPT_NO_DECOMPRESS, CMD_OPT_REPLACE,
    /* settings without a flag */
    CMD_OPT_LEASE_TTL, CMD_OPT_PREFETCH_IDLE_TIMEOUT,
    /* secrets: never a flag, which `ps` would show */
    CMD_OPT_S3_KEY_SECRET, CMD_OPT_S3_TOKEN, CMD_OPT_UPLOAD_ABORT_AGE,
    /* encryption at rest (docs/encryption.md): settings without a flag */
    CMD_OPT_ENCRYPTION, CMD_OPT_ENCRYPTION_KEY_FILE, CMD_OPT_ENCRYPTION_PASSPHRASE_FILE,
    CMD_OPT_ENCRYPTION_KEY_COMMAND,
    /* operations: recovery objectives and the ages check and metrics hold backups and drills
     * to (docs/configuration.md) */
    CMD_OPT_RPO_OBJECTIVE, CMD_OPT_RTO_OBJECTIVE, CMD_OPT_BACKUP_MAX_AGE, CMD_OPT_DRILL_MAX_AGE,
    /* metrics */
    CMD_OPT_TEXTFILE_DIR,
    /* notify (settings without a flag) */
    CMD_OPT_NOTIFY_COMMAND, CMD_OPT_NOTIFY_TIMEOUT,
    /* serve (docs/serve.md) */
    CMD_OPT_LISTEN, CMD_OPT_TOKEN_FILE, CMD_OPT_TLS_CERT, CMD_OPT_TLS_KEY,
    CMD_OPT__COUNT
} CmdOptId;

typedef enum {
    CMD_VAL_FLAG,      /* no value: given or not */
    CMD_VAL_STRING,    /* any text (a path, a connection string, a label) */
    CMD_VAL_INT,       /* a decimal integer within [min, max] */
    CMD_VAL_SIZE,      /* a size or rate with a unit suffix (512MiB, 100M) */
    CMD_VAL_TIME,      /* ISO 8601 with an offset */
    CMD_VAL_ENUM,      /* one of choices */
    CMD_VAL_DURATION,  /* seconds, or a number with a unit: 90s, 30min, 1h, 7d, 2w */
} CmdOptType;

/* The name commands go by in the table for the options given before the command. */
#define CMD_OPT_GLOBAL "pgpitr"

typedef struct CmdOption {
    CmdOptId id;
    const char *name;       /* --name; NULL: a setting without a flag */
    char short_name;        /* -x as well, or 0 */
    CmdOptType type;
    const char *arg;        /* the value's placeholder in --help: "N", "DIR" */
    const char *commands;   /* the commands taking the flag, space-separated; CMD_OPT_GLOBAL */
    const char *env;        /* environment variable, NULL: none (the flag only, or the file) */
    const char *key;        /* configuration key, NULL: none */
    long min, max;          /* CMD_VAL_INT; CMD_VAL_DURATION in seconds */
    const char *choices;    /* CMD_VAL_ENUM: "text|json" */
    /* CMD_VAL_ENUM: the command checks the value itself, with its own message; otherwise the
     * parser refuses any other value with "--NAME must be A or B" */
    bool own_check;
    bool repeated;          /* may be given more than once, each value used */
    const char *def;        /* the default, as the documentation says it */
    const char *help;       /* one line */
} CmdOption;

extern const CmdOption cmd_options[];
extern const size_t cmd_options_len;

/* The row of id. */
const CmdOption *cmd_option(CmdOptId id);
/* Whether the row's flag is taken by the command named cmd (CMD_OPT_GLOBAL: before it). */
bool cmd_option_in(const CmdOption *o, const char *cmd);

/* What the parser gives back. */
typedef struct CmdArgs {
    /* The last value given on the command line per row, NULL when not given ("" for a flag
     * given). A repeated option's every value goes to the callback. */
    const char *flag[CMD_OPT__COUNT];
    bool help;              /* --help: the usage is printed on stdout, parsing stopped there */
    bool json;              /* --output json */
    int first;              /* argv[first..argc) are the arguments left */
} CmdArgs;

/* Called for every option in command-line order except --help and --output; a non-zero
 * return stops parsing and is returned. */
typedef int (*CmdOptFn)(void *ud, CmdOptId id, const char *arg, PgpErr *err);

typedef struct CmdParse {
    const CmdDef *cmd;
    CmdOptFn each;          /* may be NULL */
    void *ud;
    bool positional;        /* arguments allowed (the caller counts them); false: refused */
    const char *unknown;    /* the message for an unknown option; NULL: "unknown or incomplete
                               option" */
} CmdParse;

/* Parses argv (argv[0] the command's name) against the table's rows for p->cmd. Usage errors
 * (cmd_usage_error) name an unknown or incomplete option, a bad --output or enum value and,
 * without p->positional, an unexpected argument. */
int cmd_args_parse(const CmdParse *p, int argc, char **argv, CmdArgs *out, PgpErr *err);

/* Fills longopts with cmd's rows, val being CMD_OPT_GETOPT_BASE + id, then --help as 'h' and
 * the terminator; the short options of cmd's rows go into shortopts after "+h". Returns the
 * number of rows used. */
#define CMD_OPT_GETOPT_BASE 1000
#define CMD_OPT_LONGOPTS_MAX (CMD_OPT__COUNT + 2)
#define CMD_OPT_SHORTOPTS_MAX (2 * CMD_OPT__COUNT + 3)
size_t cmd_options_getopt(const char *cmd, struct option longopts[CMD_OPT_LONGOPTS_MAX],
                          char shortopts[CMD_OPT_SHORTOPTS_MAX]);

/* The value of row id's setting: flag (CmdArgs.flag[id], may be NULL) > its environment
 * variable > its configuration key (cmd_setting); NULL when none sets it. */
const char *cmd_opt_setting(const CmdSettings *s, CmdOptId id, const char *flag);
/* That value parsed as the row's integer within its range (cmd_parse_int, PGP_ERR_CONFIG
 * naming the key); *v unchanged when unset. */
int cmd_opt_int_setting(const CmdSettings *s, CmdOptId id, const char *flag, long *v,
                        PgpErr *err);
/* That value parsed as the row's duration in seconds within its range
 * (config_parse_duration, PGP_ERR_CONFIG naming the key or flag); *v unchanged when unset. */
int cmd_opt_duration_setting(const CmdSettings *s, CmdOptId id, const char *flag, int64_t *v,
                             PgpErr *err);
/* text, a flag-only integer, within the row's range; a usage error of cmd
 * ("invalid --jobs \"x\" (expected 1..256)") otherwise. */
int cmd_opt_int_flag(const CmdDef *cmd, CmdOptId id, const char *text, long *v, PgpErr *err);

#endif
