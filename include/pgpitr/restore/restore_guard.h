/*
 * restore_guard.h - what keeps a restore (and a drill) off directories that are not its own:
 *
 *  - exclusive locks on the directories it writes into, taken with flock() on the directory
 *    itself: there is no lock file, so nothing can go stale (the kernel drops the lock when
 *    the process dies, however it dies) and nothing is left inside a data directory for
 *    PostgreSQL or pg_verifybackup to trip over;
 *  - the running PostgreSQL servers of this host that this process can see through /proc, and
 *    the directories they use (data directory, tablespace locations);
 *  - the rule for which existing tablespace locations a --delta restore may restore over;
 *  - no entry of a backup below one of its symlinks.
 *
 * Linux only (/proc, /proc/locks, flock on a directory). Nothing here writes a file.
 */
#ifndef PGPITR_RESTORE_GUARD_H
#define PGPITR_RESTORE_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/manifest_pack.h"

/* ---- directory locks ----------------------------------------------------------------------- */

typedef struct RestoreLocks {
    int *fds;                           /* one open, flocked directory each */
    size_t n;
} RestoreLocks;

/*
 * Takes an exclusive flock on the existing directory at path, without waiting, and keeps it
 * in l. PGP_ERR_LOCKED (naming the holder's pid when /proc/locks shows it) when another open
 * file description holds it (another pgpitr process, or this one through another lock), or
 * when a directory above path is flocked by another process (a drill's work directory,
 * another restore's target), and when path no longer names the directory it locked (replaced
 * meanwhile). A filesystem that cannot flock a directory (some network filesystems) gets a
 * warning and no lock. what names the directory in messages ("target directory").
 */
int restore_lock_dir(RestoreLocks *l, const char *path, const char *what, PgpErr *err);
/* restore_lock_dir's refusals without taking a lock, before path is created: PGP_ERR_LOCKED
 * when path (or, if missing, its nearest existing parent) or a directory above it is flocked
 * by another process. */
int restore_lock_probe(const char *path, const char *what, PgpErr *err);
/* Releases every lock; l is empty afterwards (and may be reused). */
void restore_locks_release(RestoreLocks *l);
/* Appends src's locks to dst; src is empty afterwards. */
int restore_locks_move(RestoreLocks *dst, RestoreLocks *src, PgpErr *err);

typedef struct RestoreLockLine {
    bool flock;                         /* FLOCK (not POSIX, OFDLCK, LEASE, ...) */
    bool write;                         /* an exclusive lock */
    long pid;
    unsigned major, minor;              /* of the filesystem's device */
    unsigned long long ino;
} RestoreLockLine;

/* One line of /proc/locks ("1: FLOCK  ADVISORY  WRITE 4903 fe:00:10953891 0 EOF"); false for
 * a line that does not parse and for a waiter's line ("1: -> FLOCK ..."). */
bool restore_parse_lock_line(const char *line, RestoreLockLine *out);

/* How the directory at path relates to the directory at dir, by device and inode (symlinks
 * and bind mounts do not hide it): the same directory, path inside dir, or path containing
 * dir. A missing path is judged by its nearest existing parent (it would be created there);
 * a missing dir is unrelated to anything. */
typedef enum {
    RESTORE_DIR_UNRELATED = 0,
    RESTORE_DIR_SAME,
    RESTORE_DIR_INSIDE,
    RESTORE_DIR_CONTAINS,
} RestoreDirRelation;

RestoreDirRelation restore_dir_relation(const char *path, const char *dir);

/* ---- running servers ------------------------------------------------------------------------- */

#define RESTORE_CHAIN_MAX 64

typedef struct RestoreDirId {
    dev_t dev;
    ino_t ino;
} RestoreDirId;

typedef struct RestoreLiveDir {
    long pid;                           /* the postmaster */
    char *pgdata;                       /* its data directory, as /proc shows it */
    char *path;                         /* this directory, as the server names it */
    uint32_t oid;                       /* 0: the data directory, else a tablespace */
    RestoreDirId chain[RESTORE_CHAIN_MAX]; /* the directory, then its parents up to "/" */
    size_t n_chain;
} RestoreLiveDir;

typedef struct RestoreLive {
    RestoreLiveDir *v;
    size_t n;
} RestoreLive;

/*
 * Finds the running PostgreSQL servers under proc ("/proc"; unit tests pass a fake tree): a
 * postmaster runs in its data directory, so a process called postgres (or postmaster) whose
 * working directory holds a postmaster.pid naming that very process is one. Its directories are the data directory and
 * the target of each pg_tblspc/<oid> (an absolute link target is resolved under that
 * process's own root, so servers in containers count too). Directories are compared by
 * device and inode, never by path text. Only processes this one may inspect are seen (same
 * user, or root); the rest are skipped silently. A proc that cannot be read gets a warning
 * and an empty list; only running out of memory is an error.
 */
int restore_live_scan(const char *proc, RestoreLive *out, PgpErr *err);
void restore_live_free(RestoreLive *l);
/*
 * PGP_ERR_LOCKED when path and a directory of a running server are the same directory or one
 * lies inside the other; a missing path is checked through its nearest existing parent (it
 * would be created inside a server's directory). The message names both and the postmaster's
 * pid; what names path ("target directory", "tablespace 16385 location"). No hint: the
 * caller knows the way out.
 */
int restore_live_check(const RestoreLive *l, const char *path, const char *what, PgpErr *err);

/* ---- which tablespace locations a restore may write into --------------------------------------- */

typedef struct RestoreTsFacts {
    uint32_t oid;
    const char *path;                   /* the location the restore would use */
    bool delta;                         /* --delta */
    bool mapped;                        /* named with --tablespace-map */
    const char *entry;                  /* an entry found in it, NULL: missing or empty */
    const char *real;                   /* realpath of the location, NULL if missing */
    const char *own_link;               /* realpath of the target's pg_tblspc/<oid>, NULL if
                                           the target has no such link (or it dangles) */
} RestoreTsFacts;

/*
 * A missing or empty location is always fine. A location with content is restored over only
 * with --delta, and only when --tablespace-map named it or the target data directory's own
 * pg_tblspc/<oid> already points at it (it is the target's own tablespace). Anything else is
 * PGP_ERR_USAGE naming the location and the entry found; the HINT suggests --delta only where
 * --delta would be accepted, and otherwise --tablespace-map (to the link the target already
 * has, when it points elsewhere).
 */
int restore_ts_location_rule(const RestoreTsFacts *f, PgpErr *err);

/* A backup's entries must not lie below one of its symlinks, nor below or at a tablespace
 * link pg_tblspc/<oid> (restore makes those itself) unless that is the link: writing them
 * would go through the link, out of the target. PGP_ERR_CORRUPT naming both. */
int restore_check_below_links(const BackupManifest *m, const ManifestPack *files, PgpErr *err);

#endif
