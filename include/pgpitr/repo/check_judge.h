/*
 * check_judge.h - what `pgpitr check` concludes: a pure function from the facts the command
 * gathered (src/cmd/check.c: the settings, the repository through the info model, a probe
 * object, the PostgreSQL server) to one status and a one-line reason per check, plus the
 * parser of archive_command that says which repository a server archives to.
 *
 * No I/O here: everything is in CheckFacts, so every state of every check is unit-tested
 * (tests/unit/test_check_judge.c). docs/check.md describes each check and its thresholds.
 */
#ifndef PGPITR_CHECK_JUDGE_H
#define PGPITR_CHECK_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/repo/info_model.h"

#define CHECK_REASON_MAX 512
#define CHECK_TEXT_MAX 1024

/* Ordered by severity for the overall status; SKIPPED counts as OK there. */
typedef enum {
    CHECK_OK = 0,
    CHECK_WARNING = 1,
    CHECK_CRITICAL = 2,
    CHECK_SKIPPED = 3,
} CheckStatus;

/* Every check, in the order they are printed. */
typedef enum {
    CHECK_CONFIG,             /* the settings parse */
    CHECK_REPOSITORY,         /* reachable (read), writable (probe object) */
    CHECK_CLUSTER,            /* repo.json's system identifier and major version = server's */
    CHECK_ARCHIVE_MODE,
    CHECK_ARCHIVE_COMMAND,    /* calls pgpitr archive-push with this repository */
    CHECK_ARCHIVE_TEST,       /* restore point + WAL switch archived within archive-timeout */
    CHECK_ARCHIVER,           /* pg_stat_archiver: failures since the last success */
    CHECK_ARCHIVE_HOLES,      /* no hole in the archive since the oldest backup */
    CHECK_BACKUP_AGE,         /* newest complete backup vs backup-max-age */
    CHECK_DRILL,              /* newest drill: result and age vs drill-max-age */
    CHECK_FREE_SPACE,         /* where a local repository lives */
    CHECK_RPO,                /* archive freshness vs rpo-objective */
    CHECK_DRILL_OBJECTIVES,   /* the newest drill's objectives met */
    CHECK__COUNT
} CheckId;

/* Free space thresholds (percent of the file system, for the repository's user). */
#define CHECK_SPACE_WARN_PCT 10
#define CHECK_SPACE_CRIT_PCT 5

/* What archive_command says, as far as a sound reading goes (check_parse_archive_command). */
typedef enum {
    CHECK_AC_UNKNOWN,         /* cannot tell: shell syntax, variables, several commands */
    CHECK_AC_NOT_PGPITR,      /* a plain command that does not run pgpitr archive-push */
    CHECK_AC_REPO,            /* --repo VALUE */
    CHECK_AC_CONFIG,          /* --config VALUE (its repo setting decides) */
    CHECK_AC_DEFAULT,         /* pgpitr archive-push without either: the server's
                                 environment or the default configuration file decides */
    CHECK_AC_SCRIPT,          /* the first word is a script (value: its path): read it and
                                 parse its line that runs archive-push */
} CheckAcKind;

typedef struct CheckArchiveCommand {
    CheckAcKind kind;
    char value[CHECK_TEXT_MAX];   /* REPO: the repository; CONFIG: the file; SCRIPT: the path;
                                     UNKNOWN: why */
} CheckArchiveCommand;

/* Parses one shell command line (archive_command, or a wrapper script's line) with sound
 * quoting ('...', "...", backslashes). Leading "exec", "env" and NAME=VALUE words are
 * skipped; the first word running pgpitr (basename "pgpitr") must be followed by global
 * options and "archive-push". A word with an unquoted $ or `, or an unquoted ; | & < > ( )
 * before archive-push, makes it UNKNOWN. script_ok: an absolute first word that is not
 * pgpitr is a SCRIPT (false when parsing a script's own line: NOT_PGPITR). */
void check_parse_archive_command(const char *cmd, bool script_ok, CheckArchiveCommand *out);

/* Everything gathered. Strings are "" when not applicable; an *_error means "could not". */
typedef struct CheckFacts {
    int64_t now;
    char config_error[CHECK_REASON_MAX];   /* the first setting that does not parse */

    /* repository */
    char repo_path[CHECK_TEXT_MAX];        /* as configured ("" unset) */
    bool repo_local;                       /* a directory (not s3://) */
    char repo_error[CHECK_REASON_MAX];     /* opening or reading it failed */
    char probe_error[CHECK_REASON_MAX];    /* writing or removing the probe object failed */
    const Info *info;                      /* loaded model (with settings); NULL: repo_error */

    /* free space (repo_local) */
    bool fs_known;
    char fs_error[CHECK_REASON_MAX];
    uint64_t fs_avail, fs_total;

    /* server: pg_skip says why the server checks were not run ("" when connected);
     * pg_error: the connection was tried and failed */
    char pg_skip[CHECK_REASON_MAX];
    char pg_error[CHECK_REASON_MAX];
    bool standby;
    char sysid_error[CHECK_REASON_MAX];    /* pg_control_system() refused (a role without it) */
    uint64_t server_sysid;
    int server_major;
    char archive_mode[16];
    char archive_command[CHECK_TEXT_MAX];
    char settings_error[CHECK_REASON_MAX]; /* reading archive_mode/archive_command failed */
    /* archive_command as parsed, a script followed (CHECK_AC_SCRIPT resolved to its line) and
     * --config's repo read: ac_repo is the repository it archives to ("" when unknown, with
     * ac.kind/ac.value saying why); compared with repo_path as given (normalized by the
     * command: real paths for directories) */
    CheckArchiveCommand ac;
    char ac_repo[CHECK_TEXT_MAX];
    char ac_note[CHECK_REASON_MAX];        /* e.g. "through script /x/archive.sh" */
    /* archive test: skip reason, or result */
    char test_skip[CHECK_REASON_MAX];
    bool test_denied;                      /* the role lacks the privilege */
    char test_error[CHECK_REASON_MAX];     /* the SQL failed otherwise */
    char test_wal[32];                     /* the segment of the restore point */
    bool test_archived;
    int test_waited_s, test_timeout_s;
    /* pg_stat_archiver */
    char archiver_error[CHECK_REASON_MAX];
    int64_t archived_count, failed_count;
    char last_archived_wal[32], last_failed_wal[32];
    /* microseconds since the epoch, 0: never; a failure and a success can fall in the same
     * second (archiving repaired by a reload), so seconds could not order them */
    int64_t last_archived_us, last_failed_us;
} CheckFacts;

typedef struct CheckResult {
    CheckStatus status;
    char reason[CHECK_REASON_MAX];
} CheckResult;

typedef struct CheckReport {
    CheckResult r[CHECK__COUNT];
    CheckStatus overall;                   /* OK, WARNING or CRITICAL */
    int n_warning, n_critical, n_skipped;
} CheckReport;

/* Whether two repository strings name the same repository (trailing slashes ignored; the
 * caller resolves directories to real paths first). */
bool check_same_repo(const char *a, const char *b);
/* Whether f's archive_command clearly archives somewhere else (empty, not pgpitr, or another
 * repository): the archive test would only wait its timeout out. */
bool check_archives_elsewhere(const CheckFacts *f);

/* Judges every check from f. Pure. */
void check_judge(const CheckFacts *f, CheckReport *out);
const char *check_name(CheckId id);          /* "archive-command" */
const char *check_status_name(CheckStatus s);  /* "OK", "WARNING", "CRITICAL", "SKIPPED" */
/* The Nagios-style first line, without newline: "PGPITR CHECK OK - 13 checks, 2 skipped" or
 * "PGPITR CHECK CRITICAL - 1 critical, 1 warning: NAME: REASON" (the worst check first). */
void check_summary(const CheckReport *r, char *out, size_t size);

#endif
