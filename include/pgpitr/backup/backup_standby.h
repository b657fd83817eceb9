/*
 * backup_standby.h - a base backup taken on a standby, with its primary's help.
 *
 * A standby can stream a base backup (BASE_BACKUP works in recovery; the stop position is
 * its replay position), but it cannot switch WAL: the segment holding the backup's stop
 * position is archived by the primary, and only once the primary fills or switches it. On
 * an idle primary that is never, so the backup would wait for its WAL in vain. The primary is
 * therefore asked too (--primary-conn, a normal SQL connection): before the stream, that it
 * is the same cluster, not in recovery, on the standby's timeline and allowed to run
 * pg_switch_wal(); after the stream, to switch when its WAL is still in that segment.
 *
 * Owns those checks and their messages; knows nothing of the repository or the stream.
 */
#ifndef PGPITR_BACKUP_STANDBY_H
#define PGPITR_BACKUP_STANDBY_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pg/pgconn.h"

typedef struct BackupSource {
    bool standby;                        /* the server backed up is in recovery */
    char server[PG_SERVER_NAME_MAX];     /* "host:port" of the server backed up */
    char primary[PG_SERVER_NAME_MAX];    /* standby: "host:port" of its primary */
    const char *primary_conninfo;        /* standby: --primary-conn (the caller's string) */
    uint64_t system_identifier;          /* standby: the cluster's, which the primary's must be */
} BackupSource;

/* Before anything is written: is `conn` (whose IDENTIFY_SYSTEM gave `sys`) a standby? For a
 * primary, primary_conninfo is ignored (with a warning when given). For a standby:
 *   - no primary_conninfo (NULL or ""): PGP_ERR_CONFIG saying to add --primary-conn;
 *   - the primary cannot be reached: PGP_ERR_PG "cannot connect to the primary ...";
 *   - it is in recovery itself, or another cluster (system identifier): PGP_ERR_CONFIG;
 *   - it is on another timeline than the standby: PGP_ERR_PG;
 *   - its user may not run pg_switch_wal(): PGP_ERR_PG with the GRANT to run.
 * The connection to the primary is closed again: a backup may take hours. */
int backup_source_check(PgConn *conn, const PgSystem *sys, const char *primary_conninfo,
                        BackupSource *out, PgpErr *err);

/* After the stream of a standby's backup (no-op for a primary): reconnects to the primary,
 * checks it again as above (a failover meanwhile), and runs pg_switch_wal() when its WAL
 * position is still inside the segment holding the last byte the backup needs (stop_lsn - 1),
 * so that the primary completes and archives it. A primary behind stop_lsn is PGP_ERR_PG (not
 * this standby's primary). The caller may treat a failure as a warning: the WAL can still
 * arrive without the switch. */
int backup_source_switch(const BackupSource *src, uint32_t tli, uint64_t stop_lsn,
                         uint32_t segsize, PgpErr *err);

/* Which server archives the backup's WAL, for the HINT of a WAL wait that timed out:
 * "the server" or "the primary db1:5432". */
void backup_source_archiver(const BackupSource *src, char *out, size_t size);

#endif
