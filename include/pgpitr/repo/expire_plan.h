/*
 * expire_plan.h - what `pgpitr expire` removes and keeps, computed before anything is touched
 * so that --dry-run prints exactly the plan a real run executes (src/repo/expire_plan.c), and
 * the removal of a plan in crash-safe order (src/repo/expire_remove.c).
 *
 * The plan is built from a catalog (catalog.h) and the retention math (retention.h):
 *   - complete backups: keep or remove, with reasons (retention_plan);
 *   - incomplete backup directories (no manifest.json): removed, since expire holds the
 *     lock that excludes every backup, none of them can still be running;
 *   - objects/ files that no RETAINED backup references: removed;
 *   - archived WAL (segments, .partial, .backup; never .history) below the cut-off segment
 *     of the retention plan, on every timeline, lowered to the segment of every live recovery
 *     lease (lease.h) and to 0 by an unreadable one: a running recovery never loses the WAL
 *     it may still ask for;
 *   - stale recovery leases (expired, or unreadable and unchanged for a day): removed.
 * A corrupt manifest makes planning fail (PGP_ERR_CORRUPT, HINT: run verify): its references
 * are unknown, so no object could be removed safely.
 *
 * Removal order (expire_plan_execute), so that a crash at any point leaves a consistent
 * repository and re-running expire finishes the job: for each expired backup its
 * manifest.json first (from then on nothing restores it; a re-run sees an incomplete
 * directory), then the rest of backup/<label>/; then incomplete directories; then
 * unreferenced objects; then WAL below the cut-off, after the backups that needed it; then
 * stale leases (each only if unchanged since planning: a renewal in between keeps it).
 */
#ifndef PGPITR_EXPIRE_PLAN_H
#define PGPITR_EXPIRE_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "pgpitr/repo/catalog.h"
#include "pgpitr/common/err.h"
#include "pgpitr/repo/lease.h"
#include "pgpitr/repo/retention.h"
#include "pgpitr/repo/window.h"

typedef struct ExpireFile {
    char path[REPO_PATH_MAX];
    uint64_t size;
} ExpireFile;

typedef struct ExpireBackup {
    const CatalogBackup *b;             /* into the catalog (complete backups only) */
    const RetentionDecision *d;         /* into retention */
    uint64_t dir_bytes;                 /* bytes under backup/<label>/ (when removed) */
} ExpireBackup;

typedef struct ExpireIncomplete {
    char label[MANIFEST_LABEL_MAX + 1];
    uint64_t dir_bytes;
} ExpireIncomplete;

typedef struct ExpireLease {
    LeaseEntry e;
    bool holds;                         /* keeps WAL the policy alone would remove */
    bool remove;                        /* stale: removed by the run */
} ExpireLease;

typedef struct ExpirePlan {
    RetentionPolicy policy;
    int64_t now;
    uint32_t wal_segsize;               /* of the repository */
    RetentionPlan retention;            /* decisions parallel to `backups` */
    RetentionBackup *rbackups;          /* the retention input (labels point into catalog) */
    ExpireBackup *backups;              /* complete backups, catalog order (oldest first) */
    size_t n_backups;
    ExpireIncomplete *incomplete;
    size_t n_incomplete;
    ExpireFile *objects;                /* objects to remove */
    size_t n_objects;
    size_t n_objects_kept;
    const CatalogWal **wal;             /* archived WAL files to remove (into the catalog) */
    size_t n_wal;
    size_t n_wal_kept;
    ExpireLease *leases;                /* every lease in leases/, by path */
    size_t n_leases;
    bool lease_hold;                    /* a live or unreadable lease lowers the cut-off ... */
    uint64_t lease_segno;               /* ... to this segment (0: unreadable) */
    size_t n_wal_leased;                /* WAL files kept only because of leases */
    const CatalogDropped **dropped;     /* records of dropped segments below the cut-off
                                           (archive/dropped/): removed with that WAL */
    size_t n_dropped;
    uint64_t backup_bytes, incomplete_bytes, object_bytes, wal_bytes;
    /* recoverable window after expire: from the end of the window backup ... */
    const CatalogBackup *window_backup; /* NULL when there is no complete backup */
    /* ... to the newest archived segment the plan keeps (by archive time); NULL when none */
    const CatalogWal *latest_wal;
    RecoveryWindow window;              /* of those two (window.h), when both exist */
} ExpirePlan;

/*
 * Plans expiry of catalog c (loaded with backups and WAL) under policy p at time now.
 * Lists objects/, leases/ and the directories of backups it removes (for sizes) through s;
 * reads the kept backups' manifests with key (repo_crypto_key; NULL: unencrypted).
 * PGP_ERR_USAGE when no policy is set; PGP_ERR_CORRUPT when a manifest is corrupt;
 * storage errors; NOMEM. out is zeroed first; free with expire_plan_free (c must outlive it).
 */
int expire_plan_build(Storage *s, const CryptoRepoKey *key, const Catalog *c,
                      const RetentionPolicy *p, int64_t now, ExpirePlan *out, PgpErr *err);
void expire_plan_free(ExpirePlan *p);   /* NULL and zeroed plans are fine */

uint64_t expire_plan_bytes_freed(const ExpirePlan *p);
/* The segment below which WAL is removed (the policy's cut-off, lowered by leases); only
 * meaningful when p->retention.has_cutoff. */
uint64_t expire_plan_wal_cutoff(const ExpirePlan *p);
size_t expire_plan_removed_backups(const ExpirePlan *p);

/* Text and JSON renderings of the plan (identical for a dry run and a real run). The JSON
 * layout is docs/expire.md / docs/expire.schema.json; *out is a new reference. */
int expire_plan_print_text(const ExpirePlan *p, const Catalog *c, bool dry_run, FILE *f,
                           PgpErr *err);
int expire_plan_to_json(const ExpirePlan *p, const Catalog *c, bool dry_run, json_t **out,
                        PgpErr *err);

/* Removes what the plan says, in the order above. Missing files are fine (a re-run after a
 * crash, or a concurrent expire of the same thing): removal is idempotent. */
int expire_plan_execute(Storage *s, const ExpirePlan *p, PgpErr *err);
/* Told how far the removal is: phase ("backups", "objects", "WAL"), items of that phase done
 * and in all; once with done 0 when a phase starts, then after every item. */
typedef void (*ExpireProgressFn)(void *ud, const char *phase, size_t done, size_t total);
/* Asked before every removal step (a backup directory, a batch of objects or WAL, the
 * leases): non-zero (with err set) stops expire there. The caller proves it still holds the
 * expire lock (repo_lock_confirm): an expire that stalled longer than lock-stale may have
 * lost it to a backup that now reuses objects the plan, made before, would remove. */
typedef int (*ExpireGuardFn)(void *ud, PgpErr *err);
typedef struct ExpireHooks {
    ExpireProgressFn progress;          /* NULL: nobody told */
    ExpireGuardFn guard;                /* NULL: no check */
    void *ud;                           /* for both */
} ExpireHooks;
/* expire_plan_execute with hooks (NULL: none). */
int expire_plan_execute_progress(Storage *s, const ExpirePlan *p, const ExpireHooks *h,
                                 PgpErr *err);

#endif
