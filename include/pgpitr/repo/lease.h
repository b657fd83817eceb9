/*
 * lease.h - recovery leases: how a server that is replaying archived WAL tells `pgpitr expire`
 * which WAL it may still ask for. A lease is one small JSON object in the repository,
 *
 *   leases/recovery-<host>-<id>.json      id: 16 hex digits of SHA-256(host NUL data directory)
 *
 * so every call made for one recovering data directory (restore, each archive-get) finds and
 * rewrites the same object. It records the host, the data directory, the cluster's system
 * identifier, the oldest WAL segment the recovery may still request (timeline and segment
 * number, as a WAL file name), who wrote it first, and three times: since (first written),
 * renewed (last written) and expires. While a lease is live (now < expires) expire removes no
 * WAL segment at or after its segment, on any timeline (expire_plan.h).
 *
 * Objects are written whole with the storage's atomic put (a reader never sees half of one)
 * and parsed strictly: bounded size, every field of the right type and range, times in the
 * repository's format with since <= renewed <= expires and a ttl (expires - renewed) of at
 * most LEASE_TTL_MAX. An object that does not parse is "unreadable": its position is unknown,
 * so expire keeps all WAL for it until it has been unchanged for LEASE_UNREADABLE_HOLD_S
 * (then removes it), like an unreadable lock holder.
 *
 * This module is the model only (paths, text, reading, writing, listing); who writes leases
 * and when is src/archive/recovery_lease.c's business (recovery_lease.h).
 */
#ifndef PGPITR_LEASE_H
#define PGPITR_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/common/proc.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/storage/storage.h"
#include "pgpitr/pg/walname.h"

#define LEASE_DIR REPO_LAYOUT_LEASES_DIR
#define LEASE_FORMAT 1
#define LEASE_MAX_BYTES (16u << 10)
#define LEASE_DATADIR_MAX 1024          /* with the NUL */
#define LEASE_TTL_DEFAULT 86400         /* 24 h: outlives the gap between restore and start */
#define LEASE_TTL_MIN 300               /* well above the renewal interval */
#define LEASE_TTL_MAX (366 * 86400)
#define LEASE_UNREADABLE_HOLD_S LEASE_TTL_DEFAULT
#define LEASE_CREATOR_MAX 16

typedef struct Lease {
    char host[PROC_HOST_MAX];
    char datadir[LEASE_DATADIR_MAX];    /* absolute, as the recovering server sees it */
    uint64_t system_identifier;
    char wal[PG_WALNAME_SEG_LEN + 1];   /* oldest segment it may still ask for */
    uint32_t tli;                       /* of wal */
    uint64_t segno;                     /* of wal, for the repository's segment size */
    char created_by[LEASE_CREATOR_MAX]; /* "restore", "archive-get" */
    int64_t since, renewed, expires;    /* seconds since the epoch */
} Lease;

/* "leases/recovery-<host>-<id>.json": host with every byte outside [A-Za-z0-9.-] replaced by
 * '-' and cut at 64 bytes (the id keeps distinct hosts apart). Fails only if hashing does. */
int lease_path(const char *host, const char *datadir, char out[REPO_PATH_MAX], PgpErr *err);

/* Fills l->wal from (tli, segno) for segsize. */
void lease_set_position(Lease *l, uint32_t tli, uint64_t segno, uint32_t segsize);

/* The object's text (malloc'd, NUL-terminated). PGP_ERR_INTERNAL for a lease that
 * lease_parse would refuse (empty host or data directory, times out of order or range). */
int lease_to_json(const Lease *l, char **out, PgpErr *err);
/* Strict parse of len bytes for a repository of segment size segsize; PGP_ERR_CORRUPT naming
 * the first bad field, PGP_ERR_NOMEM. */
int lease_parse(const char *text, size_t len, uint32_t segsize, Lease *out, PgpErr *err);

/* Writes l under lease_path(l->host, l->datadir), replacing what is there, atomically. */
int lease_write(Storage *s, const Lease *l, PgpErr *err);
/* Reads and parses path: PGP_ERR_NOT_FOUND when absent (message set, no noise),
 * PGP_ERR_CORRUPT when it does not parse or is larger than LEASE_MAX_BYTES (the message does
 * not repeat the path: callers name it). */
int lease_read(Storage *s, const char *path, uint32_t segsize, Lease *out, PgpErr *err);
/* Removes path; a lease already gone is fine (0). */
int lease_remove(Storage *s, const char *path, PgpErr *err);

typedef enum {
    LEASE_LIVE,             /* now < expires: holds WAL from its segment on */
    LEASE_STALE,            /* expired, or unreadable and unchanged for the hold time */
    LEASE_UNREADABLE,       /* does not parse, changed recently: holds all WAL */
} LeaseState;

typedef struct LeaseEntry {
    char path[REPO_PATH_MAX];
    int64_t mtime;          /* of the object */
    bool parsed;            /* false: only path, mtime, state and error are set */
    char error[160];        /* why it does not parse */
    LeaseState state;
    Lease lease;
} LeaseEntry;

const char *lease_state_name(LeaseState s);   /* "live", "stale", "unreadable" */

/* Every object *.json in leases/ judged at time now, ascending by path; objects removed while
 * listing are skipped. Read-only. *out malloc'd (NULL when none). Storage errors returned. */
int lease_list(Storage *s, uint32_t segsize, int64_t now, LeaseEntry **out, size_t *n,
               PgpErr *err);

#endif
