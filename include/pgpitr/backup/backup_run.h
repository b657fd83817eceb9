/*
 * backup_run.h - a base backup into the repository, as one call: what `pgpitr backup` runs
 * after parsing its options and taking the repository's BACKUP lock.
 */
#ifndef PGPITR_BACKUP_RUN_H
#define PGPITR_BACKUP_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/backup/backup_store.h"
#include "pgpitr/common/err.h"
#include "pgpitr/common/progress.h"
#include "pgpitr/pg/pgconn.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/repo/repolock.h"

/* The request, as `pgpitr backup` resolved it from its options and settings. */
typedef struct BackupOptions {
    const char *conninfo;
    const char *primary_conninfo;   /* --primary-conn: for a backup of a standby */
    const char *label;
    bool fast_checkpoint;
    BackupStoreOptions store;
    int jobs;
    uint32_t max_rate_kb;
    PgServerCompress server_compress;   /* --server-compress */
    bool json;
    ProgressMode progress;   /* --progress / --no-progress; auto: not with json */
    int archive_timeout;
    const char *lock_wait;   /* --lock-wait, checked by cmd_lock_repo */
} BackupOptions;

/* Cleans what a failed backup left, connects (conninfo), checks the cluster (a standby: its
 * primary too) before anything is written, streams BASE_BACKUP into the object store, checks
 * every file against PostgreSQL's backup_manifest, waits for the WAL from start to end in the
 * archive, then writes manifest.json, which alone makes the backup restorable (see
 * backup_run.c), and prints the summary (text or JSON). repo is open and bound or not; lock is
 * the caller's BACKUP lock on it, where the backup's label is recorded. */
int backup_run(Repo *repo, RepoLock *lock, const BackupOptions *o, PgpErr *err);

#endif
