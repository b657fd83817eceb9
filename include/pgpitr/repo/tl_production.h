/*
 * tl_production.h - which timeline production is on, judged from what the repository
 * received; and PostgreSQL's "latest" next to it. Pure: the facts come from a listing
 * (wal_history.c for restore and drill, catalog.c for info); nothing here does I/O.
 *
 * Why: PostgreSQL's "latest" is the highest timeline with a history file. That is production's
 * only as long as nothing else promoted and archived into the repository. A restored copy
 * started with archiving on (restore --archive-mode preserve, or a copy restored by an older
 * pgpitr) makes a new, higher timeline while production goes on on its own; "latest" then
 * follows the copy, and a drill or a restore to the newest point proves or restores the copy's
 * history instead of production's.
 *
 * The rule (docs/pitr.md, "Which timeline is production's"): a timeline's last archive time is
 * the newest archive time (object modification time, whole seconds, the repository's own clock)
 * of its archived WAL segments and of its history file. Production's timeline is the one with
 * the newest last archive time: production is the server that is still archiving. .partial and
 * .backup files do not count: at a promotion the new timeline's server archives the old
 * timeline's last segment as .partial, which would credit the old timeline with the new one's
 * activity. A tie (two timelines whose newest objects arrived in the same second) goes to the
 * higher timeline ID, as PostgreSQL would choose (a child is always higher than its parent);
 * it is ambiguous when a tied timeline is not an ancestor of the one chosen.
 */
#ifndef PGPITR_TL_PRODUCTION_H
#define PGPITR_TL_PRODUCTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pg/walname.h"

/* What the archive holds of one timeline. */
typedef struct TlActivity {
    uint32_t tli;
    uint32_t parent;            /* the timeline it forked off; 0: none known (timeline 1, or
                                   no history file that verifies and parses) */
    uint64_t fork_lsn;          /* where it forked off parent (when parent != 0) */
    bool has_history;           /* its history file is archived */
    int64_t history_time;       /* when (its archive time) */
    bool has_segments;          /* it has an archived segment */
    uint64_t last_segno;        /* the highest one */
    bool has_last;              /* it has an archived segment or history file */
    int64_t last;               /* the newest archive time among them (seconds) */
    char last_name[PG_WALNAME_MAX + 1];  /* that object's WAL file name */
} TlActivity;

typedef struct TlActivityList {
    TlActivity *v;              /* ascending tli */
    size_t n, cap;
} TlActivityList;

/* The entry of tli, added (zeroed but for tli) when absent; NULL only when out of memory. */
TlActivity *tl_activity_get(TlActivityList *l, uint32_t tli);
/* Records that object `name` of timeline tli was archived at mtime: the entry's last archive
 * time becomes the newer one (same second: the greater name). PGP_ERR_NOMEM only. */
int tl_activity_note(TlActivityList *l, uint32_t tli, int64_t mtime, const char *name,
                     PgpErr *err);
/* tl_activity_note for archived segment segno (name: its WAL file name), which also keeps the
 * highest segment number; and for the history file of tli. PGP_ERR_NOMEM only. */
int tl_activity_segment(TlActivityList *l, uint32_t tli, uint64_t segno, int64_t mtime,
                        const char *name, PgpErr *err);
int tl_activity_history(TlActivityList *l, uint32_t tli, int64_t mtime, PgpErr *err);
const TlActivity *tl_activity_find(const TlActivityList *l, uint32_t tli);
void tl_activity_free(TlActivityList *l);     /* zeroed lists are fine */

/* Whether a is an ancestor of b along the parent links (a timeline is not its own). */
bool tl_activity_is_ancestor(const TlActivityList *l, uint32_t a, uint32_t b);

typedef struct TlProduction {
    bool known;                 /* some timeline has an archived segment or history file */
    uint32_t tli;               /* production's timeline (when known) */
    int64_t last;               /* its last archive time */
    char last_name[PG_WALNAME_MAX + 1];
    bool ambiguous;             /* a tied timeline is not an ancestor of tli */
    uint32_t tied;              /* that timeline (when ambiguous) */
    uint32_t latest;            /* PostgreSQL's latest: the highest timeline with a history
                                   file; 1 when there is none */
} TlProduction;

void tl_production_decide(const TlActivityList *l, TlProduction *out);

/* "it received the most recently archived WAL: 000000010000000000000009 at
 * 2026-11-22T03:00:00Z"; "nothing is archived" when !known. */
void tl_production_describe(const TlProduction *p, char *out, size_t size);

/*
 * Why the timeline followed may mislead, "" when it may not: following PostgreSQL's latest
 * (by_production false) when production's is another timeline; following production's
 * (by_production true) when latest, what restore follows by default, is another; and when
 * production's is ambiguous. Each names the timelines and the --target-timeline to use.
 */
void tl_production_warning(const TlProduction *p, bool by_production, uint32_t followed,
                           uint32_t latest, char *out, size_t size);

/* How long after its history file arrived a fork off the past is worth a warning. */
#define TL_RECENT_FORK_S (24 * 3600)

/*
 * The window the rule cannot see into: right after a restored copy promoted and archived, its
 * timeline is the most recent, so it is taken for production's. What gives it away is where it
 * forked off: a failover forks off the end of the old timeline, a point-in-time restore off
 * its past. Says so ("" otherwise) when a timeline on followed's history (followed included)
 * whose history file arrived less than TL_RECENT_FORK_S before now forked off a parent whose
 * archived WAL goes on past the fork's segment: then either a PITR replaced production, or a
 * copy forked off and production is still on the parent. segsize: the WAL segment size.
 */
void tl_production_fork_warning(const TlActivityList *l, uint32_t followed, int64_t now,
                                uint32_t segsize, char *out, size_t size);

#endif
