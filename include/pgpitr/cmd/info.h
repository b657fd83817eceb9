/*
 * info.h - `pgpitr info`: what the repository holds and what it can recover, for a person
 * at 3 a.m. (text that fits 80 columns) and for monitoring (JSON, docs/info.schema.json).
 *
 * The model (Info) is built once from the catalog (catalog.h) and the newest drill report;
 * the text and JSON renderers only format it, so both always say the same thing.
 * Read-only on the repository and lock-free: it must work while a backup runs. It lists the
 * lock holders (repo_lock_list, read-only) to tell a running backup's incomplete directory
 * from one a failed or interrupted backup left.
 */
#ifndef PGPITR_INFO_H
#define PGPITR_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pgpitr/repo/catalog.h"
#include "pgpitr/drill/drill_report.h"
#include "pgpitr/common/err.h"
#include "pgpitr/repo/lease.h"
#include "pgpitr/repo/repolock.h"
#include "pgpitr/storage/storage.h"
#include "pgpitr/repo/tl_production.h"

#define INFO_SCHEMA_VERSION 1
#define INFO_WIDTH 80              /* no text line is longer */
#define INFO_SIZE_MAX 16           /* "1023.9 KiB" */
#define INFO_DURATION_MAX 32       /* "12345d 23h" */

/*
 * A recoverable window on one timeline: from the oldest backup that reaches it, every point
 * between its stop (earliest) and the end of the contiguous archived WAL read from it
 * (latest). A window is "cut" when the archive goes on past a hole; the next window of the
 * same timeline (if any) starts from a backup taken after the hole.
 */
typedef struct InfoWindow {
    uint32_t tli;
    const CatalogBackup *from;     /* points into Info.cat.backups */
    CatalogReach reach;            /* catalog_reach(from, tli): on_history and consistent */
    bool cut;                      /* reach.gap */
    bool has_resume;               /* cut: the first archived segment after the hole */
    uint32_t resume_tli;
    uint64_t resume_segno;
} InfoWindow;

/* One timeline of the archive. */
typedef struct InfoTimeline {
    const CatalogTimeline *t;      /* points into Info.cat.timelines */
    bool has_segments;
    uint64_t first_segno, last_segno;   /* when has_segments */
    size_t n_partial, n_backup_files, n_conflicts;
    size_t first_gap, n_gaps;      /* Info.gaps[first_gap ..] */
    size_t first_window, n_windows;/* Info.windows[first_window ..] */
    const TlActivity *act;         /* parent, fork, last archive time (Info.activity) */
} InfoTimeline;

/* Per backup (parallel to Info.cat.backups): can it be restored at all? */
typedef struct InfoBackup {
    bool restorable;               /* complete and every segment start..stop is archived */
    uint32_t missing_tli;          /* complete, not restorable: the first segment missing */
    uint64_t missing_segno;
    /* Incomplete: the live backup lock holder writing it (points into Info.locks), NULL when
     * none: failed or interrupted. by_label: the holder names it; otherwise the holder has no
     * label (an older pgpitr) and this is the newest incomplete directory, changed since the
     * holder took its lock. */
    const RepoLockHolder *running;
    bool running_by_label;
} InfoBackup;

/* The newest drill report in drill/ that parses. */
typedef struct InfoDrill {
    bool found;
    char id[DRILL_ID_MAX];
    char status[16];               /* "passed" or "failed" */
    char started[DRILL_TIME_MAX], finished[DRILL_TIME_MAX];  /* as written in the report */
    int64_t started_t;             /* from the id (seconds), 0 if it does not parse */
    bool has_rto;                  /* passed and phases.total_s present */
    double rto_s;
} InfoDrill;

typedef struct Info {
    char repo_path[1024];
    int64_t now;                   /* seconds; ages are relative to it */
    Catalog cat;                   /* owned */
    InfoBackup *backups;           /* cat.n_backups entries */
    CatalogGap *gaps;              /* catalog_gaps */
    size_t n_gaps;
    InfoTimeline *tls;             /* one per cat.timelines, same order */
    size_t n_tls;
    InfoWindow *windows;           /* grouped by timeline, ascending earliest point */
    size_t n_windows;
    const CatalogWal *newest;      /* newest archived segment by archive time; NULL if none */
    TlActivityList activity;       /* what each timeline received (catalog_activity) */
    TlProduction production;       /* production's timeline and PostgreSQL's latest */
    InfoDrill drill;
    RepoLockHolder *locks;         /* repo_lock_list: every holder object, live and dead */
    size_t n_locks;
    bool locks_unknown;            /* they could not be listed (warned): nobody is "running" */
    LeaseEntry *leases;            /* lease_list: every recovery lease, live or not */
    size_t n_leases;
    bool leases_unknown;           /* they could not be listed (warned) */
} Info;

/* Loads the catalog of repo, the lock holders, the recovery leases and the newest drill
 * report, then info_analyze. A failure to list the locks or the leases is a warning
 * (locks_unknown, leases_unknown), not an error. out
 * is zeroed first; free it with info_free (also after a failure). */
int info_load(Repo *repo, const char *repo_path, int64_t now, Info *out, PgpErr *err);
/* Fills everything but cat, locks, repo_path, now and drill from info->cat and info->locks
 * (already loaded). Only NOMEM fails. */
int info_analyze(Info *info, PgpErr *err);
/* Reads the newest drill/<id>.json that parses (one that does not is skipped with a
 * warning); none: out->found false. Storage errors are returned. */
int info_find_drill(Storage *s, InfoDrill *out, PgpErr *err);
void info_free(Info *info);        /* NULL and zeroed are fine */

/* Sections with headings; every line at most INFO_WIDTH columns. */
void info_print_text(const Info *info, FILE *out);
/* docs/info.schema.json; malloc'd, two-space indent, newline at the end. */
int info_to_json(const Info *info, char **out, PgpErr *err);

/* Pure formatting helpers (unit tested). */
/* 1024-based: "0 B", "1023 B", "1.0 KiB", "22.5 MiB", "3.2 GiB", up to EiB. */
void info_format_size(uint64_t bytes, char out[INFO_SIZE_MAX]);
/* "0s", "59s", "1m 05s", "2h 03m", "3d 04h"; negative: "-". */
void info_format_duration(int64_t secs, char out[INFO_DURATION_MAX]);
/* "5m 02s ago", "just now" (same second), "12s in the future" (clock skew). */
void info_format_age(int64_t now, int64_t then, char out[INFO_DURATION_MAX + 16]);
/* Writes text (one line, no newline in it) and a newline, wrapped at spaces to lines of at
 * most `width` columns; runs of spaces between words are kept (alignment) and dropped at a
 * break; continuation lines are indented by `indent` spaces (indent must be below
 * width - 8); a word longer than a line is cut. The first line keeps its leading spaces. */
void info_print_wrapped(FILE *out, size_t width, size_t indent, const char *text);

#endif
