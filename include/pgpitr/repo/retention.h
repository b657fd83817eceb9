/*
 * retention.h - retention math: which backups and which archived WAL a retention policy
 * keeps. Pure functions (no I/O, no clock: `now` is passed in), so every rule is unit tested
 * on synthetic repositories; src/cmd/expire.c turns the plan into removals.
 *
 * Policies (each 0 = not set) combine as a union: a backup is kept when ANY set policy keeps
 * it, and every policy that keeps it is recorded as a reason.
 *   full N     the N newest backups, "newest" ordered by stop time, then stop LSN, then label
 *              (the same order as catalog_newest_complete). Not by LSN first: after a PITR
 *              into the past a dead timeline's backups can end at higher LSNs than those
 *              taken since on the live one.
 *   days D     every point of the last D days stays recoverable: every backup whose stop time
 *              is after now - D days, plus the newest backup (by stop time) that ended at or
 *              before now - D days, without which the start of the window has no base.
 *   daily N / weekly N / monthly N (grandfather-father-son): for each of the last N calendar
 *              days / ISO 8601 weeks (Monday to Sunday) / calendar months, counting the one
 *              that contains `now`, the newest backup (by stop time) that ended in it.
 *              Periods are UTC: the repository may be shared by hosts in several time zones
 *              and a DST change must never make a day 23 or 25 hours long; the reason text
 *              names the period ("daily 2026-11-21", "weekly 2026-W47", "monthly 2026-10").
 * The newest backup is ALWAYS kept ("newest"), whatever the policy says. A policy with
 * nothing set is PGP_ERR_USAGE: a typo in a flag must never delete everything.
 *
 * WAL: the cut-off is the lowest start segment of any retained backup. Segments, .partial
 * and .backup files of EVERY timeline below it may go; timeline history files never go;
 * with no backup retained (no backup at all) nothing goes. So no WAL at or after a retained
 * backup's start segment is ever removed, on any timeline: every retained backup restores,
 * and every point from the oldest retained backup's end to the newest archived WAL stays
 * recoverable.
 *
 * Input backups are the COMPLETE ones only: incomplete or corrupt backup directories are the
 * caller's business (expire refuses corrupt ones and removes incomplete ones).
 */
#ifndef PGPITR_RETENTION_H
#define PGPITR_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

/* Upper bound of each count (days: about 270 years), to keep period arithmetic in range. */
#define RETENTION_COUNT_MAX 100000u

typedef struct RetentionPolicy {
    unsigned full;      /* retain-full */
    unsigned days;      /* retain-days */
    unsigned daily;     /* retain-daily */
    unsigned weekly;    /* retain-weekly */
    unsigned monthly;   /* retain-monthly */
} RetentionPolicy;

typedef struct RetentionBackup {
    const char *label;      /* not copied: must outlive the plan's use */
    uint32_t tli;
    uint64_t start_segno;   /* segment of the start LSN (the first WAL the backup needs) */
    uint64_t stop_lsn;
    int64_t stop_time;      /* unix seconds */
} RetentionBackup;

enum {
    RETENTION_WHY_NEWEST = 1u << 0,
    RETENTION_WHY_FULL = 1u << 1,
    RETENTION_WHY_DAYS = 1u << 2,
    RETENTION_WHY_DAILY = 1u << 3,
    RETENTION_WHY_WEEKLY = 1u << 4,
    RETENTION_WHY_MONTHLY = 1u << 5,
};
#define RETENTION_REASONS_MAX 6
#define RETENTION_REASON_LEN 48

typedef struct RetentionDecision {
    bool keep;
    unsigned why;           /* RETENTION_WHY_* bits; 0 when removed */
    size_t n_reasons;
    /* one text per bit, in bit order: "newest", "full 2/3", "days 7: ended in window",
     * "days 7: covers 2026-11-15T00:00:00Z", "daily 2026-11-21", "weekly 2026-W47",
     * "monthly 2026-10" */
    char reasons[RETENTION_REASONS_MAX][RETENTION_REASON_LEN];
} RetentionDecision;

typedef struct RetentionPlan {
    RetentionDecision *decisions;   /* one per input backup, same order (malloc'd) */
    size_t n;
    size_t n_keep, n_remove;
    size_t newest;                  /* index of the newest backup (valid when n > 0) */
    /* WAL with segno < wal_cutoff (not history files) may go; only when has_cutoff */
    bool has_cutoff;
    uint64_t wal_cutoff;
    /* the promised recoverable window starts at the end of the oldest retained backup (stop
     * time, then stop LSN): index, stop time and stop LSN (when n > 0) */
    size_t window_backup;
    int64_t window_start_time;
    uint64_t window_start_lsn;
} RetentionPlan;

/* Whether any policy is set. */
bool retention_policy_set(const RetentionPolicy *p);

/*
 * Decides for n backups (n may be 0). out is zeroed first and freed with
 * retention_plan_free. PGP_ERR_USAGE when no policy is set (with a HINT naming the options)
 * or a count is above RETENTION_COUNT_MAX; PGP_ERR_INTERNAL for a NULL label or two backups
 * with the same label; PGP_ERR_NOMEM.
 */
int retention_plan(const RetentionBackup *backups, size_t n, const RetentionPolicy *p,
                   int64_t now, RetentionPlan *out, PgpErr *err);
void retention_plan_free(RetentionPlan *p);     /* NULL and zeroed plans are fine */

/* Whether an archived WAL file of (tli, segno) may be removed under plan p: never a history
 * file, never with no cut-off, otherwise segno < cut-off on every timeline. */
bool retention_wal_removable(const RetentionPlan *p, uint32_t tli, uint64_t segno,
                             bool is_history);

/* Period names used in reasons, UTC: "2026-11-21", "2026-W47" (ISO week-year), "2026-11". */
void retention_day_name(int64_t t, char out[16]);
void retention_week_name(int64_t t, char out[16]);
void retention_month_name(int64_t t, char out[16]);

#endif
