/*
 * spool.c - the archive-get prefetch spool directory (see spool.h for the layout and the
 * invariants): settings, the identity check, and archive-get's O(1) operations on it (take a
 * segment, note the request) and the checks of the directory itself. The checks and the
 * SHA-256 of one file live in spool_file.c, the fetching in prefetch.c; this file never reads
 * the repository and never scans the spool on archive-get's path (only a wipe after an
 * identity mismatch lists it, once).
 *
 * Why the identity carries the boot id: spooled files are not fsynced (the prefetcher would
 * otherwise pay an fsync per segment for nothing - PostgreSQL makes the restored file durable
 * itself). A file renamed before an OS crash may come back empty or torn, so a spool written
 * before the last boot is wiped instead of trusted. A process crash loses nothing: the page
 * cache keeps what was written.
 */
#include "pgpitr/archive/spool.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/config.h"
#include "pgpitr/common/log.h"
#include "pgpitr/archive/spool_file.h"
#include "pgpitr/common/hexstr.h"
#include "pgpitr/pg/pgcontrol.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/common/fdio.h"

#define IDENTITY_FILE ".identity"
#define REQUEST_FILE ".requested"
#define LOCK_FILE ".prefetch.lock"
#define LOCK_WAIT_MS 5000
#define MAX_SEGMENTS_CAP (1u << 20)

struct Spool {
    const SpoolSettings *st;
    int dfd;                    /* the checked spool directory */
    int identity_fd;            /* holds LOCK_SH while open */
};

/* ---- pure helpers --------------------------------------------------------------------------- */

int spool_parse_size(const char *text, uint64_t *out, PgpErr *err)
{
    static const struct { const char *unit; unsigned shift; } units[] = {
        {"", 0}, {"b", 0}, {"k", 10}, {"kb", 10}, {"kib", 10}, {"m", 20}, {"mb", 20},
        {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40}, {"tb", 40}, {"tib", 40},
    };
    char *end = NULL, q[PGP_QUOTE_BUF];
    errno = 0;
    if (text == NULL || !isdigit((unsigned char)text[0]))
        goto bad;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0)
        goto bad;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].unit) != 0)
            continue;
        if (v > (UINT64_MAX >> units[i].shift))
            goto bad;
        *out = (uint64_t)v << units[i].shift;
        return 0;
    }
bad:
    PGP_FAIL(err, PGP_ERR_CONFIG, "invalid spool-size \"%s\"", pgp_quote(text ? text : "", q));
    pgp_err_hint(err, "give bytes or a size such as 512MiB or 1GiB; 0 turns prefetching off");
    return PGP_ERR_CONFIG;
}

unsigned spool_max_segments(uint64_t size, uint32_t segsize)
{
    if (segsize == 0 || size < segsize)
        return 0;
    uint64_t n = size / segsize;
    return n > MAX_SEGMENTS_CAP ? MAX_SEGMENTS_CAP : (unsigned)n;
}

uint64_t spool_default_size(unsigned jobs, uint32_t segsize)
{
    uint64_t need = ((uint64_t)jobs + 1) * segsize;
    return need > SPOOL_DEFAULT_SIZE ? need : SPOOL_DEFAULT_SIZE;
}

SpoolFileKind spool_file_kind(const char *name)
{
    size_t n = strlen(name);
    if (n == PG_WALNAME_SEG_LEN && hexstr_is(name, n, HEX_UPPER))
        return SPOOL_FILE_SEGMENT;
    if (strncmp(name, SPOOL_RECORD_PREFIX, strlen(SPOOL_RECORD_PREFIX)) == 0)
        return SPOOL_FILE_RECORD;
    if (strncmp(name, IDENTITY_FILE, strlen(IDENTITY_FILE)) == 0 ||
        strncmp(name, REQUEST_FILE, strlen(REQUEST_FILE)) == 0 ||
        strncmp(name, ".prefetch", strlen(".prefetch")) == 0)
        return SPOOL_FILE_CONTROL;
    if (name[0] == '.' && strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
        return SPOOL_FILE_WORK;
    return SPOOL_FILE_OTHER;
}

bool spool_file_obsolete(const char *name, uint32_t segsize, uint32_t req_tli,
                         uint64_t req_segno)
{
    PgWalName n;
    uint64_t segno;
    if (spool_file_kind(name) != SPOOL_FILE_SEGMENT || pg_walname_parse(name, &n, NULL) != 0 ||
        n.kind != PG_WALFILE_SEGMENT)
        return false;
    if (!pg_walname_segno(&n, segsize, &segno))
        return true;   /* not a valid segment for this segment size: never asked for */
    return n.tli != req_tli || segno < req_segno;
}

bool spool_window_next(const SpoolWindow *w, SpoolHaveFn have, void *ud, uint64_t *segno)
{
    if (w->held >= w->max)
        return false;
    uint64_t from = w->next > w->base ? w->next : w->base + 1;
    for (uint64_t s = from; s <= w->base + w->max; s++) {
        if (s > w->last || s >= w->stop)
            return false;
        if (!have(ud, s)) {
            *segno = s;
            return true;
        }
    }
    return false;
}

void spool_identity_text(const char *repo, uint64_t sysid, uint32_t segsize, const char *boot_id,
                         char out[SPOOL_IDENTITY_MAX])
{
    snprintf(out, SPOOL_IDENTITY_MAX,
             "pgpitr-spool 2\nrepo %.850s\nsystem-identifier %" PRIu64
             "\nwal-segment-size %" PRIu32 "\nboot-id %.64s\n",
             repo, sysid, segsize, boot_id);
}

bool spool_identity_segsize(const char *text, uint32_t *segsize)
{
    static const char key[] = "\nwal-segment-size ";
    const char *p = strncmp(text, "pgpitr-spool 2\n", 15) == 0 ? strstr(text, key) : NULL;
    if (p == NULL || !isdigit((unsigned char)p[sizeof key - 1]))
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(p + sizeof key - 1, &end, 10);
    /* what PostgreSQL allows: a power of two from 1 MiB to 1 GiB */
    if (errno != 0 || *end != '\n' || v < (1u << 20) || v > (1u << 30) || (v & (v - 1)) != 0)
        return false;
    *segsize = (uint32_t)v;
    return true;
}

bool spool_join(char out[PATH_MAX], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_MAX) {
        out[0] = '\0';
        return false;
    }
    return true;
}

/* ---- settings ------------------------------------------------------------------------------- */

static void read_boot_id(char out[64])
{
    snprintf(out, 64, "unknown");
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (f == NULL)
        return;
    if (fgets(out, 64, f) == NULL)
        snprintf(out, 64, "unknown");
    out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

static bool exists_in(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat sb;
    return spool_join(p, dir, name) && stat(p, &sb) == 0;
}

static int join_path(char out[PATH_MAX], const char *dir, const char *rel, PgpErr *err)
{
    int n = rel[0] == '/' ? snprintf(out, PATH_MAX, "%s", rel)
                          : snprintf(out, PATH_MAX, "%s/%s", dir, rel);
    if (n < 0 || n >= PATH_MAX)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "spool path \"%.64s...\" is too long", rel);
    return 0;
}

/* spool-size (the default follows the segment size), prefetch-jobs, the idle timeout. */
static int resolve_numbers(const SpoolRequest *r, SpoolSettings *o, PgpErr *err)
{
    const char *size = r->size, *jobs = r->jobs, *idle = r->idle_timeout;
    long v = SPOOL_DEFAULT_JOBS;
    int rc = jobs != NULL
                 ? config_parse_int("prefetch-jobs", jobs, 1, SPOOL_MAX_JOBS, &v, err)
                 : 0;
    o->jobs = (unsigned)v;
    o->size = spool_default_size(o->jobs, o->segsize);
    if (rc == 0 && size != NULL)
        rc = spool_parse_size(size, &o->size, err);
    v = SPOOL_DEFAULT_IDLE_S;
    if (rc == 0 && idle != NULL && idle[0] != '\0')
        rc = config_parse_int("PGPITR_PREFETCH_IDLE_TIMEOUT", idle, 1, 86400, &v, err);
    o->idle_timeout_s = (unsigned)v;
    o->max_segments = spool_max_segments(o->size, o->segsize);
    return rc;
}

int spool_settings_resolve(const SpoolRequest *r, const RepoIdentity *id, SpoolSettings *out,
                           bool *enabled, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    *enabled = false;
    out->segsize = id->wal_segsize;
    int rc = resolve_numbers(r, out, err);
    if (rc != 0 || out->size == 0)
        return rc;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return 0;   /* no usable current directory: no spool, plain fetching */
    if (exists_in(cwd, "PG_VERSION") &&
        (exists_in(cwd, "recovery.signal") || exists_in(cwd, "standby.signal")))
        snprintf(out->datadir, sizeof out->datadir, "%s", cwd);
    const char *path = r->path;
    if (path == NULL || path[0] == '\0') {
        if (out->datadir[0] == '\0')
            return 0;   /* the default lives in a data directory in recovery only */
        path = SPOOL_DEFAULT_PATH;
        out->is_default_path = true;
    }
    if (out->max_segments == 0) {
        /* Refusing would stop recovery over a setting that only makes it faster. */
        log_warn("spool-size %" PRIu64 " bytes is smaller than one WAL segment (%" PRIu32
                 " bytes): prefetching is off, fetching directly (set spool-size to at least "
                 "%" PRIu32 " MiB, or to 0)", out->size, out->segsize, out->segsize >> 20);
        return 0;
    }
    if ((rc = join_path(out->path, cwd, path, err)) != 0)
        return rc;
    char repo[PATH_MAX];
    if (storage_is_s3_url(r->repo_path))
        snprintf(repo, sizeof repo, "%s", r->repo_path);    /* a URL is absolute already */
    else if (realpath(r->repo_path, repo) == NULL &&
             join_path(repo, cwd, r->repo_path, err) != 0)
        return PGP_ERR_CONFIG;
    snprintf(out->repo, sizeof out->repo, "%s", repo);
    char boot[64];
    read_boot_id(boot);
    spool_identity_text(out->repo, id->system_identifier, id->wal_segsize, boot, out->identity);
    *enabled = true;
    return 0;
}

/* ---- the directory -------------------------------------------------------------------------- */

static int dir_refused(PgpErr *err, const char *path, const char *what)
{
    PGP_FAIL(err, PGP_ERR_CONFIG, "spool directory \"%s\" %s", path, what);
    pgp_err_hint(err, "only a directory of the user running pgpitr with mode 0700 is used; "
                 "remove it or set spool-path to another directory");
    return PGP_ERR_CONFIG;
}

int spool_dir_open(const char *path, bool create, int *dfd, PgpErr *err)
{
    *dfd = -1;
    bool created = create && mkdir(path, 0700) == 0;
    if (create && !created && errno != EEXIST)
        return PGP_FAIL_PATH(err, errno, path, "cannot create spool directory \"%s\"", path);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) {
        int e = errno;
        if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
            return dir_refused(err, path, "is a symbolic link");
        if (e == ENOTDIR)
            return dir_refused(err, path, "is not a directory");
        return PGP_FAIL_PATH(err, e, path, "cannot open spool directory \"%s\"", path);
    }
    if (fstat(fd, &sb) != 0) {
        int rc = PGP_FAIL_SYS(err, errno, "cannot stat spool directory \"%s\"", path);
        close(fd);
        return rc;
    }
    /* mkdir's mode went through the umask; a directory we just made is ours to set. */
    if (created && (sb.st_mode & 0777) != 0700 && fchmod(fd, 0700) == 0)
        sb.st_mode = (sb.st_mode & ~(mode_t)0777) | 0700;
    char what[96] = "";
    if (sb.st_uid != geteuid())
        snprintf(what, sizeof what, "belongs to uid %u, not to uid %u that runs pgpitr",
                 (unsigned)sb.st_uid, (unsigned)geteuid());
    else if ((sb.st_mode & 0777) != 0700)
        snprintf(what, sizeof what, "has mode %04o, not 0700", (unsigned)(sb.st_mode & 0777));
    int rc = what[0] != '\0' ? dir_refused(err, path, what) : 0;
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *dfd = fd;
    return 0;
}

/* ---- identity ------------------------------------------------------------------------------- */

/* flock with a bounded wait: the holders (archive-get, a prefetcher publishing one file) keep
 * the identity lock for microseconds, so waiting long means something is wrong. */
static bool flock_wait(int fd, int op)
{
    for (int waited = 0; waited < LOCK_WAIT_MS; waited++) {
        if (flock(fd, op | LOCK_NB) == 0)
            return true;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return false;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static bool identity_equals(int fd, const char *identity)
{
    char buf[SPOOL_IDENTITY_MAX + 1];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0)
        return false;
    buf[n] = '\0';
    return strcmp(buf, identity) == 0;
}

/* .identity, which must be a regular file of ours like everything the spool trusts. */
static int open_identity(int dfd, PgpErr *err)
{
    int fd = openat(dfd, IDENTITY_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open \"" IDENTITY_FILE "\" of the spool"), -1;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid()) {
        close(fd);
        return PGP_FAIL(err, PGP_ERR_CONFIG, "\"" IDENTITY_FILE "\" of the spool is not a "
                        "regular file of uid %u", (unsigned)geteuid()), -1;
    }
    return fd;
}

/* Under the exclusive lock: wipe what belongs to another identity and write ours. */
static int identity_replace(const SpoolSettings *st, int dfd, int fd, PgpErr *err)
{
    if (identity_equals(fd, st->identity))
        return 0;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && sb.st_size > 0)   /* empty: a new spool, nothing to say */
        log_info("spool \"%s\" belongs to another repository, cluster or boot: emptying it", st->path);
    spool_wipe(dfd, false);
    size_t len = strlen(st->identity);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, st->identity, len, 0) != (ssize_t)len)
        return PGP_FAIL_SYS(err, errno ? errno : ENOSPC, "cannot write \"%s/" IDENTITY_FILE "\"",
                            st->path);
    return 0;
}

bool spool_identity_lock(int dfd, const char *identity, int *fd)
{
    *fd = open_identity(dfd, NULL);
    if (*fd < 0)
        return false;
    if (flock_wait(*fd, LOCK_SH) && identity_equals(*fd, identity))
        return true;
    close(*fd);
    *fd = -1;
    return false;
}

void spool_identity_unlock(int fd)
{
    if (fd >= 0)
        close(fd);   /* drops the flock */
}

/* ---- archive-get's side ------------------------------------------------------------------- */

/* Takes .identity's lock shared with our identity in it, replacing a foreign one first. */
static int identity_check(const SpoolSettings *st, int dfd, int fd, PgpErr *err)
{
    for (int attempt = 0;; attempt++) {
        if (!flock_wait(fd, LOCK_SH))
            return PGP_FAIL_SYS(err, errno ? errno : EWOULDBLOCK, "cannot lock \"%s/"
                                IDENTITY_FILE "\"", st->path);
        if (identity_equals(fd, st->identity))
            return 0;
        flock(fd, LOCK_UN);
        if (attempt == 3)
            return PGP_FAIL(err, PGP_ERR_LOCKED, "spool \"%s\" keeps changing owner", st->path);
        if (!flock_wait(fd, LOCK_EX))
            return PGP_FAIL_SYS(err, errno ? errno : EWOULDBLOCK, "cannot lock \"%s/"
                                IDENTITY_FILE "\"", st->path);
        int rc = identity_replace(st, dfd, fd, err);
        flock(fd, LOCK_UN);
        if (rc != 0)
            return rc;
    }
}

/* A Spool of the directory dfd with fd (.identity, locked shared): both owned by *out, or
 * closed on failure. */
static int spool_new(const SpoolSettings *st, int dfd, int fd, int rc, Spool **out, PgpErr *err)
{
    Spool *sp = rc == 0 ? malloc(sizeof *sp) : NULL;
    if (rc == 0 && sp == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        if (dfd >= 0)
            close(dfd);
        return rc;
    }
    sp->st = st;
    sp->dfd = dfd;
    sp->identity_fd = fd;
    *out = sp;
    return 0;
}

int spool_open(const SpoolSettings *st, Spool **out, PgpErr *err)
{
    *out = NULL;
    int dfd = -1, fd = -1;
    int rc = spool_dir_open(st->path, true, &dfd, err);
    if (rc == 0 && (fd = open_identity(dfd, err)) < 0)
        rc = err ? err->code : PGP_ERR_IO;
    if (rc == 0)
        rc = identity_check(st, dfd, fd, err);
    return spool_new(st, dfd, fd, rc, out, err);
}

/* .identity of the spool directory dfd, read-only (nothing is created), a regular file of
 * ours, locked shared, its text in text; -1 if any of that fails. */
static int identity_read_locked(int dfd, char text[SPOOL_IDENTITY_MAX + 1])
{
    int fd = openat(dfd, IDENTITY_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    ssize_t n = -1;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid() &&
        flock_wait(fd, LOCK_SH))
        n = pread(fd, text, SPOOL_IDENTITY_MAX, 0);
    if (n <= 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    text[n] = '\0';
    return fd;
}

/* The system identifier of the cluster in the current directory when it is a data directory
 * in archive recovery (pg_control, its CRC checked); false otherwise. */
static bool recovering_cluster(char cwd[PATH_MAX], uint64_t *sysid)
{
    PgControl pc;
    if (getcwd(cwd, PATH_MAX) == NULL || !exists_in(cwd, "PG_VERSION") ||
        !(exists_in(cwd, "recovery.signal") || exists_in(cwd, "standby.signal")) ||
        pg_control_read(cwd, &pc, NULL) != 0)
        return false;
    *sysid = pc.system_identifier;
    return true;
}

int spool_open_cached(const SpoolRequest *r, SpoolSettings *st, Spool **out, PgpErr *err)
{
    *out = NULL;
    memset(st, 0, sizeof *st);
    char cwd[PATH_MAX], path[PATH_MAX], text[SPOOL_IDENTITY_MAX + 1];
    uint64_t sysid;
    int dfd = -1, fd = -1;
    if (!recovering_cluster(cwd, &sysid) ||
        join_path(path, cwd, r->path && r->path[0] ? r->path : SPOOL_DEFAULT_PATH, NULL) != 0 ||
        spool_dir_open(path, false, &dfd, NULL) != 0)
        return 0;   /* the usual way says what is wrong, if anything */
    RepoIdentity id = {.system_identifier = sysid};
    bool enabled = false;
    int rc = 0;
    if ((fd = identity_read_locked(dfd, text)) >= 0 && spool_identity_segsize(text, &id.wal_segsize))
        rc = spool_settings_resolve(r, &id, st, &enabled, err);
    /* The identity as this call would write it (this repository, this boot, the cluster being
     * recovered, the recorded segment size) must be the one on file, byte for byte. */
    if (rc == 0 && enabled && strcmp(st->identity, text) == 0 && strcmp(st->path, path) == 0)
        return spool_new(st, dfd, fd, 0, out, err);
    if (fd >= 0)
        close(fd);
    close(dfd);
    return rc;
}

void spool_close(Spool *sp)
{
    if (sp == NULL)
        return;
    close(sp->identity_fd);
    close(sp->dfd);
    free(sp);
}

void spool_inflight_name(char out[SPOOL_INFLIGHT_NAME_MAX], const char *name)
{
    snprintf(out, SPOOL_INFLIGHT_NAME_MAX, ".inflight.%.*s", PG_WALNAME_MAX, name);
}

/* Whether a prefetcher holds .prefetch.lock (a shared lock we could take means none does). */
static bool prefetcher_alive(int dfd)
{
    int fd = openat(dfd, LOCK_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool alive = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return alive;
}

/* The file is not there yet but being fetched: poll for it every millisecond (an open and a
 * stat), and every 100 ms make sure the prefetcher still lives. */
static int take_wait(Spool *sp, const char *name, const char *mark, const char *dest,
                     unsigned *waited_ms, PgpErr *err)
{
    struct stat sb;
    int rc = PGP_ERR_NOT_FOUND;
    for (unsigned ms = 0; ms < SPOOL_WAIT_MAX_MS; ms++) {
        bool marked = fstatat(sp->dfd, mark, &sb, AT_SYMLINK_NOFOLLOW) == 0;
        /* after the stat: a fetch that just ended is seen here */
        rc = spool_file_take(sp->dfd, name, sp->st->segsize, dest, err);
        if (rc != PGP_ERR_NOT_FOUND || !marked || (ms % 100 == 99 && !prefetcher_alive(sp->dfd)))
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        *waited_ms = ms + 1;
    }
    return rc;
}

int spool_take(Spool *sp, const char *name, const char *dest, bool *hit, unsigned *waited_ms,
               PgpErr *err)
{
    (void)err;
    *hit = false;
    *waited_ms = 0;
    char mark[SPOOL_INFLIGHT_NAME_MAX];
    spool_inflight_name(mark, name);
    PgpErr terr;
    pgp_err_clear(&terr);
    int rc = spool_file_take(sp->dfd, name, sp->st->segsize, dest, &terr);
    if (rc == PGP_ERR_NOT_FOUND)
        rc = take_wait(sp, name, mark, dest, waited_ms, &terr);
    if (rc == 0) {
        *hit = true;
        return 0;
    }
    if (rc != PGP_ERR_NOT_FOUND)
        log_warn("prefetch spool \"%s\": %s; fetching \"%s\" from the repository instead",
                 sp->st->path, terr.msg, name);
    return 0;
}

int spool_note_request(Spool *sp, const char *name, PgpErr *err)
{
    char tmp[64], line[PG_WALNAME_MAX + 2];
    snprintf(tmp, sizeof tmp, REQUEST_FILE ".%ld", (long)getpid());
    int len = snprintf(line, sizeof line, "%s\n", name);
    int fd = openat(sp->dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create \"%s/%s\"", sp->st->path, tmp);
    int e = write(fd, line, (size_t)len) == len ? 0 : (errno ? errno : ENOSPC);
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && renameat(sp->dfd, tmp, sp->dfd, REQUEST_FILE) != 0)
        e = errno;
    if (e != 0) {
        unlinkat(sp->dfd, tmp, 0);
        return PGP_FAIL_SYS(err, e, "cannot write \"%s/" REQUEST_FILE "\"", sp->st->path);
    }
    return 0;
}

bool spool_read_request(int dfd, char name[32])
{
    int fd = openat(dfd, REQUEST_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, name, 31);
    close(fd);
    if (n < PG_WALNAME_SEG_LEN)
        return false;
    name[PG_WALNAME_SEG_LEN] = '\0';
    PgWalName wn;
    return pg_walname_parse(name, &wn, NULL) == 0 && wn.kind == PG_WALFILE_SEGMENT;
}

/* Removes the entries of the kinds in mask (1 << SpoolFileKind); `request` adds .requested. */
static void remove_kinds(int dfd, unsigned mask, bool request)
{
    DIR *d = fd_opendir(dfd, ".");
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        SpoolFileKind k = spool_file_kind(de->d_name);
        if ((mask & (1u << k)) != 0 ||
            (request && strncmp(de->d_name, REQUEST_FILE, strlen(REQUEST_FILE)) == 0))
            unlinkat(dfd, de->d_name, 0);
    }
    closedir(d);
}

void spool_wipe(int dfd, bool control)
{
    unsigned mask = (1u << SPOOL_FILE_SEGMENT) | (1u << SPOOL_FILE_WORK) |
                    (1u << SPOOL_FILE_RECORD);
    remove_kinds(dfd, control ? mask | (1u << SPOOL_FILE_CONTROL) : mask, true);
}

void spool_wipe_work(int dfd)
{
    remove_kinds(dfd, 1u << SPOOL_FILE_WORK, false);
}
