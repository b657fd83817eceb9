/*
 * push_ahead.h - archive-push with `archive-push-jobs` N > 1 (docs/archiving.md, "Pushing
 * ahead"): when PostgreSQL asks to archive segment X and more segments after X are marked
 * ready in pg_wal/archive_status, up to N-1 of them are pushed too, in parallel with X, and
 * each one that became durable gets a record. PostgreSQL's later call for such a segment
 * confirms the record and returns at once, without compressing or uploading anything.
 *
 * A record is a claim, never trusted blindly. It is the file pg_wal/pgpitr_push/<segment>
 * ("<sha256 hex> <codec> <stored bytes>\n"), written only after wal_push_file returned 0 (the
 * object durable under its final name, verified). Confirming it takes both:
 *   - the SHA-256 of the file PostgreSQL hands over now equals the record's (so a stale record
 *     of another incarnation of the cluster, or a file that changed, confirms nothing), and
 *   - the repository now holds that segment's object for that checksum and codec, with the
 *     recorded size (storage_stat; its path is derived from the name and the checksum, never
 *     read from the record, so a record cannot point at another object).
 * Anything else (no record, unreadable, malformed, mismatched, object missing) means "push it
 * as usual"; the record is removed once looked at. Records are not fsynced: a record lost in
 * a crash only costs a push, and a torn one does not parse.
 *
 * The directory is checked like the archive-get spool (spool_dir_open: the effective user's,
 * mode 0700, not a symbolic link) and reached through its descriptor only. PostgreSQL never
 * backs up pg_wal's contents, and base backups leave out unknown directories there.
 */
#ifndef PGPITR_PUSH_AHEAD_H
#define PGPITR_PUSH_AHEAD_H

#include <stdbool.h>
#include <stddef.h>

#include "pgpitr/archive/wal_push.h"
#include "pgpitr/common/err.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/repo/repo.h"

#define PUSH_AHEAD_DIR "pgpitr_push"
#define PUSH_AHEAD_JOBS_MAX 32

/* Opens (creating it when create) wal_dir/pgpitr_push, checked as above; *dfd -1 when it does
 * not exist and create is false. */
int push_ahead_dir_open(const char *wal_dir, bool create, int *dfd, PgpErr *err);

/* Whether dfd holds a record for name (a plain existence check, before any hashing). */
bool push_ahead_has_record(int dfd, const char *name);

/* Confirms and removes the record of src_path's segment (above). *confirmed false, and 0,
 * when it does not hold (the reason logged as a warning); res filled as wal_push_file's for an
 * already archived file when it does. Errors only from the repository (the stat). */
int push_ahead_confirm(int dfd, Repo *repo, const char *src_path, WalPushResult *res,
                       bool *confirmed, PgpErr *err);

typedef struct PushAheadList {
    char names[PUSH_AHEAD_JOBS_MAX][PG_WALNAME_SEG_LEN + 1];
    size_t n;
} PushAheadList;

/* The first max (at most PUSH_AHEAD_JOBS_MAX) segments after `after`, in name order, marked
 * ready in wal_dir/archive_status and without a record in dfd. Also removes the records of
 * segments before `after` (PostgreSQL archives in name order: those were asked for already)
 * and leftover temporary files. */
int push_ahead_pick(const char *wal_dir, int dfd, const char *after, size_t max,
                    PushAheadList *out, PgpErr *err);

/* Segments pushed ahead by threads of their own (push_ahead_start), joined by
 * push_ahead_join, which says how it went. A failure is logged and left to PostgreSQL's own
 * call for that segment. repo must be bound (repo_is_bound): each thread calls wal_push_file
 * on it. */
typedef struct PushAhead PushAhead;
typedef struct PushAheadResult {
    size_t pushed;      /* stored now */
    size_t already;     /* were in the repository with the same content */
    size_t failed;
} PushAheadResult;
int push_ahead_start(Repo *repo, const char *wal_dir, int dfd, const PushAheadList *l,
                     const WalPushOptions *opt, PushAhead **out, PgpErr *err);
void push_ahead_join(PushAhead *p, PushAheadResult *res);

#endif
