/*
 * recovery_lease.h - who writes recovery leases (lease.h) and when, so that `pgpitr expire`
 * never removes WAL that a running recovery may still ask for:
 *
 *   restore      writes the lease of the restored data directory at the backup's start
 *                segment, while it holds the READ lock (expire cannot run meanwhile), so the
 *                lease exists before the server can start.
 *   archive-get  after each segment it restored, renews the lease of the data directory it
 *                runs in (PostgreSQL runs restore_command there) at most once per
 *                RECOVERY_LEASE_RENEW_S, and creates it when there is none (a standby made by
 *                pg_basebackup). The position is the oldest WAL a restart of this server
 *                would replay from: the lowest of the segment requested, pg_control's REDO
 *                point and backup_label's start (when present). A failure is a warning, never
 *                a failed fetch.
 *   prefetcher   removes the lease when it sees archive recovery end (promotion).
 *   drill        removes its lease when the drill ends.
 * Otherwise the ttl ends it: `lease-ttl` seconds (env PGPITR_LEASE_TTL, config lease-ttl,
 * default LEASE_TTL_DEFAULT) after the last renewal.
 *
 * The throttle is a stamp file, pg_wal/pgpitr_lease in the data directory, whose mtime is the
 * last renewal attempt (a failed one too, so that a repository the server's user cannot write
 * costs one warning a minute, not one per segment): one stat() per archive-get, no repository
 * access, and nothing that pg_basebackup copies (it skips pg_wal's contents).
 */
#ifndef PGPITR_RECOVERY_LEASE_H
#define PGPITR_RECOVERY_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/storage/storage.h"

#define RECOVERY_LEASE_RENEW_S 60
#define RECOVERY_LEASE_STAMP "pg_wal/pgpitr_lease"

/* lease-ttl in seconds from its text as given (env PGPITR_LEASE_TTL > config lease-ttl, which
 * the command looks up: cmd_lease_ttl); NULL: LEASE_TTL_DEFAULT. PGP_ERR_CONFIG outside
 * [LEASE_TTL_MIN, LEASE_TTL_MAX]. */
int recovery_lease_ttl(const char *text, int *ttl_s, PgpErr *err);

/* restore: the lease of the restored data directory pgdata (must exist; its real path is the
 * one the server will run in) at segment segno of timeline tli. *path gets the lease's path
 * even when writing fails. */
int recovery_lease_begin(Storage *st, const char *pgdata, uint64_t sysid, uint32_t tli,
                         uint64_t segno, uint32_t segsize, int ttl_s, char path[REPO_PATH_MAX],
                         PgpErr *err);

/* archive-get, after walname (a segment) was restored: renews as described above when the
 * current directory is a data directory in archive recovery. ttl_text: as for
 * recovery_lease_ttl. Never fails: warnings only. */
void recovery_lease_renew(const char *ttl_text, Repo *repo, const char *walname);
/* Whether recovery_lease_renew would write now (the current directory is a data directory in
 * archive recovery and the stamp is older than RECOVERY_LEASE_RENEW_S): archive-get opens the
 * repository for a spool hit only then. One stat() or two. */
bool recovery_lease_due(void);
/* archive-get when the lease was due but the repository could not be opened: a warning, and
 * the next attempt RECOVERY_LEASE_RENEW_S later (not one per segment). */
void recovery_lease_unreachable(const char *why);

/* The prefetcher, once archive recovery of datadir has ended: removes its lease from the
 * repository at repo_path and the stamp. Warnings only. */
void recovery_lease_end(const char *repo_path, const char *datadir);
/* The same in an open storage (any driver). */
void recovery_lease_end_in(Storage *st, const char *datadir);

#endif
