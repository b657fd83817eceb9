/*
 * restore_plan.h - deciding a restore before anything is written: which backup (the newest
 * complete one that can reach the target along the target timeline's history, or the one
 * asked for), which timeline recovery follows, and whether the target is reachable: the
 * backup is intact (manifest loads, every object it names exists, every chunk of its chunked
 * files too: restore_chunk_check.h) and the WAL from the
 * backup's start is archived with no gap along the timeline path up to the target.
 *
 * Read-only on the repository. Every refusal names what is wrong and, for WAL, the earliest
 * and latest recoverable points of the backup.
 */
#ifndef PGPITR_RESTORE_PLAN_H
#define PGPITR_RESTORE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/restore/restore.h"
#include "pgpitr/repo/wal_history.h"
#include "pgpitr/pg/timeline.h"
#include "pgpitr/repo/tl_production.h"
#include "pgpitr/repo/window.h"

typedef struct RestorePlan {
    BackupManifest *manifest;           /* the chosen backup's header (owned; its entries
                                           are not kept there but in files) */
    ManifestPack *files;                /* its entries, compactly (owned; manifest_pack.h) */
    uint32_t target_tli;                /* the timeline recovery follows */
    PgTimelineHistory history;          /* of target_tli (owned) */
    bool history_found;                 /* read from an archived history file */
    char timeline_why[224];             /* "latest: the highest timeline with a history
                                           file in the archive", "--target-timeline", ... */
    char timeline_text[256];            /* "2 (<timeline_why>)" */
    char path_text[160];                /* "1 -> 2 at 0/3000158" */
    char why[256];                      /* why this backup */
    WalHistoryWalk wal;                 /* the validated WAL */
    uint64_t wal_segments;              /* segments checked from the backup's start */
    /* the window's end (recovery_window, window.h: never before the backup's end) */
    uint64_t latest_lsn;                /* end of the contiguous WAL (segment boundary) */
    int64_t latest_time;                /* archive time of its last segment, seconds */
    bool ends_at_backup;                /* that was not after the backup's end: latest_time is
                                           the backup's stop time */
    size_t n_complete, n_incomplete;    /* backups seen (selection without a label) */
    size_t n_objects;                   /* distinct objects checked, chunks included */
    TlProduction production;            /* production's timeline, judged from archive times
                                           (every mode but current) */
    TlActivityList timelines;           /* what each timeline received (owned; empty for
                                           current) */
    uint32_t latest_tli;                /* PostgreSQL's latest: the highest timeline with a
                                           history file (or of a backup) */
    char warning[512];                  /* "" or why the timeline followed may not be the one
                                           production is on (latest and production only) */
    char fork_warning[640];             /* "" or: a timeline on its history forked off the
                                           past of its parent recently (the same modes;
                                           tl_production_fork_warning) */
} RestorePlan;

/*
 * Chooses and validates. The target in req must already be consistent (restore_run checks the
 * request first). Timeline: req->target.timeline "latest" (default; for IMMEDIATE the default
 * is "current") is the highest timeline with a history file in the archive (or of a backup),
 * "production" the one production is on (tl_production.h; latest when nothing is archived),
 * "current" the backup's own, a number that timeline. For latest and production, warning says
 * when production's timeline is not the one followed (latest), or when latest is not
 * production's (production), or when production's is ambiguous; fork_warning when a timeline
 * on the followed history forked off its parent's past less than a day ago.
 *
 * Without req->label a backup qualifies when it is complete, on the target timeline's history
 * with the fork point at or after its stop LSN, and ends before the target: TIME: its stop
 * time (recorded in whole seconds after its WAL was archived) + 1 s <= the target; LSN: stop
 * LSN <= target. XID and NAME targets cannot be placed: the newest backup on the history is
 * chosen and why says so. The newest qualifying one (highest stop LSN, then stop time) wins.
 * With req->label that backup must qualify, else an error saying why.
 *
 * Refusals: PGP_ERR_NOT_FOUND (no complete or no qualifying backup; a WAL segment needed is
 * not archived; the archive's WAL ends before a TIME target), PGP_ERR_CORRUPT (an object or
 * a chunk of the backup is missing, a chunk list does not load, a history file does not
 * verify), PGP_ERR_CONFLICT (a segment is
 * archived twice with different content), PGP_ERR_USAGE (--backup ends after the target or is
 * not on the timeline). For a LATEST target a hole with later WAL behind it is refused (the
 * newest point cannot be reached); for XID and NAME it is a warning (the target may lie before
 * it; PostgreSQL stops with an error at the end of the WAL if not). Every NOT_FOUND and USAGE
 * refusal of the choice or of the WAL also says which timeline was followed and why, and its
 * HINT names every other timeline on which the target is reachable ("--target-timeline N").
 */
int restore_plan_make(Repo *repo, const RestoreRequest *req, RestorePlan *out, PgpErr *err);
void restore_plan_free(RestorePlan *p);        /* NULL and zeroed plans are fine */
/* The plan's part of the report (restore.h): the backup chosen and why, its LSNs, times and
 * sizes, the target timeline, its path and the WAL to the target. */
void restore_plan_report(const RestorePlan *p, RestoreReport *rep);

#endif
