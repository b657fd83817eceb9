/*
 * spool.c - the archive-get prefetch spool directory (see spool.h for the layout and the
 * invariants): settings, the identity check, and archive-get's O(1) operations on it (take a
 * segment by rename, note the request). The fetching lives in prefetch.c; this file never
 * reads the repository and never scans the spool on archive-get's path (only a wipe after an
 * identity mismatch lists it, once).
 *
 * Why the identity carries the boot id: spooled files are not fsynced (the prefetcher would
 * otherwise pay an fsync per segment for nothing - PostgreSQL makes the restored file durable
 * itself). A file renamed before an OS crash may come back empty or torn, so a spool written
 * before the last boot is wiped instead of trusted. A process crash loses nothing: the page
 * cache keeps what was written.
 */
#include "pgpitr/spool.h"

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

#include "pgpitr/log.h"
#include "pgpitr/walname.h"

#define IDENTITY_FILE ".identity"
#define REQUEST_FILE ".requested"
#define LOCK_WAIT_MS 5000
#define COPY_CHUNK (1u << 20)
#define MAX_SEGMENTS_CAP (1u << 20)

struct Spool {
    const SpoolSettings *st;
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

static bool is_upper_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

SpoolFileKind spool_file_kind(const char *name)
{
    size_t n = strlen(name);
    if (n == PG_WALNAME_SEG_LEN && is_upper_hex(name, n))
        return SPOOL_FILE_SEGMENT;
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

void spool_identity_text(const char *repo, uint64_t sysid, const char *boot_id,
                         char out[SPOOL_IDENTITY_MAX])
{
    snprintf(out, SPOOL_IDENTITY_MAX,
             "pgpitr-spool 1\nrepo %.900s\nsystem-identifier %" PRIu64 "\nboot-id %.64s\n", repo,
             sysid, boot_id);
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

static int resolve_numbers(const CmdSettings *s, const SpoolFlags *f, SpoolSettings *o,
                           PgpErr *err)
{
    const char *size = cmd_setting(s, f->size, "PGPITR_SPOOL_SIZE", "spool-size");
    const char *jobs = cmd_setting(s, f->jobs, "PGPITR_PREFETCH_JOBS", "prefetch-jobs");
    const char *idle = getenv("PGPITR_PREFETCH_IDLE_TIMEOUT");
    long v = SPOOL_DEFAULT_JOBS;
    o->size = SPOOL_DEFAULT_SIZE;
    int rc = size != NULL ? spool_parse_size(size, &o->size, err) : 0;
    if (rc == 0 && jobs != NULL)
        rc = cmd_parse_int("prefetch-jobs", jobs, 1, SPOOL_MAX_JOBS, &v, err);
    o->jobs = (unsigned)v;
    v = SPOOL_DEFAULT_IDLE_S;
    if (rc == 0 && idle != NULL && idle[0] != '\0')
        rc = cmd_parse_int("PGPITR_PREFETCH_IDLE_TIMEOUT", idle, 1, 86400, &v, err);
    o->idle_timeout_s = (unsigned)v;
    if (rc != 0 || o->size == 0)
        return rc;
    o->max_segments = spool_max_segments(o->size, o->segsize);
    if (o->max_segments == 0) {
        PGP_FAIL(err, PGP_ERR_CONFIG, "spool-size %" PRIu64 " bytes is smaller than one WAL "
                 "segment (%" PRIu32 " bytes)", o->size, o->segsize);
        pgp_err_hint(err, "set spool-size to at least one segment, or to 0 to turn prefetching off");
        return PGP_ERR_CONFIG;
    }
    return 0;
}

int spool_settings_resolve(const CmdSettings *s, const SpoolFlags *f, const RepoIdentity *id,
                           SpoolSettings *out, bool *enabled, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    *enabled = false;
    out->segsize = id->wal_segsize;
    int rc = resolve_numbers(s, f, out, err);
    if (rc != 0 || out->size == 0)
        return rc;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return 0;   /* no usable current directory: no spool, plain fetching */
    if (exists_in(cwd, "PG_VERSION") &&
        (exists_in(cwd, "recovery.signal") || exists_in(cwd, "standby.signal")))
        snprintf(out->datadir, sizeof out->datadir, "%s", cwd);
    const char *path = cmd_setting(s, f->path, "PGPITR_SPOOL_PATH", "spool-path");
    if (path == NULL || path[0] == '\0') {
        if (out->datadir[0] == '\0')
            return 0;   /* the default lives in a data directory in recovery only */
        path = SPOOL_DEFAULT_PATH;
        out->is_default_path = true;
    }
    if ((rc = join_path(out->path, cwd, path, err)) != 0)
        return rc;
    char repo[PATH_MAX];
    if (realpath(s->repo_path, repo) == NULL && join_path(repo, cwd, s->repo_path, err) != 0)
        return PGP_ERR_CONFIG;
    snprintf(out->repo, sizeof out->repo, "%s", repo);
    char boot[64];
    read_boot_id(boot);
    spool_identity_text(out->repo, id->system_identifier, boot, out->identity);
    *enabled = true;
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

static int open_identity(const char *spool_path, PgpErr *err)
{
    char p[PATH_MAX];
    if (!spool_join(p, spool_path, IDENTITY_FILE))
        return PGP_FAIL(err, PGP_ERR_CONFIG, "spool path \"%.64s...\" is too long", spool_path), -1;
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", p);
    return fd;
}

/* Under the exclusive lock: wipe what belongs to another identity and write ours. */
static int identity_replace(const SpoolSettings *st, int fd, PgpErr *err)
{
    if (identity_equals(fd, st->identity))
        return 0;
    struct stat sb;
    if (fstat(fd, &sb) == 0 && sb.st_size > 0)   /* empty: a new spool, nothing to say */
        log_info("spool \"%s\" belongs to another repository, cluster or boot: emptying it", st->path);
    spool_wipe(st->path, false);
    size_t len = strlen(st->identity);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, st->identity, len, 0) != (ssize_t)len)
        return PGP_FAIL_SYS(err, errno ? errno : ENOSPC, "cannot write \"%s/" IDENTITY_FILE "\"",
                            st->path);
    return 0;
}

bool spool_identity_lock(const char *spool_path, const char *identity, int *fd)
{
    *fd = open_identity(spool_path, NULL);
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

int spool_open(const SpoolSettings *st, Spool **out, PgpErr *err)
{
    *out = NULL;
    if (mkdir(st->path, 0700) != 0 && errno != EEXIST)
        return PGP_FAIL_SYS(err, errno, "cannot create spool directory \"%s\"", st->path);
    int fd = open_identity(st->path, err);
    if (fd < 0)
        return err ? err->code : PGP_ERR_IO;
    int rc = 0;
    for (int attempt = 0;; attempt++) {
        if (!flock_wait(fd, LOCK_SH)) {
            rc = PGP_FAIL_SYS(err, errno ? errno : EWOULDBLOCK, "cannot lock \"%s/" IDENTITY_FILE
                              "\"", st->path);
            break;
        }
        if (identity_equals(fd, st->identity))
            break;
        flock(fd, LOCK_UN);
        if (attempt == 3) {
            rc = PGP_FAIL(err, PGP_ERR_LOCKED, "spool \"%s\" keeps changing owner", st->path);
            break;
        }
        if (!flock_wait(fd, LOCK_EX)) {
            rc = PGP_FAIL_SYS(err, errno ? errno : EWOULDBLOCK, "cannot lock \"%s/" IDENTITY_FILE
                              "\"", st->path);
            break;
        }
        rc = identity_replace(st, fd, err);
        flock(fd, LOCK_UN);
        if (rc != 0)
            break;
    }
    Spool *sp = rc == 0 ? malloc(sizeof *sp) : NULL;
    if (rc == 0 && sp == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        close(fd);
        return rc;
    }
    sp->st = st;
    sp->identity_fd = fd;
    *out = sp;
    return 0;
}

void spool_close(Spool *sp)
{
    if (sp == NULL)
        return;
    close(sp->identity_fd);
    free(sp);
}

static int copy_fd(int in, int out)
{
    char *buf = malloc(COPY_CHUNK);
    if (buf == NULL)
        return ENOMEM;
    int e = 0;
    for (;;) {
        ssize_t n = read(in, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? errno : 0;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                e = w < 0 ? errno : ENOSPC;
                goto out;
            }
            off += w;
        }
    }
out:
    free(buf);
    return e;
}

/* The spool is on another filesystem than dest: copy to a temp beside dest, rename. */
static int take_by_copy(const char *src, const char *dest)
{
    char tmp[PATH_MAX];
    const char *slash = strrchr(dest, '/');
    int dirlen = slash ? (int)(slash - dest + 1) : 0;
    int n = snprintf(tmp, sizeof tmp, "%.*s.%s.pgpitr-spool.%ld", dirlen, dest,
                     slash ? slash + 1 : dest, (long)getpid());
    if (n < 0 || n >= (int)sizeof tmp)
        return ENAMETOOLONG;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int e = out < 0 ? errno : copy_fd(in, out);
    close(in);
    if (out >= 0 && close(out) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, dest) != 0)
        e = errno;
    if (e != 0) {
        if (out >= 0)
            unlink(tmp);
        return e;
    }
    unlink(src);
    return 0;
}

bool spool_inflight_path(char out[PATH_MAX], const char *spool_path, const char *name)
{
    char base[PG_WALNAME_MAX + 16];
    snprintf(base, sizeof base, ".inflight.%.*s", PG_WALNAME_MAX, name);
    return spool_join(out, spool_path, base);
}

/* One attempt: 0 taken, ENOENT not there, another errno otherwise. */
static int take_once(const char *src, const char *dest)
{
    int e = rename(src, dest) == 0 ? 0 : errno;
    return e == EXDEV ? take_by_copy(src, dest) : e;
}

/* Whether a prefetcher holds .prefetch.lock (a shared lock we could take means none does). */
static bool prefetcher_alive(const char *spool_path)
{
    char p[PATH_MAX];
    int fd = spool_join(p, spool_path, ".prefetch.lock") ? open(p, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return false;
    bool alive = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return alive;
}

/* The file is not there yet but being fetched: poll for it every millisecond (a rename and a
 * stat), and every 100 ms make sure the prefetcher still lives. */
static int take_wait(const char *src, const char *mark, const char *spool_path, const char *dest,
                     unsigned *waited_ms)
{
    struct stat sb;
    int e = ENOENT;
    for (unsigned ms = 0; ms < SPOOL_WAIT_MAX_MS; ms++) {
        bool marked = stat(mark, &sb) == 0;
        e = take_once(src, dest);   /* after the stat: a fetch that just ended is seen here */
        if (e != ENOENT || !marked || (ms % 100 == 99 && !prefetcher_alive(spool_path)))
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        *waited_ms = ms + 1;
    }
    return e;
}

int spool_take(Spool *sp, const char *name, const char *dest, bool *hit, unsigned *waited_ms,
               PgpErr *err)
{
    (void)err;
    *hit = false;
    *waited_ms = 0;
    char src[PATH_MAX], mark[PATH_MAX];
    if (!spool_join(src, sp->st->path, name) || !spool_inflight_path(mark, sp->st->path, name))
        return 0;
    int e = take_once(src, dest);
    if (e == ENOENT)
        e = take_wait(src, mark, sp->st->path, dest, waited_ms);
    if (e == 0) {
        *hit = true;
        return 0;
    }
    if (e != ENOENT)
        log_warn("cannot take \"%s\" from the prefetch spool \"%s\": %s; fetching it from the "
                 "repository", name, sp->st->path, strerror(e));
    return 0;
}

int spool_note_request(Spool *sp, const char *name, PgpErr *err)
{
    char tmp[PATH_MAX], dst[PATH_MAX], line[PG_WALNAME_MAX + 2], base[64];
    snprintf(base, sizeof base, REQUEST_FILE ".%ld", (long)getpid());
    if (!spool_join(tmp, sp->st->path, base) || !spool_join(dst, sp->st->path, REQUEST_FILE))
        return PGP_FAIL(err, PGP_ERR_CONFIG, "spool path \"%.64s...\" is too long", sp->st->path);
    int len = snprintf(line, sizeof line, "%s\n", name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create \"%s\"", tmp);
    int e = write(fd, line, (size_t)len) == len ? 0 : (errno ? errno : ENOSPC);
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, dst) != 0)
        e = errno;
    if (e != 0) {
        unlink(tmp);
        return PGP_FAIL_SYS(err, e, "cannot write \"%s\"", dst);
    }
    return 0;
}

bool spool_read_request(const char *spool_path, char name[32])
{
    char p[PATH_MAX];
    if (!spool_join(p, spool_path, REQUEST_FILE))
        return false;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
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
static void remove_kinds(const char *spool_path, unsigned mask, bool request)
{
    DIR *d = opendir(spool_path);
    if (d == NULL)
        return;
    int dfd = dirfd(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        SpoolFileKind k = spool_file_kind(de->d_name);
        if ((mask & (1u << k)) != 0 ||
            (request && strncmp(de->d_name, REQUEST_FILE, strlen(REQUEST_FILE)) == 0))
            unlinkat(dfd, de->d_name, 0);
    }
    closedir(d);
}

void spool_wipe(const char *spool_path, bool control)
{
    unsigned mask = (1u << SPOOL_FILE_SEGMENT) | (1u << SPOOL_FILE_WORK);
    remove_kinds(spool_path, control ? mask | (1u << SPOOL_FILE_CONTROL) : mask, true);
}

void spool_wipe_work(const char *spool_path)
{
    remove_kinds(spool_path, 1u << SPOOL_FILE_WORK, false);
}
