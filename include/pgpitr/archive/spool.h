/*
 * spool.h - the archive-get prefetch spool: a directory of complete, verified WAL segments
 * fetched ahead of PostgreSQL's replay, handed out by rename (O(1), no repository access).
 *
 * Layout of the spool directory (default "pg_wal/pgpitr_spool" in the data directory):
 *   <24-hex segment name>   complete, verified segment; only ever created by rename after the
 *                           SHA-256 check, removed by the rename that hands it to PostgreSQL
 *   .sha256.<name>          its record: the SHA-256 and size it was verified against
 *                           (spool_file.h); a take checks the file against it again
 *   .fetch.<name>, .<...>   work in progress of the prefetcher (never handed out)
 *   .inflight.<name>        the prefetcher is fetching <name> (archive-get waits for it)
 *   .identity               which repository, cluster (and its segment size) and boot the
 *                           files belong to; also the lock that serializes "check identity +
 *                           publish/take" with a wipe
 *   .requested              the last segment name PostgreSQL was given (written by archive-get)
 *   .prefetch.lock          flock held by the one running prefetcher
 *
 * Invariants: a segment file under its final name is complete and verified against the
 * archive's checksum of the repository named in .identity; complete segment files plus
 * fetches in flight never exceed SpoolSettings.max_segments. A spool whose identity differs
 * (other repository, other cluster, or written before a reboot: the files are not fsynced, so
 * after a crash of the OS they may be torn) is wiped before use.
 *
 * The directory itself must be the effective user's, mode 0700, and not a symbolic link
 * (spool_dir_open): otherwise another user could plant or swap files in it, and nothing in it
 * would be worth trusting. Such a directory is never used, never emptied (it is not ours):
 * archive-get warns and fetches directly. Once checked, the directory is only reached through
 * its file descriptor (openat, renameat...), so swapping the path afterwards changes nothing.
 *
 * What this module must not do: look into the repository (prefetch.c does the fetching) or
 * scan the spool on archive-get's path (take, note and the identity check are O(1)).
 */
#ifndef PGPITR_SPOOL_H
#define PGPITR_SPOOL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/repo.h"

#define SPOOL_DEFAULT_PATH "pg_wal/pgpitr_spool"
/* Default spool-size: max(SPOOL_DEFAULT_SIZE, (prefetch-jobs + 1) x segment size), so that
 * every job has a segment to fetch while one waits to be taken, whatever the segment size. */
#define SPOOL_DEFAULT_SIZE (UINT64_C(512) << 20)
#define SPOOL_DEFAULT_JOBS 2
#define SPOOL_MAX_JOBS 32
#define SPOOL_DEFAULT_IDLE_S 30
#define SPOOL_IDENTITY_MAX 1024

/* Opens the repository on storage s in the prefetcher (the command's settings: an encrypted
 * repository needs its key). */
typedef struct SpoolRepoOpener {
    int (*open)(void *ud, Storage *s, Repo **out, PgpErr *err);
    void *ud;
} SpoolRepoOpener;

typedef struct SpoolSettings {
    char path[PATH_MAX];        /* absolute */
    char repo[PATH_MAX];        /* absolute repository path (the prefetcher chdirs to "/"),
                                   or the s3:// URL as given */
    char datadir[PATH_MAX];     /* cwd when it is a data directory in recovery, else "" */
    uint64_t size;              /* spool-size in bytes (spool_default_size if not set) */
    uint32_t segsize;           /* WAL segment size of the repository */
    unsigned max_segments;      /* floor(size / segsize) >= 1 */
    unsigned jobs;              /* parallel fetches */
    unsigned idle_timeout_s;    /* the prefetcher exits after this long without a request */
    bool is_default_path;       /* removed entirely at the end of recovery */
    char identity[SPOOL_IDENTITY_MAX];
    /* Opens the repository in the prefetcher (set by the command: an S3 repository needs
     * its settings); open NULL: the posix directory `repo`. */
    StorageOpener opener;
    SpoolRepoOpener repo_opener;    /* open NULL: repo_open (no encryption) */
} SpoolSettings;

/* Flags of archive-get (each may be NULL). */
typedef struct SpoolFlags {
    const char *path, *size, *jobs;
} SpoolFlags;

/* What spool_settings_resolve parses: each setting as given (flag > environment > config, as
 * the command looked it up), NULL when unset. */
typedef struct SpoolRequest {
    const char *path;           /* spool-path, PGPITR_SPOOL_PATH */
    const char *size;           /* spool-size, PGPITR_SPOOL_SIZE */
    const char *jobs;           /* prefetch-jobs, PGPITR_PREFETCH_JOBS */
    const char *idle_timeout;   /* PGPITR_PREFETCH_IDLE_TIMEOUT */
    const char *repo_path;      /* the repository, as given */
} SpoolRequest;

/* ---- pure helpers (unit tested) ----------------------------------------------------------- */

/* "512MiB", "1GB", "16M", "0", "1048576": bytes; units are powers of 1024 and
 * case-insensitive (k, kB, KiB, M, MB, MiB, G, GB, GiB, B). PGP_ERR_CONFIG otherwise. */
int spool_parse_size(const char *text, uint64_t *out, PgpErr *err);
/* floor(size / segsize), capped at 1 << 20; 0 when size < segsize or segsize is 0. */
unsigned spool_max_segments(uint64_t size, uint32_t segsize);
/* The spool-size used when none is set: max(SPOOL_DEFAULT_SIZE, (jobs + 1) * segsize). */
uint64_t spool_default_size(unsigned jobs, uint32_t segsize);

typedef enum {
    SPOOL_FILE_SEGMENT,     /* a complete segment (24 uppercase hex) */
    SPOOL_FILE_WORK,        /* a prefetcher's temporary file (dot file, not a control file) */
    SPOOL_FILE_CONTROL,     /* .identity, .requested, .prefetch.lock and their temps */
    SPOOL_FILE_OTHER,       /* anything else: left alone */
    SPOOL_FILE_RECORD,      /* .sha256.<name>: the record of a segment (spool_file.h) */
} SpoolFileKind;
SpoolFileKind spool_file_kind(const char *name);

/* Whether a spooled segment can never be asked for again, given the last requested segment
 * (tli, segno): another timeline, or an older segment. Non-segment names: false. */
bool spool_file_obsolete(const char *name, uint32_t segsize, uint32_t req_tli,
                         uint64_t req_segno);

/* The prefetch window. held = complete segment files of the current timeline + fetches in
 * flight. The next segment to fetch is the lowest in [max(base + 1, next), base + max] that is
 * not held, below stop, and only while held < max. `next` (one past the highest segment
 * claimed so far) keeps a segment that was fetched and then taken by archive-get from being
 * fetched again before .requested says so. */
typedef struct SpoolWindow {
    uint64_t base;          /* segno of the last requested segment */
    uint64_t next;          /* lowest segno not claimed yet */
    unsigned max;           /* bound */
    unsigned held;
    uint64_t stop;          /* first segno not to fetch (end of archive, failure); UINT64_MAX */
    uint64_t last;          /* highest valid segno for the segment size */
} SpoolWindow;
typedef bool (*SpoolHaveFn)(void *ud, uint64_t segno);
bool spool_window_next(const SpoolWindow *w, SpoolHaveFn have, void *ud, uint64_t *segno);

/* "pgpitr-spool 2\nrepo ...\nsystem-identifier ...\nwal-segment-size ...\nboot-id ...\n"
 * into out: the repository and what its repo.json said when the spool was set up. */
void spool_identity_text(const char *repo, uint64_t sysid, uint32_t segsize, const char *boot_id,
                         char out[SPOOL_IDENTITY_MAX]);
/* The wal-segment-size of an identity text of this version; false when there is none or it
 * is not a power of two from 1 MiB to 1 GiB. */
bool spool_identity_segsize(const char *text, uint32_t *segsize);

/* dir + "/" + name into out; false (out empty) if it does not fit. */
bool spool_join(char out[PATH_MAX], const char *dir, const char *name);

/* ---- settings ----------------------------------------------------------------------------- */

/* Resolves spool-path / spool-size / prefetch-jobs (flag > PGPITR_SPOOL_PATH, _SPOOL_SIZE,
 * PGPITR_PREFETCH_JOBS > config > default) for a bound repository. *enabled is false (and 0
 * returned) when prefetching is off: spool-size 0, or the default path while the current
 * directory is not a data directory in archive recovery (recovery.signal/standby.signal), so
 * that a manual archive-get never writes into some directory's pg_wal, or a spool-size
 * below one segment (then with a warning: the segment is fetched directly, never refused).
 * A value that does not parse is PGP_ERR_CONFIG. */
int spool_settings_resolve(const SpoolRequest *r, const RepoIdentity *id, SpoolSettings *out,
                           bool *enabled, PgpErr *err);

/* ---- the spool directory ------------------------------------------------------------------ */

/* Opens the spool directory (creating it with mode 0700 first when `create`; its parent must
 * exist) and checks it: not a symbolic link (O_NOFOLLOW), a directory, owned by the effective
 * user, mode 0700. *dfd is the directory's descriptor (O_CLOEXEC). PGP_ERR_CONFIG with a hint
 * when the checks fail; nothing in the directory is touched then. */
int spool_dir_open(const char *path, bool create, int *dfd, PgpErr *err);

typedef struct Spool Spool;

/* spool_dir_open(create) + checks .identity against st->identity, wiping segments, records
 * and work files and rewriting it on a mismatch. Returns with the identity lock held shared
 * until spool_close. */
int spool_open(const SpoolSettings *st, Spool **out, PgpErr *err);
void spool_close(Spool *sp);   /* NULL is a no-op */

/* archive-get's way to a hit without reading the repository (on S3 a connection and a
 * request per call, on replay's critical path): when the current directory is a data directory
 * in archive recovery and the spool (r's path, or the default) already carries the identity this
 * call would write - r's repository, this boot, the system identifier of the data directory's
 * pg_control, and the segment size recorded next to them by the call that read repo.json -
 * *out is that spool, opened as spool_open does, and st is what spool_settings_resolve gives
 * for that identity. Otherwise *out is NULL and 0 returned: the caller opens the repository and
 * goes the usual way. Creates, wipes and changes nothing. Only settings that do not parse
 * are errors (as spool_settings_resolve). */
int spool_open_cached(const SpoolRequest *r, SpoolSettings *st, Spool **out, PgpErr *err);

/* Moves spool/name to dest after the checks of spool_file_take (owner, type, links, size,
 * SHA-256 against the record): *hit true on success. When the file is not there but the
 * prefetcher is fetching it (.inflight.<name>), waits for that fetch (while the prefetcher
 * lives, at most SPOOL_WAIT_MAX_MS) instead of fetching it a second time; *waited_ms says how
 * long. A missing file is a miss (0, *hit false). A file failing its checks, or any other
 * failure, is a miss as well (no unverified bytes at dest), logged as a warning: the caller
 * fetches. */
#define SPOOL_WAIT_MAX_MS 120000
int spool_take(Spool *sp, const char *name, const char *dest, bool *hit, unsigned *waited_ms,
               PgpErr *err);
/* The in-flight mark of name: ".inflight.<name>" (a name in the spool directory). */
#define SPOOL_INFLIGHT_NAME_MAX 80
void spool_inflight_name(char out[SPOOL_INFLIGHT_NAME_MAX], const char *name);
/* Records name as the last segment given to PostgreSQL (.requested, atomically). */
int spool_note_request(Spool *sp, const char *name, PgpErr *err);
/* Reads .requested of the spool directory dfd; false if absent or not a segment name. */
bool spool_read_request(int dfd, char name[32]);

/* Removes segment files, records, work files and .requested (with `control` also .identity
 * and .prefetch.lock) of the spool directory dfd. Best effort: errors are ignored. */
void spool_wipe(int dfd, bool control);
/* Removes work files only (left by a prefetcher that died). */
void spool_wipe_work(int dfd);

/* Identity lock for publishing: true with the lock held shared when .identity still equals
 * `identity`; *fd must be passed to spool_identity_unlock. */
bool spool_identity_lock(int dfd, const char *identity, int *fd);
void spool_identity_unlock(int fd);

#endif
