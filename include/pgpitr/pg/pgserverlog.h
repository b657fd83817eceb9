/*
 * pgserverlog.h - what a PostgreSQL 15 server logged about its archive recovery, read from
 * its stderr log: the WAL files restore_command fetched, where redo ended, the time of the
 * last replayed commit, why recovery stopped, the new timeline, and the last FATAL line; and
 * which of its lines explain a failure (pg_server_log_excerpt).
 *
 * Why the log and not SQL: after promotion pg_last_wal_replay_lsn() and
 * pg_last_xact_replay_timestamp() describe nothing useful any more (NULL or stale), and
 * pg_control_checkpoint() lags until the end-of-recovery checkpoint completes. PostgreSQL 15
 * prints exactly what a drill must prove, at LOG level, at the end of recovery:
 *   LOG:  restored log file "000000010000000000000003" from archive
 *   LOG:  recovery stopping before commit of transaction 745, time 2026-11-22 03:15:08.1+00
 *   LOG:  redo done at 0/3000148 system usage: CPU: ...
 *   LOG:  last completed transaction was at log time 2026-11-22 03:15:07.25+00
 *   LOG:  selected new timeline ID: 2
 *   LOG:  database system is ready to accept connections
 * The drill starts the server with lc_messages = 'C' (English texts), logging_collector = off
 * and log_min_messages = warning, so these lines are there and in this form. Lines that are
 * not PostgreSQL's (restore_command writes to the same stderr) are kept when they are
 * pgpitr's own error lines ("pgpitr: error: ...").
 *
 * Pure text work except pg_server_log_poll, which reads the file incrementally.
 */
#ifndef PGPITR_PGSERVERLOG_H
#define PGPITR_PGSERVERLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

#define PG_SERVER_LOG_TEXT_MAX 512

typedef struct PgServerLog {
    uint64_t segments_fetched;           /* "restored log file" lines naming a segment */
    uint64_t segments_restored;          /* distinct segments among them: PostgreSQL fetches
                                            the last one again when it switches to the new
                                            timeline at promotion */
    uint64_t history_restored;           /* ... naming a .history file */
    char last_segment[25];               /* the last segment restored ("" if none) */
    bool recovery_started;               /* "starting archive recovery" (or point-in-time,
                                            or standby mode): the server got that far */
    bool has_redo_start;
    uint64_t redo_start_lsn;             /* "redo starts at X/X" */
    bool has_redo_done;
    uint64_t redo_done_lsn;              /* "redo done at X/X" */
    bool has_last_xact;
    int64_t last_xact_us;                /* "last completed transaction was at log time T" */
    char last_xact_text[64];             /* T as printed */
    char stop_text[PG_SERVER_LOG_TEXT_MAX];   /* "recovery stopping ..." message, "" if none */
    uint32_t new_timeline;               /* "selected new timeline ID: N", 0 if none */
    bool archive_recovery_complete;      /* "archive recovery complete" */
    bool ready;                          /* "database system is ready to accept connections"
                                            (read-write; not the read-only variant) */
    char last_fatal[PG_SERVER_LOG_TEXT_MAX];  /* message of the last FATAL or PANIC line */
    char last_tool_error[PG_SERVER_LOG_TEXT_MAX]; /* last "pgpitr: error: " line, prefix cut */
    char last_error[PG_SERVER_LOG_TEXT_MAX];  /* message of the last ERROR line */
    uint64_t lines;
    /* pg_server_log_poll's position: bytes of the file consumed (whole lines only). */
    uint64_t offset;
} PgServerLog;

void pg_server_log_init(PgServerLog *l);

/* Feeds one line (without its newline; len bytes, need not be NUL-terminated). */
void pg_server_log_feed(PgServerLog *l, const char *line, size_t len);

/* Reads the lines appended to path since the last call and feeds them. A last line without
 * its newline is left for the next call unless final is true. A missing file is not an
 * error (the server has not written anything yet). */
int pg_server_log_poll(PgServerLog *l, const char *path, bool final, PgpErr *err);

/* Up to max_lines of the end of the file at path, one malloc'd string per line (newline
 * cut, control characters replaced by '?', each cut to PG_SERVER_LOG_TEXT_MAX bytes) in
 * *lines (malloc'd array), count in *n. Missing file: 0 lines. */
int pg_server_log_tail(const char *path, size_t max_lines, char ***lines, size_t *n,
                       PgpErr *err);
void pg_server_log_tail_free(char **lines, size_t n);

/*
 * What a DBA needs from the log of a failed drill, in order (docs/drill.md, "When a drill
 * fails"): FATAL, PANIC, ERROR and WARNING lines with their DETAIL, HINT, CONTEXT and STATEMENT
 * lines; the LOG lines that mark recovery's progress ("starting archive recovery", "redo starts
 * at", "consistent recovery state reached", "recovery stopping", "redo done at", "selected new
 * timeline ID", "database system is ready to accept connections", ...) or report a problem
 * (where the WAL ended, a setting refused, a child process that died); pgpitr's own error and
 * warning lines (restore_command's, with their HINT). Not the "restored log file" line of
 * every segment, checkpoints, nor what follows a shutdown request (the drill stops its server:
 * the sessions it ends are not a failure), except ERROR, WARNING, PANIC and FATAL lines.
 * Lines without a severity (continuations) go with the line above.
 */
typedef struct PgServerLogFilter {
    bool prev_kept;
    bool shutdown;               /* a "received ... shutdown request" line was seen */
} PgServerLogFilter;

/* Whether line (NUL-terminated, as pg_server_log_tail returns it) is worth showing; f carries
 * what earlier lines said (zero it before the first line). */
bool pg_server_log_relevant(PgServerLogFilter *f, const char *line);

/* Like pg_server_log_tail, but only the relevant lines (pg_server_log_relevant). */
int pg_server_log_excerpt(const char *path, size_t max_lines, char ***lines, size_t *n,
                          PgpErr *err);

/*
 * A PostgreSQL timestamptz as the server prints it in the log (timestamptz_to_str: ISO,
 * always with a numeric offset): "2026-11-22 03:15:07.25+01", "... 03:15:07-05:30",
 * "...+05:45:30"; a 'T' instead of the blank and 'Z' for UTC are accepted too.
 * Microseconds since the epoch, UTC. false for anything else (no offset, BC, out of range).
 */
bool pg_log_parse_timestamp(const char *text, int64_t *us);

#endif
