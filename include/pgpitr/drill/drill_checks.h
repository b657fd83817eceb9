/*
 * drill_checks.h - the parts of `pgpitr drill` that decide, without a server: the --check-sql
 * file format, what the archive held when the drill began (its newest segment per timeline,
 * and how old the newest one is), and whether the server's recovery reached the requested
 * target (from what it logged, see pgserverlog.h).
 *
 * --check-sql format (docs/drill.md): checks separated by their header lines
 *     -- name: accounts are all there     optional; default "line N"
 *     -- database: postgres               optional; default the maintenance database
 *     -- expect: 200000                   required; the rest of the line, blanks trimmed
 *     SELECT count(*) FROM pgbench_accounts;
 * A header is one or more "-- name:", "-- database:", "-- expect:" lines (the key is
 * case-insensitive, blanks around it are free); the SQL is every line after it up to the next
 * header. The query must return exactly one row with one non-NULL column whose text equals the
 * expected value. Blank lines and other "--" comments before the first header are allowed;
 * SQL without a header, a header without "-- expect:", a check without SQL, or a key given
 * twice in one header are errors naming the line.
 */
#ifndef PGPITR_DRILL_CHECKS_H
#define PGPITR_DRILL_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pg/pgserverlog.h"
#include "pgpitr/restore/restore.h"
#include "pgpitr/storage/storage.h"

#define DRILL_SQL_MAX_BYTES (1u << 20)
#define DRILL_SQL_MAX_CHECKS 1000

typedef struct DrillSqlCheck {
    char *name;
    char *database;              /* NULL: the maintenance database */
    char *expect;
    char *sql;
    int line;                    /* of the check's first header line */
} DrillSqlCheck;

typedef struct DrillSqlChecks {
    DrillSqlCheck *v;
    size_t n;
} DrillSqlChecks;

/* Parses len bytes of text (need not be NUL-terminated). source names the file in messages:
 * PGP_ERR_USAGE "<source>:<line>: ..." for the errors listed above, a NUL byte, more than
 * DRILL_SQL_MAX_CHECKS checks, or no check at all. out is empty on failure. */
int drill_sql_parse(const char *text, size_t len, const char *source, DrillSqlChecks *out,
                    PgpErr *err);
/* Reads and parses a file (at most DRILL_SQL_MAX_BYTES). */
int drill_sql_load(const char *path, DrillSqlChecks *out, PgpErr *err);
void drill_sql_free(DrillSqlChecks *c);

typedef struct DrillArchiveTimeline {
    uint32_t tli;
    char newest[25];             /* highest segment name archived on that timeline */
} DrillArchiveTimeline;

typedef struct DrillArchiveScan {
    uint64_t segments;           /* segment objects (not .partial/.backup) */
    bool has_newest;
    int64_t newest_mtime;        /* seconds since the epoch, of the most recent object */
    DrillArchiveTimeline *tl;
    size_t n_tl;
} DrillArchiveScan;

/* Lists the archive (wal_index_list_all). A repository with no archive is an empty scan. */
int drill_archive_scan(Storage *s, DrillArchiveScan *out, PgpErr *err);
void drill_archive_scan_free(DrillArchiveScan *scan);
/* Newest segment archived on timeline tli, NULL if none. */
const char *drill_archive_newest(const DrillArchiveScan *scan, uint32_t tli);
/* Adds one object name seen under archive/wal (exposed for unit tests). */
int drill_archive_scan_add(DrillArchiveScan *scan, const char *object_name, int64_t mtime,
                           PgpErr *err);

typedef struct DrillTargetResult {
    bool passed;
    char detail[768];
    bool has_time;               /* reached: the last completed transaction's commit time */
    int64_t time_us;
    bool has_lsn;                /* reached: where redo ended */
    uint64_t lsn;
    uint32_t timeline;           /* reached: timeline of the last segment replayed (0: none) */
} DrillTargetResult;

/*
 * Did recovery reach the target? From the server's log (read after promotion) and, for
 * "latest", the archive as scanned when the drill began:
 *   every target: redo ended ("redo done at") after replaying archived WAL;
 *   latest: the last segment restored is the newest archived on its timeline (or newer);
 *   time: recovery stopped at the target ("recovery stopping ...") and the last completed
 *         transaction committed at or before the target time;
 *   lsn, xid, name, immediate: recovery stopped at the target ("recovery stopping ...", for
 *         xid naming the transaction, for name naming the restore point).
 * PostgreSQL 15 itself refuses to promote when the WAL ends before a target (FATAL "recovery
 * ended before configured recovery target was reached"); these checks make the report say
 * what was reached, and catch a configuration that silently did something else.
 */
void drill_target_evaluate(const RestoreTargetSpec *t, const PgServerLog *log,
                           const DrillArchiveScan *scan, DrillTargetResult *out);

#endif
