/*
 * wal_missing.h - what archive-get answers when the WAL file PostgreSQL asked for is not in
 * the repository: "not archived" (exit 1) or a fatal error (exit 255) that stops recovery.
 *
 * Why it matters: PostgreSQL runs restore_command in the data directory with %p =
 * "pg_wal/RECOVERYXLOG" (segments) or "pg_wal/RECOVERYHISTORY" (history files), and
 *   - in archive recovery (recovery.signal) "not found" ends recovery for good: the server
 *     promotes at that point, and whatever WAL follows is lost to it. So exit 1 must mean
 *     "truly beyond the end of the archive";
 *   - in standby mode (standby.signal, which wins over recovery.signal as in PostgreSQL)
 *     "not found" means "not yet: try streaming and ask again". Exit 1 is always safe there,
 *     and a fatal answer would stop a standby that merely waits for WAL to be archived.
 * The mode is read from the data directory that DEST lies in (wal_missing_mode). When it
 * cannot be told (DEST not in a pg_wal directory: a manual run, pg_rewind -c; or no signal
 * file) the answer is the strict one of archive recovery.
 *
 * Classification of a missing name (wal_missing_classify), repository read-only:
 *   NOT_REPOSITORY  no repo.json: an empty directory where the repository should be (an NFS
 *                   or automount point that is not mounted) looks exactly like an empty archive
 *   HOLE            segment N of timeline T, and a later segment of T is archived (also below
 *                   T's first archived segment: expired WAL). Not when T's history file says T
 *                   begins after segment N: PostgreSQL probes such names (older servers ask
 *                   every timeline of the history for every segment)
 *   LOST_TAIL       segment N of T, no later segment of T archived, but the history file of a
 *                   later timeline says T went on past segment N (that timeline forked off T
 *                   later): the segment existed and recovery along that history needs it. This
 *                   is the classic failover loss: a promoted standby does not archive WAL of
 *                   the old timeline that it received by streaming
 *   HISTORY_GAP     T.history (T > 1), while the history file of a higher timeline is archived:
 *                   PostgreSQL's search for the newest timeline stops at the first missing
 *                   file and would silently follow an older timeline. History files are never
 *                   expired, so the archive is damaged
 *   BEYOND          anything else: the next segment not archived yet, a timeline with no
 *                   archived segment >= N, the end-of-recovery probe for the new timeline's
 *                   history file, .partial and .backup names
 *
 * Decision (wal_missing_decide):
 *   mode                      BEYOND  HOLE, LOST_TAIL        HISTORY_GAP     NOT_REPOSITORY,
 *                                                                            errors
 *   archive recovery/unknown  exit 1  fatal after re-check   fatal after     fatal
 *     without recovery target                                re-check
 *   ... with a target         exit 1  warning, exit 1        as above        fatal
 *   standby                   exit 1  warning, exit 1        warning, exit 1 warning, exit 1
 * With a recovery target (pgrecovery.h) PostgreSQL refuses by itself to end recovery short of
 * it, and its WAL read-ahead asks for segments past the target that replay never needs: a
 * hole just after the target must not stop a recovery about to reach it.
 * One exception to "unknown": a history file asked for in a data directory that has no
 * signal file is answered as in standby mode. That is PostgreSQL at the very end of a
 * promotion: it removes the signal files, then fetches the parent timeline's history file to
 * copy it into the new timeline's (writeTimeLineHistory). Recovery is over by then, and a
 * fatal answer would crash the promotion halfway.
 * The re-check: a hole may be a push in flight (a later segment landed first). Before a
 * fatal answer the file is fetched again recheck_tries times, recheck_ms apart; when it has
 * arrived it is restored (0).
 *
 * Cost: only on a miss (the end of recovery, probes): one listing of the timeline's archive
 * directories from segment N on, one of archive/history, and for a segment with nothing after
 * it on its timeline, the history files of the higher timelines.
 */
#ifndef PGPITR_WAL_MISSING_H
#define PGPITR_WAL_MISSING_H

#include <limits.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/pg/walname.h"

typedef enum {
    WAL_MODE_UNKNOWN,           /* not determinable: treated as archive recovery */
    WAL_MODE_ARCHIVE_RECOVERY,  /* recovery.signal */
    WAL_MODE_STANDBY,           /* standby.signal */
} WalRecoveryMode;

/*
 * The recovery mode of the data directory DEST lies in: the directory holding the pg_wal
 * directory that is DEST's parent, found lexically (a relative DEST is relative to the
 * working directory, which PostgreSQL sets to the data directory; pg_wal is not resolved:
 * it may be a symlink, initdb -X). datadir (may be NULL) gets that directory ("" when DEST's
 * parent is not named pg_wal).
 */
WalRecoveryMode wal_missing_mode(const char *dest, char datadir[PATH_MAX]);
const char *wal_missing_mode_name(WalRecoveryMode m);   /* "archive recovery", ... */

typedef enum {
    WAL_MISSING_BEYOND,
    WAL_MISSING_HOLE,
    WAL_MISSING_LOST_TAIL,
    WAL_MISSING_HISTORY_GAP,
    WAL_MISSING_NOT_REPOSITORY,
} WalMissingKind;

typedef struct WalMissing {
    WalMissingKind kind;
    /* HOLE: the next archived segment of the timeline; HISTORY_GAP: the highest archived
     * history file; LOST_TAIL: the later timeline's history file; else "" */
    char next[PG_WALNAME_MAX + 1];
    uint32_t tli;               /* the missing name's timeline */
    uint32_t child_tli;         /* LOST_TAIL: the later timeline */
    uint64_t fork_lsn;          /* LOST_TAIL: where that timeline leaves tli */
    char reason[256];           /* BEYOND: why it is beyond the end, for the info log */
} WalMissing;

/* Classifies walname (validated with pg_walname_parse), which the repository does not hold.
 * Errors are the listings' and reading history files' (a history file of a later timeline
 * that does not verify is skipped with a warning: it cannot prove anything). */
int wal_missing_classify(Repo *repo, const char *walname, WalMissing *out, PgpErr *err);

#define WAL_MISSING_RECHECK_TRIES 3
#define WAL_MISSING_RECHECK_MS 1000

typedef struct WalMissingRequest {
    Repo *repo;
    const char *repo_path;      /* named in messages */
    const char *walname;
    const char *dest;           /* %p: tells the mode */
    unsigned recheck_tries;     /* fetches again before a fatal answer for a hole */
    unsigned recheck_ms;        /* wait before each */
    /* fetches walname into dest again: 0 restored, PGP_ERR_NOT_FOUND still missing */
    int (*refetch)(void *ud, PgpErr *err);
    void *refetch_ud;
    /* waits ms before a re-check, called with refetch_ud; NULL: nanosleep (tests inject) */
    void (*sleep_ms)(void *ud, unsigned ms);
} WalMissingRequest;

/*
 * The answer for req->walname after a fetch found nothing: 0 when a re-check restored it,
 * PGP_ERR_NOT_FOUND (message set; archive-get exits 1) when "not archived" is the right
 * answer, another code (archive-get exits 255: PostgreSQL stops recovery) otherwise. Fatal
 * messages name the missing file, the next archived one, the repository and a HINT. Logs the
 * decision at info level, and warnings in standby mode.
 */
int wal_missing_decide(const WalMissingRequest *req, PgpErr *err);

/*
 * archive-get could not read the repository at all (rc, with its message in err): the
 * storage root is missing (a mount point's subdirectory while NFS is not mounted), the store
 * is unreachable, an i/o error. In standby mode that is "not yet" too: a fatal answer would
 * shut the standby down although it can go on streaming, and PostgreSQL asks again after
 * wal_retrieve_retry_interval. So there: a warning naming the repository and the error, and
 * PGP_ERR_NOT_FOUND (message set). What a standby must never be handed, and what no retry
 * cures, stays fatal in every mode: corrupt or conflicting content, a repository of another
 * cluster, bad names and usage, internal errors. In any other mode rc is returned, err
 * untouched.
 */
int wal_missing_unreachable(const char *dest, const char *repo_path, int rc, PgpErr *err);

#endif
