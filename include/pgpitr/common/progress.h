/*
 * progress.h - the status line of a long command on a terminal, one phase at a time, and the
 * line each phase ends with ("backup: stream: 1234 files, 456.0 MiB in 10.0 s, 45.6 MiB/s").
 *
 * Owns the terminal's status line: drawn on stderr with "\r\033[K" (never on stdout, which
 * carries JSON and summaries), redrawn at most every PROGRESS_INTERVAL seconds, and cleared
 * before any log line (log.c calls progress_log_begin/end around its write) and at the end of
 * the phase. Workers only add to a phase's atomic counters (progress_add); one thread draws
 * (progress_tick, rate limited), so no thread of its own is needed.
 *
 * Without a terminal (Progress.tty false) nothing is drawn and a phase's final line goes to
 * the log at info level instead: a journal or cron mail keeps its quiet default, and
 * --log-level info shows where a slow backup spent its time.
 *
 * The formatting and the rate limit are pure functions (progress_format_*, progress_due),
 * unit tested on given counters and times.
 */
#ifndef PGPITR_PROGRESS_H
#define PGPITR_PROGRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Seconds between two draws of the status line: 5 a second at most. */
#define PROGRESS_INTERVAL 0.2
#define PROGRESS_LINE_MAX 256

/* --progress / --no-progress / neither (a terminal on stderr and no JSON or quiet run). */
typedef enum { PROGRESS_AUTO = 0, PROGRESS_ON, PROGRESS_OFF } ProgressMode;

/* What a line is made of: the counters of a phase at a moment. */
typedef struct ProgressView {
    const char *cmd;            /* "backup" */
    const char *phase;          /* "stream" */
    const char *unit;           /* what items count: "files"; NULL: no items shown */
    uint64_t bytes, bytes_total;  /* bytes_total 0: unknown (no percentage, no ETA) */
    uint64_t items, items_total;  /* items_total 0: unknown */
    double seconds;             /* since the phase began */
    const char *extra;          /* appended after a comma ("stored 12.0 MiB"); NULL or "" */
} ProgressView;

/* The status line: "restore: files: 12/34 files, 45.6/120.0 MiB (38%), 22.8 MiB/s, ETA 3s",
 * truncated to size. */
void progress_format_status(const ProgressView *v, char *out, size_t size);
/* The final line: "restore: files: 34 files, 120.0 MiB in 5.3 s, 22.6 MiB/s, <extra>";
 * a phase without bytes: "backup: wal: 0.4 s, <extra>". */
void progress_format_done(const ProgressView *v, char *out, size_t size);
/* Whether a status line is due at now, the last one drawn at last (0: none yet). */
bool progress_due(double last, double now);
/* Whether status lines are drawn: on, off, or auto = a terminal on stderr unless quiet. */
bool progress_wanted(ProgressMode mode, bool quiet);
/* Monotonic seconds. */
double progress_now(void);

/* One phase. Zeroed or progress_begin'd; only the drawing thread calls begin, note, tick,
 * end; any thread calls add and set. */
typedef struct Progress {
    bool tty;                   /* draw the status line (progress_wanted) */
    const char *cmd, *phase, *unit;
    uint64_t bytes_total, items_total;
    atomic_uint_fast64_t bytes, items;
    double started, last_draw;
    char extra[PROGRESS_LINE_MAX / 2];
} Progress;

/* Starts phase (a string literal) of cmd; tty from progress_wanted. Draws nothing: the first
 * progress_tick does, at once (a phase that blocks, a checkpoint, ticks once after
 * progress_note so that it is named while it lasts). */
void progress_begin(Progress *p, bool tty, const char *cmd, const char *phase, const char *unit,
                    uint64_t bytes_total, uint64_t items_total);
void progress_add(Progress *p, uint64_t bytes, uint64_t items);
void progress_set(Progress *p, uint64_t bytes, uint64_t items);
/* Sets the extra text of the lines (printf format). */
void progress_note(Progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Draws the status line when due. */
void progress_tick(Progress *p);
/* Clears the status line and prints the final line: on the terminal, or at info level in the
 * log. A phase never begun (cmd NULL) prints nothing. */
void progress_end(Progress *p);

/* log.c, around each line it writes: clears a status line first, and keeps it from being
 * drawn until the line is out. */
void progress_log_begin(void);
void progress_log_end(void);

#endif
