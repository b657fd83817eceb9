/*
 * wal_history.h - what the archived WAL holds, as restore sees it before it writes anything
 * (and the drill, archive-get's miss classification and the catalog with it):
 * which segments are archived (an index built from directory listings, one listing per
 * archive directory, read at most once), the timeline history files, and the walk along a
 * timeline history from a backup's start segment that finds where the contiguous WAL ends.
 *
 * Read-only on the repository. Only full segments count ("<24 hex>-<sha256><ext>"): a
 * .partial file is never fetched by recovery, and .backup files are not WAL.
 */
#ifndef PGPITR_WAL_HISTORY_H
#define PGPITR_WAL_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/pg/timeline.h"
#include "pgpitr/repo/tl_production.h"
#include "pgpitr/pg/walname.h"

typedef struct WalHistoryIndex WalHistoryIndex;

/* repo must be bound (its WAL segment size is used). Lists nothing yet. */
int wal_history_index_new(Repo *repo, WalHistoryIndex **out, PgpErr *err);
void wal_history_index_free(WalHistoryIndex *ix);            /* NULL is a no-op */

/*
 * Whether segment `name` (24 hex) is archived, and its object's mtime (the time it was
 * archived, to the second). PGP_ERR_CONFLICT when two objects with different checksums claim
 * the name (archive-get would refuse it during recovery).
 */
int wal_history_find(WalHistoryIndex *ix, const char *name, bool *found, int64_t *mtime,
                     PgpErr *err);
/* Whether any segment of timeline tli with a number in [from, to] is archived. */
int wal_history_any(WalHistoryIndex *ix, uint32_t tli, uint64_t from, uint64_t to, bool *found,
                    PgpErr *err);
/* Like wal_history_any, and *segno gets the lowest such segment number (when *found). */
int wal_history_first(WalHistoryIndex *ix, uint32_t tli, uint64_t from, uint64_t to, bool *found,
                      uint64_t *segno, PgpErr *err);

/* The highest timeline with a history file in the archive; 1 when there is none. */
int wal_history_latest_timeline(WalHistoryIndex *ix, uint32_t *tli, PgpErr *err);
/* Every timeline with a history file in the archive, ascending, no duplicates; *tlis malloc'd
 * (NULL when none). */
int wal_history_tlis(WalHistoryIndex *ix, uint32_t **tlis, size_t *n, PgpErr *err);
/*
 * The history of timeline tli: its archived history file (fetched, decompressed, verified
 * against the checksum in its name, parsed), or, when there is none (always for timeline 1),
 * the timeline alone, as PostgreSQL assumes; *found says which. A history file that does not
 * verify or parse is an error (PGP_ERR_CORRUPT), never replaced by a guess.
 */
int wal_history_read(WalHistoryIndex *ix, uint32_t tli, PgTimelineHistory *out, bool *found,
                     PgpErr *err);

/*
 * What every timeline received (tl_production.h): each archived segment and history file with
 * its archive time, and where each timeline with a history file forked off. Lists every
 * archive directory (each once, as the walk does). *out is zeroed first; free it with
 * tl_activity_free (also after a failure). Errors are those of the listings.
 */
int wal_history_activity(WalHistoryIndex *ix, TlActivityList *out, PgpErr *err);

typedef struct WalHistoryWalk {
    uint64_t first_segno;               /* where the walk started */
    uint64_t n_present;                 /* segments found, contiguous from first_segno */
    uint64_t last_segno;                /* the last of them (when n_present > 0) */
    char last_name[PG_WALNAME_SEG_LEN + 1];
    int64_t last_mtime;                 /* archive time of last_name's object */
    bool complete;                      /* every segment up to `until` is archived */
    char missing[PG_WALNAME_SEG_LEN + 1]; /* the first segment not archived ("" if complete) */
    uint64_t missing_segno;
    bool gap;                           /* later segments of the history are archived: the
                                           missing one is a hole, not the archive's end */
    char gap_next[PG_WALNAME_SEG_LEN + 1]; /* one such later segment (when gap) */
} WalHistoryWalk;

/*
 * Walks h from segment `from` to `until` (inclusive; UINT64_MAX: as long as segments follow),
 * each segment on the timeline recovery reads it from (pg_timeline_of_segno): at a switch the
 * new timeline's file replaces the old one's. Stops at the first segment not archived and
 * tells whether it is a hole. Errors are only those of the listings (and CONFLICT).
 */
int wal_history_walk(WalHistoryIndex *ix, const PgTimelineHistory *h, uint64_t from,
                     uint64_t until, WalHistoryWalk *out, PgpErr *err);

uint32_t wal_history_segsize(const WalHistoryIndex *ix);

#endif
