/*
 * push_backlog.h - what archive-push does when it keeps failing (docs/archiving.md, "When the
 * repository stays unreachable"): it remembers since when, says so loudly once that lasts
 * longer than archive-push-alert-after, and, only when the DBA chose
 * `archive-push-queue-full = drop` and the ready backlog in pg_wal exceeds
 * archive-push-queue-max, drops the segment with a durable record instead of failing.
 *
 * All state lives in pg_wal/pgpitr_push (push_ahead_dir_open; PostgreSQL's base backups leave
 * it out):
 *   failing           "<first failure unix time> <failed calls>\n", written at each failure
 *                     (the first time kept), removed by the next success; read by metrics.
 *   dropped/<segment> one JSON object per dropped segment (segment, time, backlog, limit,
 *                     error), fsynced with its directory before archive-push exits 0. The next
 *                     call that reaches the repository uploads each to
 *                     archive/dropped/<segment>.json (repo_layout.h) and then removes it, so
 *                     that info, check, verify, metrics and drills name the hole as dropped.
 *
 * Dropping is never the default: without `drop`, a failing push fails and PostgreSQL keeps
 * the segment (and pg_wal grows). Only repository trouble may drop (i/o errors, a full
 * repository); a segment refused for its content (another cluster, different content under
 * the same name, a bad name) never is, and neither are .history, .backup or .partial files.
 */
#ifndef PGPITR_PUSH_BACKLOG_H
#define PGPITR_PUSH_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/repo.h"

#define PUSH_BACKLOG_FAILING "failing"
#define PUSH_BACKLOG_DROPPED_DIR "dropped"
#define PUSH_BACKLOG_ALERT_DEFAULT 300

typedef struct PushFailing {
    int64_t since;          /* the first failure of this run of failures (unix time) */
    uint64_t calls;         /* failed calls since then, this one included */
} PushFailing;

/* Records a failed call in dfd (creating the state or keeping its first time); *out gets the
 * state afterwards. A state that cannot be written is a warning: out still says "now". */
void push_backlog_note_failure(int dfd, int64_t now, PushFailing *out);
/* A call succeeded: the failing state is removed (none is fine). */
void push_backlog_clear(int dfd);
/* The failing state of wal_dir (for metrics): *failing false when none. Errors: an unreadable
 * or malformed state file (PGP_ERR_CORRUPT), an unreadable directory. */
int push_backlog_read_failing(const char *wal_dir, bool *failing, PushFailing *out,
                              PgpErr *err);

/* The files PostgreSQL marked ready in wal_dir/archive_status and their bytes in wal_dir. */
int push_backlog_ready(const char *wal_dir, uint64_t *files, uint64_t *bytes, PgpErr *err);

/* Whether a push that failed with err may be dropped: repository trouble only (above). */
bool push_backlog_droppable(const PgpErr *err, const char *name);

typedef struct PushDrop {
    const char *name;           /* the segment */
    int64_t now;
    PushFailing failing;
    uint64_t ready_files, ready_bytes, queue_max;
    const char *error;          /* why the push failed */
} PushDrop;

/* Writes dfd/dropped/<name> durably (file and directories fsynced). Nonzero: not recorded,
 * so the segment must not be dropped. */
int push_backlog_record_drop(int dfd, const PushDrop *d, PgpErr *err);

/* What a run of failures leads to: the settings archive-push-alert-after (seconds),
 * archive-push-queue-max (bytes, 0: not set) and archive-push-queue-full = drop. */
typedef struct PushBacklogPolicy {
    int64_t alert_after;
    uint64_t queue_max;
    bool drop;
} PushBacklogPolicy;

/* After a push into wal_dir (a directory with archive_status) succeeded: the run of failures
 * is over, and the drop records of *dfd go into repo (when not NULL: a call that confirmed a
 * fresh record did not open it). */
void push_backlog_success(int dfd, Repo *repo);
/* After the push of name in wal_dir failed with rc/err: counted (opening *dfd, creating the
 * directory, when it is -1; the caller closes it); once the run of failures lasts
 * alert_after, an ALERT line; and, only when policy says so and the drop is recorded, the
 * segment dropped: returns 0 then, rc otherwise. */
int push_backlog_failure(const PushBacklogPolicy *policy, const char *wal_dir, int *dfd,
                         const char *name, int rc, const PgpErr *err);

/* The longest drop record pgpitr writes; a longer file is refused, never uploaded cut. */
#define PUSH_BACKLOG_DROP_RECORD_MAX 4096

/* Uploads every drop record of dfd into repo (an object already there counts as uploaded) and
 * removes each local one once durable there; *n gets how many. Stops at the first error. */
int push_backlog_upload_drops(int dfd, Repo *repo, size_t *n, PgpErr *err);

#endif
