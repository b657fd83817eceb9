/*
 * drill_report.h - the drill report: what `pgpitr drill` proved, as a versioned JSON
 * document (docs/drill-report.schema.json, "schema_version": 2), a short text summary, and
 * where reports are kept: always in the repository at drill/<id>.json (never replaced), and
 * with --report FILE also in a file (written atomically).
 *
 * The report is filled as the drill runs; any failure adds a reason and makes the status
 * "failed". Pure data and formatting, plus the storage calls that keep and find reports.
 */
#ifndef PGPITR_DRILL_REPORT_H
#define PGPITR_DRILL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/restore/restore.h"
#include "pgpitr/storage/storage.h"
#include "pgpitr/repo/info_model.h"
#include "pgpitr/repo/tl_production.h"

/* 2: the "objectives" section (version 1 reports have none and are still read) */
#define DRILL_SCHEMA_VERSION 2
#define DRILL_ID_MAX 40
#define DRILL_TIME_MAX 40

typedef enum { DRILL_CHECK_PASSED = 0, DRILL_CHECK_FAILED, DRILL_CHECK_SKIPPED } DrillCheckStatus;

typedef struct DrillCheck {
    char *name;
    DrillCheckStatus status;
    char *detail;
} DrillCheck;

typedef struct DrillTable {
    char *database;
    char *table;                 /* schema.name, quoted where SQL needs it */
    int64_t rows;
} DrillTable;

typedef struct DrillReport {
    char id[DRILL_ID_MAX];       /* "20261122T040000Z-3fa9" */
    char host[256];
    int64_t started_us, finished_us;   /* wall clock, microseconds since the epoch */
    char **reasons;              /* why the drill failed; none: passed */
    size_t n_reasons;
    PgpErrCode first_error;      /* code of the first failure (drill_report_fail_err) */

    bool has_backup;
    RestoreReport backup;        /* label, why, LSNs, times, size, pg_major, ... */

    /* The timeline followed and why (restore_plan.h), production's as judged from archive
     * times, PostgreSQL's latest and what every timeline received (tl_production.h). */
    bool has_timeline;
    uint32_t timeline;
    char timeline_why[256];
    TlProduction production;
    uint32_t latest_timeline;
    TlActivityList timelines;    /* owned */
    char **warnings;             /* passed or not, what may mislead: one line each */
    size_t n_warnings;

    const char *target_kind;     /* "latest", "immediate", "time", "lsn", "xid", "name" */
    char *target_value;          /* as requested; NULL for latest and immediate */
    bool has_reached;
    bool reached_has_time, reached_has_lsn;
    int64_t reached_time_us;
    uint64_t reached_lsn;
    uint32_t reached_timeline;   /* timeline replay ended on (0: unknown) */
    uint32_t new_timeline;       /* timeline after promotion (0: none) */

    /* Phase durations in seconds; negative: the phase did not run. */
    double select_s, restore_files_s, replay_s, checks_s, total_s;
    bool recovered;              /* the server replayed and promoted: total_s is a recovery
                                    time (the RTO) even when a later check failed */

    bool has_wal;
    uint64_t wal_segments;       /* distinct segments restore_command handed over */
    uint64_t wal_fetches, wal_bytes;   /* every hand-over, and its bytes (uncompressed) */

    DrillCheck *checks;
    size_t n_checks;
    DrillTable *tables;
    size_t n_tables;
    bool tables_truncated;       /* more user tables than --max-tables in some database */

    bool has_freshness;
    double archive_freshness_s;  /* age of the newest archived segment when the drill began */

    /* The recovery objectives (drill_report_objectives): measured RTO against rto-objective,
     * archive freshness against rpo-objective. */
    InfoObjective obj_rto, obj_rpo;

    bool has_previous;
    char previous_id[DRILL_ID_MAX];
    char previous_status[16];
    bool previous_has_rto;
    double previous_rto_s;

    char *workdir;               /* set when kept (--keep) */
    char **log_tail;             /* last relevant lines of the server log, on failure
                                    (pg_server_log_excerpt) */
    size_t n_log_tail;
    bool nomem;                  /* an allocation failed while filling the report */
} DrillReport;

void drill_report_init(DrillReport *r);
void drill_report_free(DrillReport *r);
bool drill_report_passed(const DrillReport *r);

/* Adds a reason (printf-like): the drill failed. */
void drill_report_fail(DrillReport *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds a warning (printf-like): the drill may pass, but says what may mislead. */
void drill_report_warn(DrillReport *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds err's message as a reason and remembers its code if it is the first. */
void drill_report_fail_err(DrillReport *r, const PgpErr *err);
/* Adds a check; a failed check also adds the reason "check \"<name>\" failed: <detail>". */
void drill_report_check(DrillReport *r, const char *name, DrillCheckStatus status,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void drill_report_table(DrillReport *r, const char *database, const char *table, int64_t rows);
/* Takes ownership of lines. */
void drill_report_set_log_tail(DrillReport *r, char **lines, size_t n);

/* The failure in one line: the first reason, then " (and 1 more reason)" or " (and N more
 * reasons)" when there are others; "out of memory while checking" when there is none. */
void drill_report_headline(const DrillReport *r, char *out, size_t size);

/*
 * The recovery objectives, once the drill is over (total_s and recovered final): rto_s and
 * rpo_s are rto-objective and rpo-objective in seconds, 0 when not set. Fills obj_rto (the
 * measured RTO, phases.rto_s) and obj_rpo (archive_freshness_s). A measured RTO over its
 * objective fails the drill with the check "rto-objective"; a met one adds it as passed. An
 * RPO objective missed only warns: archive freshness is about archiving, not restoring.
 */
void drill_report_objectives(DrillReport *r, int64_t rto_s, int64_t rpo_s);

/* "20261122T040000Z-" + 4 lowercase hex digits of suffix. */
void drill_make_id(int64_t started_us, unsigned suffix, char out[DRILL_ID_MAX]);
/* ISO 8601 UTC: "2026-11-22T04:00:00Z", with ".25" etc. when there is a fraction. */
void drill_format_time(int64_t us, char out[DRILL_TIME_MAX]);

/* The JSON text (schema_version DRILL_SCHEMA_VERSION, two-space indent, newline at the end),
 * malloc'd. */
int drill_report_to_json(const DrillReport *r, char **out, PgpErr *err);
/* A few lines for people: status, backup, target reached, RTO (when the server recovered,
 * even if a check failed after), checks, reasons, the relevant server log lines. */
void drill_report_print_text(const DrillReport *r, FILE *out);

/* What `info` and the next drill need from a report kept in the repository. */
typedef struct DrillReportSummary {
    bool found;                         /* false: no report (the rest is zero) */
    char id[DRILL_ID_MAX];
    char status[16];                    /* "passed" or "failed" */
    char started[DRILL_TIME_MAX], finished[DRILL_TIME_MAX];   /* as written; "" if absent */
    bool has_total;                     /* phases.total_s is a number of seconds within
                                           [0, DRILL_SECONDS_MAX]; any other value is ignored
                                           (with a warning): reports come from the repository,
                                           whose files anyone with write access can change */
    double total_s;
    /* The report's "objectives" section (schema_version 2): values that are not numbers of
     * seconds within range are ignored (with a warning) like total_s; met is recomputed from
     * what is left, never taken from the report. */
    bool has_objectives;
    InfoObjective obj_rto, obj_rpo;
} DrillReportSummary;

/* The longest duration a report can hold, in seconds (about 31 years). Durations outside
 * [0, DRILL_SECONDS_MAX] are written as null and never computed with. */
#define DRILL_SECONDS_MAX 1e9

/*
 * Finds the newest report in drill/ of the repository (by id; with `before` not NULL only ids
 * that sort before it) whose status is "passed" or "failed", looking at the 10 newest: one that
 * does not parse, or is corrupt (too large; in an encrypted repository altered, cut or copied
 * from another id), is skipped with a warning, one removed since the listing is skipped. *out
 * is zeroed first; none found is not an error. Storage errors are returned, with context.
 * Reports are read and written through meta_io.h with key (repo_crypto_key; NULL: plain).
 */
int drill_report_find_newest(Storage *s, const CryptoRepoKey *key, const char *before,
                             DrillReportSummary *out, PgpErr *err);
/* The summary of one report's text (what drill_report_find_newest reads from drill/<id>.json,
 * exposed for the fuzz harness): false, *out untouched, unless it is JSON with a "status" of
 * "passed" or "failed". */
bool drill_report_summary_parse(const char *id, const char *text, size_t len,
                                DrillReportSummary *out);
/* Finds the newest report older than r->id (drill_report_find_newest) and fills
 * r->previous_*; none leaves them as they are. */
int drill_report_find_previous(Storage *s, const CryptoRepoKey *key, DrillReport *r, PgpErr *err);
/* drill/<id>.json, never replacing one. */
int drill_report_store(Storage *s, const CryptoRepoKey *key, const DrillReport *r,
                       const char *json, PgpErr *err);
/* Writes text to path atomically (temp file in the same directory, fsync, rename, fsync
 * of the directory), mode 0640. */
int drill_report_write_file(const char *path, const char *text, PgpErr *err);

#endif
