/*
 * push_ahead.h - archive-push with `archive-push-jobs` N > 1 (docs/archiving.md, "Pushing
 * ahead"): when PostgreSQL asks to archive segment X, X has no record, and more segments after
 * X are marked ready in pg_wal/archive_status, up to PUSH_AHEAD_QUEUE_PER_JOB x N - 1 of them
 * are pushed too, by N threads in parallel with X, and each one that became durable gets a
 * record. They share their round trips: one lookup of all their names before
 * (repo_archive_find_many), their new objects stored through one StorageBatch (posix: one
 * syncfs makes them all durable before any is named), and one lookup after the batch's flush,
 * which must find exactly the pushed checksum under each name (else no record, and an object
 * of ours beside other content is removed, as wal_push_finish does). PostgreSQL's later
 * call for such a segment confirms the record and returns at once, without compressing,
 * uploading or pushing anything.
 *
 * A record is a claim, never trusted blindly. It is the file pg_wal/pgpitr_push/<segment>
 * ("<sha256 hex> <codec> <stored bytes> <unix time> <repository key>[ <keyed name>][ file <dev>
 * <ino> <size> <mtime ns> <ctime ns>]\n"), written only after that lookup (the object durable
 * under its final name, verified, alone). Confirming it takes, always:
 *   - the file PostgreSQL hands over now has the record's content (so a stale record of
 *     another incarnation of the cluster, or a file that changed, confirms nothing): its
 *     identity (file_ident.h) is the one recorded - the push took it before reading the file,
 *     found it settled (last changed 2 s or more before) and the same once the file was
 *     hashed, so no write can have happened since without changing it - or, when no identity
 *     was recorded or it differs now, the SHA-256 of the file equals the record's. A drain of
 *     an old backlog confirms by identity (a stat instead of hashing 16 MiB again: 17 of the
 *     64 ms of CPU a segment cost, issue #15); a segment pushed ahead within 2 s of its last
 *     write is hashed again; and
 *   - the repository key (a digest of the repository location and S3 endpoint) equals that of
 *     the repository this call is configured with;
 * and, for a record older than PUSH_AHEAD_FRESH_SECONDS (or dated in the future), also that
 * the repository holds that segment's object for that checksum and codec with the recorded
 * size (storage_stat; its path derived from the name and the checksum, never read from the
 * record, so a record cannot point at another object). A fresh record is confirmed without a
 * request: the object was durable and verified a moment ago by a push of this cluster into
 * this repository, and only an outside hand could have removed it since (see docs).
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
#include <stdint.h>

#include "pgpitr/archive/wal_push.h"
#include "pgpitr/common/err.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/repo/repo.h"

#define PUSH_AHEAD_DIR "pgpitr_push"
#define PUSH_AHEAD_JOBS_MAX 16
#define PUSH_AHEAD_QUEUE_PER_JOB 4
#define PUSH_AHEAD_LIST_MAX (PUSH_AHEAD_JOBS_MAX * PUSH_AHEAD_QUEUE_PER_JOB)
#define PUSH_AHEAD_FRESH_SECONDS 300
#define PUSH_AHEAD_KEY_LEN 16

/* Opens (creating it when create) wal_dir/pgpitr_push, checked as above; *dfd -1 when it does
 * not exist and create is false. */
int push_ahead_dir_open(const char *wal_dir, bool create, int *dfd, PgpErr *err);

/* Whether dfd holds a record for name (a plain existence check, before any hashing). */
bool push_ahead_has_record(int dfd, const char *name);

/* What a record claims, once taken (read, removed, parsed and checked against the file). */
typedef enum {
    PUSH_CLAIM_NONE,       /* no record, or one that does not hold: push as usual */
    PUSH_CLAIM_FRESH,      /* holds, and is fresh: confirmed without the repository */
    PUSH_CLAIM_STALE,      /* holds locally; confirm in the repository (push_ahead_confirm) */
} PushClaimState;

typedef struct PushClaim {
    PushClaimState state;
    char name[PG_WALNAME_SEG_LEN + 1];
    PipeCodec codec;
    uint64_t size, stored_size;
    char sha256_hex[PIPE_SHA256_HEX_LEN + 1];   /* the file's content */
    char name_hex[PIPE_SHA256_HEX_LEN + 1];     /* its object name's (keyed when encrypted) */
    bool by_identity;   /* the file's settled identity is the one recorded: not hashed again */
} PushClaim;

/* The repository key of a configured repository: location (and S3 endpoint, may be NULL). */
void push_ahead_repo_key(const char *location, const char *endpoint,
                         char key[PUSH_AHEAD_KEY_LEN + 1]);

/* Takes the record of src_path's segment from dfd and checks it against the file and the
 * repository key (above); the reason a record does not hold is logged as a warning. */
void push_ahead_take(int dfd, const char *src_path, const char *repo_key, int64_t now,
                     PushClaim *c);

/* For a stale claim: whether the repository holds the object (*confirmed); errors only from
 * the repository. For a fresh claim: confirmed, no request. res filled as wal_push_file's for
 * an already archived file when confirmed. */
int push_ahead_confirm(const PushClaim *c, Repo *repo, WalPushResult *res, bool *confirmed,
                       PgpErr *err);

typedef struct PushAheadList {
    char names[PUSH_AHEAD_LIST_MAX][PG_WALNAME_SEG_LEN + 1];
    size_t n;
} PushAheadList;

/* The first max (at most PUSH_AHEAD_LIST_MAX) segments after `after`, in name order, marked
 * ready in wal_dir/archive_status and without a record in dfd. Also removes the records of
 * segments before `after` (PostgreSQL archives in name order: those were asked for already)
 * and leftover temporary files. */
int push_ahead_pick(const char *wal_dir, int dfd, const char *after, size_t max,
                    PushAheadList *out, PgpErr *err);

/* The segments of l pushed ahead by `threads` threads of their own (push_ahead_start), each
 * taking the next segment of the list, joined by push_ahead_join, which says how it went. A
 * failure is logged and left to PostgreSQL's own call for that segment, and no segment is
 * started after it (a repository that fails one push fails them all: PostgreSQL's call is not
 * held up by the rest); push_ahead_stop starts no more either (the call's own push failed).
 * repo must be bound (repo_is_bound): the threads (one of them also does the lookups, the
 * batch's flush and the records) push through it. Each record says repo_key. */
typedef struct PushAhead PushAhead;
typedef struct PushAheadResult {
    size_t pushed;      /* stored now */
    size_t already;     /* were in the repository with the same content */
    size_t failed;
    size_t skipped;     /* not started: after a failure, push_ahead_stop, or no thread */
} PushAheadResult;
int push_ahead_start(Repo *repo, const char *repo_key, const char *wal_dir, int dfd,
                     const PushAheadList *l, size_t threads, const WalPushOptions *opt,
                     PushAhead **out, PgpErr *err);
void push_ahead_stop(PushAhead *p);   /* NULL is fine */
/* Waits until segment name of p's list (if it is one) is finished: pushed and recorded, or
 * failed, or never to be started (after a failure or push_ahead_stop); returns whether the
 * whole run is so (push_ahead_join then returns at once). The segments of a run are named and
 * recorded together, after its one batch flush and listing, so waiting for one of them is
 * waiting for the run. For a caller that keeps a run going across PostgreSQL's calls (the
 * archive module): the call for a segment of the run waits, then takes its record; a name not
 * in the list does not wait. NULL p: true. */
bool push_ahead_wait(PushAhead *p, const char *name);
void push_ahead_join(PushAhead *p, PushAheadResult *res);

#endif
