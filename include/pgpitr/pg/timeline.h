/*
 * timeline.h - PostgreSQL timeline history: parsing a timeline's ".history" file and
 * answering which timeline a WAL position or a WAL segment belongs to along that history.
 * Pure functions over bytes already read (no I/O): the history file's text comes from the
 * archive through cmd/.
 *
 * File format (PostgreSQL 15 writeTimeLineHistory / readTimeLineHistory): the history of
 * timeline T lists every ancestor, oldest first, one line each:
 *     <parent tli> TAB <switch point X/X> TAB <reason>
 * where the switch point is the LSN at which timeline T' = the next line's tli (or T itself
 * for the last line) forked off the parent. Blank lines and lines starting with '#' (after
 * white space) are skipped; whatever follows the switch point is ignored.
 *
 * Semantics follow PostgreSQL: a point lsn belongs to the entry with begin <= lsn < end
 * (tliOfPointInHistory); WAL segment segno is read from the newest timeline whose begin
 * segment is <= segno (XLogFileReadAnyTLI): at a switch, the new timeline's first segment has
 * the same segment number as the old timeline's last one and holds the old timeline's WAL up
 * to the switch point, so it replaces that segment.
 */
#ifndef PGPITR_TIMELINE_H
#define PGPITR_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

/* end of the newest entry: the timeline has not forked (again) */
#define PG_TIMELINE_OPEN UINT64_MAX
/* Largest history file accepted (PostgreSQL writes about 50 bytes per ancestor). */
#define PG_TIMELINE_HISTORY_MAX ((size_t)4 << 20)

typedef struct PgTimelineEntry {
    uint32_t tli;
    uint64_t begin;     /* first position on this timeline (0 for the oldest) */
    uint64_t end;       /* switch point where the next entry forks off; PG_TIMELINE_OPEN last */
} PgTimelineEntry;

typedef struct PgTimelineHistory {
    uint32_t tli;               /* whose history this is */
    PgTimelineEntry *entries;   /* oldest first; the last one is tli itself (end OPEN) */
    size_t n;
} PgTimelineHistory;

/*
 * Parses the history file of timeline tli (len bytes, need not be NUL-terminated) into out
 * (freed with pg_timeline_free, also after a failure). PGP_ERR_CORRUPT naming the line for:
 * a line that is not "<decimal tli> <ws> <X/X>", a parent tli of 0 or not increasing, a
 * parent tli >= tli, a switch point below the previous one, or len above
 * PG_TIMELINE_HISTORY_MAX. tli must be >= 1 (PGP_ERR_INTERNAL otherwise); timeline 1 has no
 * history file, and text listing ancestors for it is CORRUPT.
 */
int pg_timeline_parse(uint32_t tli, const char *text, size_t len, PgTimelineHistory *out,
                      PgpErr *err);
/* The history of a timeline without a history file (timeline 1, or a lost file): itself
 * only, from 0, open. Like PostgreSQL, which assumes exactly that when the file is absent. */
int pg_timeline_single(uint32_t tli, PgTimelineHistory *out, PgpErr *err);
void pg_timeline_free(PgTimelineHistory *h);   /* NULL and zeroed histories are fine */

/* The entry of tli in h; NULL if tli is not on h. */
const PgTimelineEntry *pg_timeline_find(const PgTimelineHistory *h, uint32_t tli);
/* The timeline position lsn belongs to on h (begin <= lsn < end). */
uint32_t pg_timeline_of_lsn(const PgTimelineHistory *h, uint64_t lsn);
/* The timeline whose file of segment segno recovery reads on h: the newest entry whose
 * begin lies in a segment <= segno. segsize must be valid (0 returned otherwise). */
uint32_t pg_timeline_of_segno(const PgTimelineHistory *h, uint64_t segno, uint32_t segsize);
/*
 * Whether WAL written on timeline tli up to stop_lsn is part of h: tli is on h and its switch
 * point (where h leaves it) is >= stop_lsn. *fork (may be NULL) gets that switch point
 * (PG_TIMELINE_OPEN when h never leaves tli; 0 when tli is not on h).
 */
bool pg_timeline_contains(const PgTimelineHistory *h, uint32_t tli, uint64_t stop_lsn,
                          uint64_t *fork);

/* "00000002.history" */
void pg_timeline_history_name(uint32_t tli, char out[32]);
/* "1 -> 2 at 0/3000158 -> 3 at 0/5000000" (or "1"), cut to size with "..." */
void pg_timeline_describe(const PgTimelineHistory *h, char *out, size_t size);

#endif
