/*
 * info_model.h - the model behind `pgpitr info` (the commands' info.h renders it): the
 * catalog (catalog.h) plus what info adds on top of it, the lock holders, the recovery leases
 * and the newest drill report. Built once (src/cmd/info_load.c loads it, info_analyze fills
 * the rest) so that the text and the JSON always say the same thing.
 */
#ifndef PGPITR_INFO_MODEL_H
#define PGPITR_INFO_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/repo/lease.h"
#include "pgpitr/repo/repolock.h"
#include "pgpitr/repo/tl_production.h"
#include "pgpitr/repo/verify_summary.h"

#define INFO_DRILL_ID_MAX 40       /* a drill report's id and times (drill_report.h) */
#define INFO_DRILL_TIME_MAX 40

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

/* A recovery objective as a drill measured it (the report's "objectives" section). */
typedef struct InfoObjective {
    bool set;                      /* configured when the drill ran: objective_s holds it */
    double objective_s;
    bool measured;                 /* measured_s holds the measurement */
    double measured_s;             /* rto: the recovery time; rpo: the archive freshness */
    bool met;                      /* set, measured and measured_s <= objective_s */
} InfoObjective;

/* The newest drill report in drill/ that parses. */
typedef struct InfoDrill {
    bool found;
    char id[INFO_DRILL_ID_MAX];
    char status[16];               /* "passed" or "failed" */
    /* as written in the report */
    char started[INFO_DRILL_TIME_MAX], finished[INFO_DRILL_TIME_MAX];
    int64_t started_t;             /* from the id (seconds), 0 if it does not parse */
    bool has_rto;                  /* passed and phases.total_s present */
    double rto_s;
    bool has_objectives;           /* the report has an "objectives" section */
    InfoObjective obj_rto, obj_rpo;
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
    /* The operations settings (rpo-objective, rto-objective, backup-max-age, drill-max-age)
     * in seconds, 0 when not set; info_load_settings fills them. */
    int64_t rpo_objective_s, rto_objective_s, backup_max_age_s, drill_max_age_s;
    /* The newest whole-repository verify's summary (verify_summary.h); verify_unknown: it
     * could not be read (warned). */
    VerifySummary verify;
    bool verify_unknown;
    /* Backup file objects stored under objects/ and their bytes (object_usage.h: from
     * listings, unreferenced ones awaiting expire included): info_count_objects (metrics);
     * 0 until then. */
    uint64_t backup_objects, backup_object_bytes;
} Info;

/* Archive freshness: seconds from the newest archived WAL's archive time to info->now (the
 * data a loss at now could cost at most, archiving working). False when nothing is archived. */
bool info_archive_freshness(const Info *info, int64_t *age_s);
/* The one definition of archive freshness (info_archive_freshness, and the drill's measured
 * RPO at its start): at_s minus the newest archived segment's archive time newest_mtime, 0
 * when that time is later (clock skew, not staleness). */
double info_freshness_at(int64_t newest_mtime, double at_s);

/* The objectives as info judges them now, against the current settings (unset: set false):
 * rpo: info_archive_freshness at info->now; rto: the newest drill's measured recovery time
 * (its objectives section's, or phases.total_s of a passed drill without one), *from_drill
 * that drill (NULL when none measured it). check and metrics judge the same way. */
void info_objective_rpo(const Info *info, InfoObjective *out);
void info_objective_rto(const Info *info, InfoObjective *out, const InfoDrill **from_drill);

/* Fills everything but cat, locks, repo_path, now and drill from info->cat and info->locks
 * (already loaded). Only NOMEM fails. */
int info_analyze(Info *info, PgpErr *err);
void info_free(Info *info);        /* NULL and zeroed are fine */

#endif
