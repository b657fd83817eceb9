/*
 * restore_guard.c - directory locks, running servers and the tablespace location rule of a
 * restore (restore_guard.h). Reads /proc and the directories it is asked about; never writes.
 *
 * Why flock on the directory and not a lock file: a lock file inside the data directory would
 * outlive a killed restore (pg_verifybackup reports files the manifest does not list, and the
 * next restore would have to decide whether it is stale); one beside it needs a writable
 * parent, which a mount point's parent often is not. A directory flock vanishes with its
 * holder and leaves no trace. Its one weakness, a flock taken through another name for the
 * same directory, does not exist: locks belong to the inode.
 *
 * Why /proc for running servers: PostgreSQL itself locks nothing in a tablespace location,
 * and the only record of which cluster uses a location is the pg_tblspc link in that
 * cluster's data directory; the running clusters are found through the postmasters' working
 * directories. It is a second line of defence: restore_ts_location_rule keeps --delta out of
 * any location the target does not already own even when no server is visible.
 */
#include "pgpitr/restore/restore_guard.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pgpitr/common/log.h"

/* ---- identities ---------------------------------------------------------------------------- */

/* fd's directory and its parents up to the root (or max), by device and inode. ".." is taken
 * from the fd, so a directory reached through /proc/<pid>/root is walked in its own tree. */
static size_t dir_chain(int fd, RestoreDirId *chain, size_t max)
{
    size_t n = 0;
    int cur = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    struct stat st;
    while (cur >= 0 && n < max && fstat(cur, &st) == 0) {
        if (n > 0 && chain[n - 1].dev == st.st_dev && chain[n - 1].ino == st.st_ino)
            break; /* ".." of the root is the root */
        chain[n++] = (RestoreDirId){st.st_dev, st.st_ino};
        int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        close(cur);
        cur = up;
    }
    if (cur >= 0)
        close(cur);
    return n;
}

static bool in_chain(const RestoreDirId *chain, size_t n, RestoreDirId id)
{
    for (size_t i = 0; i < n; i++)
        if (chain[i].dev == id.dev && chain[i].ino == id.ino)
            return true;
    return false;
}

/* path, or its nearest existing parent (*exists false then), opened O_PATH; -1 on failure. */
static int open_existing(const char *path, bool *exists)
{
    char *p = strdup(path);
    int fd = -1;
    *exists = true;
    while (p != NULL && (fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 && errno == ENOENT) {
        char *slash = strrchr(p, '/');
        if (slash == NULL || strcmp(p, "/") == 0)
            break;
        slash[slash == p ? 1 : 0] = '\0';
        *exists = false;
    }
    free(p);
    return fd;
}

RestoreDirRelation restore_dir_relation(const char *path, const char *dir)
{
    bool exists, dir_exists;
    int dfd = open_existing(dir, &dir_exists);
    if (dfd >= 0 && !dir_exists) {
        close(dfd);
        return RESTORE_DIR_UNRELATED;
    }
    int fd = dfd >= 0 ? open_existing(path, &exists) : -1;
    RestoreDirRelation rel = RESTORE_DIR_UNRELATED;
    if (fd >= 0) {
        RestoreDirId pc[RESTORE_CHAIN_MAX], dc[RESTORE_CHAIN_MAX];
        size_t np = dir_chain(fd, pc, RESTORE_CHAIN_MAX), nd = dir_chain(dfd, dc, RESTORE_CHAIN_MAX);
        if (np > 0 && nd > 0 && exists && pc[0].dev == dc[0].dev && pc[0].ino == dc[0].ino)
            rel = RESTORE_DIR_SAME;
        else if (np > 0 && nd > 0 && in_chain(pc, np, dc[0]))
            rel = RESTORE_DIR_INSIDE;
        else if (np > 0 && exists && in_chain(dc, nd, pc[0]))
            rel = RESTORE_DIR_CONTAINS;
        close(fd);
    }
    if (dfd >= 0)
        close(dfd);
    return rel;
}

/* ---- /proc/locks --------------------------------------------------------------------------- */

bool restore_parse_lock_line(const char *line, RestoreLockLine *out)
{
    char kind[16], mode[16], rw[16];
    memset(out, 0, sizeof *out);
    if (sscanf(line, "%*u: %15s %15s %15s %ld %x:%x:%llu", kind, mode, rw, &out->pid,
               &out->major, &out->minor, &out->ino) != 7 || strcmp(kind, "->") == 0)
        return false;
    out->flock = strcmp(kind, "FLOCK") == 0;
    out->write = strcmp(rw, "WRITE") == 0;
    return true;
}

typedef struct LockMatch {
    const RestoreDirId *ids;
    size_t n;
    long skip_pid;                      /* 0: none */
} LockMatch;

/* The first exclusive flock of /proc/locks on one of m's directories, by another pid than
 * m->skip_pid: its holder's pid (-1 when /proc shows none) and in *idx which directory, or 0
 * when there is none. */
static long flock_holder(const LockMatch *m, size_t *idx)
{
    FILE *f = fopen("/proc/locks", "re");
    if (f == NULL)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    long holder = 0;
    RestoreLockLine l;
    while (holder == 0 && getline(&line, &cap, f) > 0) {
        if (!restore_parse_lock_line(line, &l) || !l.flock || !l.write ||
            (m->skip_pid != 0 && l.pid == m->skip_pid))
            continue;
        for (size_t i = 0; i < m->n && holder == 0; i++) {
            if (major(m->ids[i].dev) == l.major && minor(m->ids[i].dev) == l.minor &&
                (unsigned long long)m->ids[i].ino == l.ino) {
                holder = l.pid > 0 ? l.pid : -1;
                *idx = i;
            }
        }
    }
    free(line);
    fclose(f);
    return holder;
}

static int locked_error(PgpErr *err, const char *what, const char *path, const char *where,
                        long pid)
{
    char by[48] = "another process";
    if (pid > 0)
        snprintf(by, sizeof by, "another process (pid %ld)", pid);
    PGP_FAIL(err, PGP_ERR_LOCKED, "%s \"%s\" %s locked by %s", what, path, where, by);
    pgp_err_hint(err, "another pgpitr restore or drill is working there: wait for it to end, "
                 "or restore elsewhere (two restores never write into one directory)");
    return PGP_ERR_LOCKED;
}

/* ---- directory locks ------------------------------------------------------------------------- */

/* Refuses a directory that another process holds locked, or one below such a directory (a
 * drill's work directory, another restore's target: removing it would also remove what we
 * write). fd is the directory, or with !exists its nearest existing parent. Our own locks do
 * not count (a drill's restore works inside the drill's locked directory). */
static int check_locked(int fd, bool exists, const char *path, const char *what, PgpErr *err)
{
    RestoreDirId chain[RESTORE_CHAIN_MAX];
    LockMatch m = {.ids = chain, .n = dir_chain(fd, chain, RESTORE_CHAIN_MAX),
                   .skip_pid = (long)getpid()};
    size_t idx = 0;
    long pid = flock_holder(&m, &idx);
    if (pid == 0)
        return 0;
    return locked_error(err, what, path, exists && idx == 0 ? "is" : "lies inside a directory",
                        pid);
}

int restore_lock_probe(const char *path, const char *what, PgpErr *err)
{
    bool exists;
    int fd = open_existing(path, &exists);
    if (fd < 0)
        return 0; /* nothing there to be locked; opening it later says what is wrong */
    int rc = check_locked(fd, exists, path, what, err);
    close(fd);
    return rc;
}

static int same_dir(int fd, const char *path, const char *what, PgpErr *err)
{
    struct stat a, b;
    if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return PGP_FAIL(err, PGP_ERR_LOCKED, "%s \"%s\" was replaced while it was being locked",
                        what, path);
    return 0;
}

int restore_lock_dir(RestoreLocks *l, const char *path, const char *what, PgpErr *err)
{
    int *v = realloc(l->fds, (l->n + 1) * sizeof *v);
    if (v == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    l->fds = v;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return PGP_FAIL_PATH(err, errno, path, "cannot open %s \"%s\"", what, path);
    int rc = check_locked(fd, true, path, what, err);
    if (rc == 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            struct stat st;
            RestoreDirId id = {0, 0};
            if (fstat(fd, &st) == 0)
                id = (RestoreDirId){st.st_dev, st.st_ino};
            LockMatch m = {.ids = &id, .n = 1};
            size_t idx;
            rc = locked_error(err, what, path, "is", flock_holder(&m, &idx));
        } else {
            log_warn("cannot lock %s \"%s\" (%s): another restore into it would not be noticed",
                     what, path, strerror(errno));
            close(fd);
            return 0;
        }
    }
    if (rc == 0)
        rc = same_dir(fd, path, what, err);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    l->fds[l->n++] = fd;
    return 0;
}

void restore_locks_release(RestoreLocks *l)
{
    for (size_t i = 0; i < l->n; i++)
        close(l->fds[i]);
    free(l->fds);
    l->fds = NULL;
    l->n = 0;
}

int restore_locks_move(RestoreLocks *dst, RestoreLocks *src, PgpErr *err)
{
    if (src->n == 0)
        return 0;
    int *v = realloc(dst->fds, (dst->n + src->n) * sizeof *v);
    if (v == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    memcpy(v + dst->n, src->fds, src->n * sizeof *v);
    dst->fds = v;
    dst->n += src->n;
    free(src->fds);
    src->fds = NULL;
    src->n = 0;
    return 0;
}

/* ---- running servers ------------------------------------------------------------------------- */

void restore_live_free(RestoreLive *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].pgdata);
        free(l->v[i].path);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int live_add(RestoreLive *l, long pid, const char *pgdata, const char *path, uint32_t oid,
                    int fd, PgpErr *err)
{
    RestoreLiveDir *v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (v == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    l->v = v;
    RestoreLiveDir *d = &v[l->n];
    memset(d, 0, sizeof *d);
    d->pid = pid;
    d->oid = oid;
    d->pgdata = strdup(pgdata);
    d->path = strdup(path);
    if (d->pgdata == NULL || d->path == NULL) {
        free(d->pgdata);
        free(d->path);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    d->n_chain = dir_chain(fd, d->chain, RESTORE_CHAIN_MAX);
    l->n++;
    return 0;
}

/* The first line of dfd/postmaster.pid as a pid, 0 if none. */
static long postmaster_pid(int dfd)
{
    char buf[32] = "";
    int fd = openat(dfd, "postmaster.pid", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

/* The tablespaces of the server whose data directory is open as dfd. */
static int live_tablespaces(RestoreLive *l, const char *proc, const char *pid_name, long pid,
                            const char *pgdata, int dfd, PgpErr *err)
{
    int tfd = openat(dfd, "pg_tblspc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = tfd >= 0 ? fdopendir(tfd) : NULL;
    if (d == NULL) {
        if (tfd >= 0)
            close(tfd);
        return 0;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        char *end = NULL, target[PATH_MAX], *via = NULL, *shown = NULL;
        unsigned long oid = strtoul(de->d_name, &end, 10);
        if (end == de->d_name || *end != '\0' || oid == 0 || oid > UINT32_MAX)
            continue;
        ssize_t n = readlinkat(tfd, de->d_name, target, sizeof target - 1);
        int fd = -1;
        if (n > 0 && target[0] == '/') {
            target[n] = '\0';
            if (asprintf(&via, "%s/%s/root%s", proc, pid_name, target) >= 0) {
                fd = open(via, O_PATH | O_DIRECTORY | O_CLOEXEC);
                free(via);
            }
            shown = strdup(target);
        } else { /* an in-place tablespace (a directory) or a relative link */
            fd = openat(tfd, de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (asprintf(&shown, "%s/pg_tblspc/%s", pgdata, de->d_name) < 0)
                shown = NULL;
        }
        if (fd >= 0)
            rc = shown != NULL ? live_add(l, pid, pgdata, shown, (uint32_t)oid, fd, err)
                               : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        if (fd >= 0)
            close(fd);
        free(shown);
    }
    closedir(d);
    return rc;
}

/* Only a process called postgres is looked into: opening another process's working directory
 * could hang on an unreachable network filesystem, and what it is is none of our business. */
static bool is_postgres(const char *proc, const char *name)
{
    char path[PATH_MAX], comm[32] = "";
    snprintf(path, sizeof path, "%s/%s/comm", proc, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, comm, sizeof comm - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return false;
    comm[strcspn(comm, "\n")] = '\0';
    return strcmp(comm, "postgres") == 0 || strcmp(comm, "postmaster") == 0;
}

static int live_pid(RestoreLive *l, const char *proc, const char *name, PgpErr *err)
{
    char cwd[PATH_MAX], pgdata[PATH_MAX];
    long pid = strtol(name, NULL, 10);
    if (!is_postgres(proc, name))
        return 0;
    snprintf(cwd, sizeof cwd, "%s/%s/cwd", proc, name);
    int dfd = open(cwd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0; /* gone, not ours to inspect, or a kernel thread */
    int rc = 0;
    if (postmaster_pid(dfd) == pid) {
        ssize_t n = readlink(cwd, pgdata, sizeof pgdata - 1);
        if (n <= 0)
            n = snprintf(pgdata, sizeof pgdata, "?");
        pgdata[n] = '\0';
        rc = live_add(l, pid, pgdata, pgdata, 0, dfd, err);
        if (rc == 0)
            rc = live_tablespaces(l, proc, name, pid, pgdata, dfd, err);
    }
    close(dfd);
    return rc;
}

int restore_live_scan(const char *proc, RestoreLive *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(proc);
    if (d == NULL) {
        log_warn("cannot read \"%s\" (%s): running servers using the target are not detected",
                 proc, strerror(errno));
        return 0;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
            strspn(de->d_name, "0123456789") == strlen(de->d_name))
            rc = live_pid(out, proc, de->d_name, err);
    }
    closedir(d);
    if (rc != 0)
        restore_live_free(out);
    return rc;
}

int restore_live_check(const RestoreLive *l, const char *path, const char *what, PgpErr *err)
{
    if (l->n == 0)
        return 0;
    bool exists;
    int fd = open_existing(path, &exists);
    if (fd < 0)
        return 0; /* not a directory: the target checks say so */
    RestoreDirId chain[RESTORE_CHAIN_MAX];
    size_t n = dir_chain(fd, chain, RESTORE_CHAIN_MAX);
    close(fd);
    /* the closest relation first: "is" a tablespace beats "lies inside" its data directory */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < l->n; i++) {
            const RestoreLiveDir *d = &l->v[i];
            const char *rel = NULL;
            if (d->n_chain == 0 || n == 0)
                continue;
            if (pass == 0 && exists && chain[0].dev == d->chain[0].dev &&
                chain[0].ino == d->chain[0].ino)
                rel = "is";
            else if (pass == 1 && in_chain(chain, n, d->chain[0]))
                rel = "lies inside";
            else if (pass == 1 && exists && in_chain(d->chain, d->n_chain, chain[0]))
                rel = "contains";
            if (rel == NULL)
                continue;
            char role[48] = "data directory";
            if (d->oid != 0)
                snprintf(role, sizeof role, "tablespace %u location", (unsigned)d->oid);
            return PGP_FAIL(err, PGP_ERR_LOCKED, "%s \"%s\" is in use by a running server "
                            "(postmaster pid %ld, data directory \"%s\"): it %s that server's %s "
                            "\"%s\"", what, path, d->pid, d->pgdata, rel, role, d->path);
        }
    }
    return 0;
}

/* ---- the tablespace location rule -------------------------------------------------------------- */

int restore_ts_location_rule(const RestoreTsFacts *f, PgpErr *err)
{
    if (f->entry == NULL)
        return 0;
    bool own = f->own_link != NULL && f->real != NULL && strcmp(f->own_link, f->real) == 0;
    if (f->delta && (f->mapped || own))
        return 0;
    if (!f->delta)
        PGP_FAIL(err, PGP_ERR_USAGE, "tablespace %u location \"%s\" is not empty (it contains "
                 "\"%s\")", (unsigned)f->oid, f->path, f->entry);
    else
        PGP_FAIL(err, PGP_ERR_USAGE, "tablespace %u location \"%s\" is not empty (it contains "
                 "\"%s\") and is not the target's own: --delta restores over a tablespace "
                 "location only when the target's pg_tblspc/%u links to it or --tablespace-map "
                 "names it", (unsigned)f->oid, f->path, f->entry, (unsigned)f->oid);
    if (f->mapped || own)
        pgp_err_hint(err, "move the existing directory away first, or restore over it with "
                     "--delta");
    else if (f->own_link != NULL)
        pgp_err_hint(err, "the target's pg_tblspc/%u links to \"%s\": give --tablespace-map "
                     "%u=%s to restore over that one, or another empty directory",
                     (unsigned)f->oid, f->own_link, (unsigned)f->oid, f->own_link);
    else
        pgp_err_hint(err, "it may be another cluster's tablespace: restore this tablespace "
                     "elsewhere with --tablespace-map %u=DIR (a new or empty directory)",
                     (unsigned)f->oid);
    return PGP_ERR_USAGE;
}

/* ---- the backup's own symlinks ------------------------------------------------------------ */

static bool below(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

int restore_check_below_links(const BackupManifest *m, const ManifestPack *files, PgpErr *err)
{
    size_t n = manifest_pack_count(files);
    for (size_t i = 0; i < n; i++) {
        const ManifestPackItem *l = manifest_pack_at(files, i);
        if (manifest_pack_item_type(l) != MANIFEST_SYMLINK)
            continue;
        const char *lpath = manifest_pack_item_path(l);
        for (size_t j = 0; j < n; j++) {
            const ManifestPackItem *e = manifest_pack_at(files, j);
            const char *path = manifest_pack_item_path(e);
            if (manifest_pack_item_tablespace(e) == manifest_pack_item_tablespace(l) &&
                below(path, lpath))
                return PGP_FAIL(err, PGP_ERR_CORRUPT, "manifest entry \"%s\" is below symlink \"%s\"",
                                path, lpath);
        }
    }
    char link[32];
    for (size_t t = 0; t < m->n_tablespaces; t++) {
        snprintf(link, sizeof link, "pg_tblspc/%u", (unsigned)m->tablespaces[t].oid);
        for (size_t j = 0; j < n; j++) {
            const ManifestPackItem *e = manifest_pack_at(files, j);
            const char *path = manifest_pack_item_path(e);
            if (manifest_pack_item_tablespace(e) == 0 &&
                (below(path, link) ||
                 (strcmp(path, link) == 0 && manifest_pack_item_type(e) != MANIFEST_SYMLINK)))
                return PGP_FAIL(err, PGP_ERR_CORRUPT,
                                "manifest entry \"%s\" collides with tablespace link \"%s\"", path,
                                link);
        }
    }
    return 0;
}
