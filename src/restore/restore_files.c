/*
 * restore_files.c - the per-file work of a restore and the worker pool that runs it, the
 * filesystem work on the destination (checks and locks, directories, durable sync, cleanup after a
 * failure) and --delta's per-file check (see restore_files.h for the contracts; the recovery settings
 * text is restore_conf.c's). Owns no policy about which backup, which files go where, or in
 * which order; restore.c decides those.
 *
 * A file is written straight to its final path, created with O_EXCL, and unlinked on any
 * failure: the destination directory is new (or checked empty, or checked for --delta), locked by
 * this restore and not a running cluster, and the file that
 * decides whether PostgreSQL will start (global/pg_control) is written last by restore.c
 * after everything else is durable, so a temp name + rename per file would cost a rename
 * and a directory update per file and protect nothing more.
 */
#include "pgpitr/restore/restore_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/restore/restore_guard.h"
#include "pgpitr/common/workpool.h"
#include "pgpitr/common/fdio.h"

#define CHUNK_MAX (1u << 20)
#define CHUNK_MIN (16u << 10)

typedef struct DestSink {
    int fd;
    const char *path;
    uint64_t written;
    uint64_t limit;                     /* UINT64_MAX: no expected size */
    atomic_uint_fast64_t *progress;
} DestSink;

static int dest_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    DestSink *d = ud;
    if (d->limit != UINT64_MAX && len > d->limit - d->written)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "size mismatch: content is larger than the %llu bytes the manifest says",
                        (unsigned long long)d->limit);
    size_t n = 0;
    int e = fd_write_all(d->fd, buf, len, -1, &n);
    d->written += n;
    if (d->progress != NULL)
        atomic_fetch_add_explicit(d->progress, (uint_fast64_t)n, memory_order_relaxed);
    return e == 0 ? 0 : PGP_FAIL_SYS(err, e, "cannot write");
}

static int object_codec(const char *object, PipeCodec *codec, PgpErr *err)
{
    if (!repo_object_codec(object, codec))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "object \"%s\" has no known compression "
                        "extension", object);
    return 0;
}

/* The object through object_io into d, its content checked against expect (NULL: not
 * hashed). res->sha256_hex is the content's digest when expect was set and it was read. */
static int stream_object(Storage *s, const char *object, uint64_t size_hint, DestSink *d,
                         const char *expect, const CryptoRepoKey *key, ObjectReadResult *res,
                         PgpErr *err)
{
    PipeCodec codec;
    size_t chunk = size_hint > CHUNK_MAX ? CHUNK_MAX : size_hint < CHUNK_MIN ? CHUNK_MIN
                                                                              : (size_t)size_hint;
    memset(res, 0, sizeof *res);
    uint8_t *buf = malloc(chunk);
    int rc = buf != NULL ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = object_codec(object, &codec, err);
    if (rc == 0) {
        /* a content-addressed file (expect set), or PostgreSQL's backup_manifest: bound to
         * its path (object_io.h) */
        ObjectReadOptions opt = {.codec = codec, .expect_sha256 = expect, .buf = buf,
                                 .buf_size = chunk,
                                 .seal = {key, expect != NULL ? OBJECT_AD_CONTENT : object}};
        rc = object_io_read_verify(s, object, &opt, (PipeSink){dest_write, d}, res, err);
        if (rc == PGP_ERR_NOT_FOUND)
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "the object is missing from the repository");
    }
    free(buf);
    return rc;
}

static int dest_finish(DestSink *d, const ManifestEntry *e, bool sync, PgpErr *err)
{
    if (e != NULL) {
        struct timespec ts[2] = {{.tv_sec = e->mtime}, {.tv_sec = e->mtime}};
        if (fchmod(d->fd, (mode_t)(e->mode & 07777)) != 0)
            return PGP_FAIL_SYS(err, errno, "cannot set mode %04o", (unsigned)(e->mode & 07777));
        if (futimens(d->fd, ts) != 0)
            return PGP_FAIL_SYS(err, errno, "cannot set modification time");
    }
    if (sync) {
        int r;
        do
            r = fsync(d->fd);
        while (r != 0 && errno == EINTR);
        if (r != 0)
            return PGP_FAIL_SYS(err, errno, "cannot fsync");
    }
    return 0;
}

/* What the manifest says: the size first, then the checksum (object_io compared it already
 * and reported a mismatch as rc; this says it against the manifest). */
static int verify(const ManifestEntry *e, const DestSink *d, const char *hex, PgpErr *err)
{
    if (d->written != e->size)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "size mismatch: content has %llu bytes, the manifest says %llu",
                        (unsigned long long)d->written, (unsigned long long)e->size);
    if (strcmp(hex, e->sha256) != 0)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "checksum mismatch: content has sha256 %s, the manifest says %s", hex,
                        e->sha256);
    return 0;
}

/* The common body: create dest, stream, verify (when e is set), finish, close. */
static int restore_to(Storage *s, const ManifestEntry *e, const char *object, const char *dest,
                      const RestoreFileOptions *opt, RestoreFileResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    DestSink d = {.fd = -1, .path = dest, .limit = e != NULL ? e->size : UINT64_MAX,
                  .progress = opt->bytes_done};
    ObjectReadResult got = {0};
    int rc = 0;
    if (object == NULL)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "the manifest names no object");
    if (rc == 0) {
        d.fd = open(dest, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (d.fd < 0)
            rc = PGP_FAIL_PATH(err, errno, dest, "cannot create the file");
    }
    if (rc == 0) {
        rc = stream_object(s, object, e != NULL ? e->stored_size : CHUNK_MAX, &d,
                           e != NULL ? e->sha256 : NULL, opt->key, &got, err);
        res->stored_size = got.stored;
    }
    if (rc == PGP_ERR_CORRUPT && got.mismatch)
        pgp_err_clear(err);
    if ((rc == 0 || got.mismatch) && e != NULL)
        rc = verify(e, &d, got.sha256_hex, err);
    if (rc == 0)
        rc = dest_finish(&d, e, opt->sync, err);
    res->size = d.written;
    if (d.fd >= 0) {
        if (close(d.fd) != 0 && rc == 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot close the file");
        if (rc != 0)
            unlink(dest);
    }
    if (rc != 0)
        return pgp_err_context(err, "cannot restore \"%s\" from object \"%s\"", dest,
                               object != NULL ? object : "(none)");
    return 0;
}

int restore_file(Storage *s, const ManifestEntry *e, const char *dest,
                 const RestoreFileOptions *opt, RestoreFileResult *res, PgpErr *err)
{
    static const RestoreFileOptions defaults = {0};
    if (manifest_entry_chunked(e))
        return restore_file_chunks(s, e, dest, opt, res, err);
    return restore_to(s, e, e->object, dest, opt != NULL ? opt : &defaults, res, err);
}

int restore_object_plain(Storage *s, const char *object, const char *dest, bool sync,
                         const CryptoRepoKey *key, uint64_t *size, PgpErr *err)
{
    RestoreFileOptions opt = {.sync = sync, .key = key};
    RestoreFileResult res;
    int rc = restore_to(s, NULL, object, dest, &opt, &res, err);
    if (size != NULL)
        *size = res.size;
    return rc;
}

/* ---- the pool -------------------------------------------------------------------------- */

typedef struct Pool {
    Storage *storage;
    const RestoreJob *jobs;
    const RestorePoolOptions *opt;
    atomic_uint_fast64_t bytes, kept, kept_bytes, in_place;
    atomic_uint_fast64_t chunked, chunks_fetched, chunks_kept;
} Pool;

bool restore_job_dest(const RestoreJob *j, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", j->base, manifest_pack_item_path(j->item));
    return n >= 0 && (size_t)n < size;
}

static int pool_item(void *ud, size_t i, void **local, PgpErr *err)
{
    Pool *p = ud;
    (void)local;
    RestoreFileOptions fopt = {.sync = p->opt->sync, .key = p->opt->key,
                               .bytes_done = &p->bytes};
    RestoreFileResult res = {0};
    bool kept = false;
    char dest[PATH_MAX];
    ManifestUnpacked u;
    if (!restore_job_dest(&p->jobs[i], dest, sizeof dest))
        return PGP_FAIL(err, PGP_ERR_IO, "cannot restore \"%s\" under \"%s\": path too long",
                        manifest_pack_item_path(p->jobs[i].item), p->jobs[i].base);
    manifest_pack_unpack(p->jobs[i].item, &u);
    int rc = p->opt->delta ? restore_file_delta(p->storage, &u.e, dest, &fopt, &res, &kept, err)
                           : restore_file(p->storage, &u.e, dest, &fopt, &res, err);
    if (rc == 0 && kept) {
        atomic_fetch_add(&p->kept, 1);
        atomic_fetch_add(&p->kept_bytes, u.e.size);
    }
    atomic_fetch_add(&p->in_place, res.in_place); /* progress only, failed file or not */
    if (rc == 0 && manifest_entry_chunked(&u.e)) {
        atomic_fetch_add(&p->chunked, 1);
        atomic_fetch_add(&p->chunks_fetched, res.chunks_fetched);
        atomic_fetch_add(&p->chunks_kept, res.chunks_kept);
    }
    return rc;
}

static void pool_progress(void *ud, uint64_t done)
{
    Pool *p = ud;
    if (p->opt->progress != NULL)
        p->opt->progress(p->opt->progress_ud, done, atomic_load(&p->bytes));
}

int restore_pool_run(Storage *s, const RestoreJob *jobs, size_t n, const RestorePoolOptions *opt,
                     RestorePoolResult *res, PgpErr *err)
{
    memset(res, 0, sizeof *res);
    Pool p = {.storage = s, .jobs = jobs, .opt = opt};
    atomic_init(&p.bytes, 0);
    atomic_init(&p.kept, 0);
    atomic_init(&p.kept_bytes, 0);
    atomic_init(&p.in_place, 0);
    atomic_init(&p.chunked, 0);
    atomic_init(&p.chunks_fetched, 0);
    atomic_init(&p.chunks_kept, 0);
    WorkpoolOptions wopt = {.workers = opt->workers, .item = pool_item, .ud = &p,
                            .progress = pool_progress, .interval_ms = opt->interval_ms,
                            .cancel = opt->cancel, .what = "restore"};
    int rc = workpool_run(n, &wopt, &res->files, err);
    res->kept = atomic_load(&p.kept);
    res->kept_bytes = atomic_load(&p.kept_bytes);
    res->bytes = atomic_load(&p.bytes) - atomic_load(&p.in_place); /* were progress only */
    res->chunked = atomic_load(&p.chunked);
    res->chunks_fetched = atomic_load(&p.chunks_fetched);
    res->chunks_kept = atomic_load(&p.chunks_kept);
    if (rc == 0 && res->files < n)
        rc = PGP_FAIL(err, PGP_ERR_IO, "restore interrupted after %llu of %zu files",
                      (unsigned long long)res->files, n);
    return rc;
}

/* ---- the destination ------------------------------------------------------------------------ */

char *restore_path_join(const char *a, const char *b)
{
    char *out = NULL;
    return asprintf(&out, "%s/%s", a, b) < 0 ? NULL : out;
}

static char *strip_slashes(char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    return p;
}

int restore_dest_init(RestoreDest *t, const char *pgdata, const BackupManifest *m,
                        PgpErr *err)
{
    memset(t, 0, sizeof *t);
    if (pgdata[0] == '/') {
        t->pgdata = strdup(pgdata);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (cwd == NULL)
            return PGP_FAIL_SYS(err, errno, "cannot get the current directory");
        t->pgdata = restore_path_join(cwd, pgdata);
        free(cwd);
    }
    t->ts = calloc(m->n_tablespaces + 1, sizeof *t->ts);
    t->roots = calloc(m->n_tablespaces + 1, sizeof *t->roots);
    if (t->pgdata == NULL || t->ts == NULL || t->roots == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    strip_slashes(t->pgdata);
    for (; t->n_ts < m->n_tablespaces; t->n_ts++) {
        const ManifestTablespace *mt = &m->tablespaces[t->n_ts];
        if (mt->location == NULL || mt->location[0] != '/')
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "tablespace %u has a relative location",
                            (unsigned)mt->oid);
        t->ts[t->n_ts].oid = mt->oid;
        if ((t->ts[t->n_ts].path = strdup(mt->location)) == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        strip_slashes(t->ts[t->n_ts].path);
    }
    return 0;
}

void restore_dest_free(RestoreDest *t)
{
    free(t->pgdata);
    for (size_t i = 0; i < t->n_ts; i++)
        free(t->ts[i].path);
    free(t->ts);
    for (size_t i = 0; i < t->n_roots; i++) {
        free(t->roots[i].path);
        free(t->roots[i].top);
    }
    free(t->roots);
    for (size_t i = 0; i < t->n_sync; i++)
        free(t->sync[i]);
    free(t->sync);
    restore_locks_release(&t->locks);
    memset(t, 0, sizeof *t);
}

/* A live postmaster.pid: its first line is the pid of the server. */
static int check_postmaster(const char *pgdata, PgpErr *err)
{
    char *path = restore_path_join(pgdata, "postmaster.pid"), buf[64] = "";
    if (path == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    free(path);
    long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
    /* Beyond pid_t, the conversion would wrap (to -1: kill() would probe every process). */
    if (pid <= 0 || pid > INT_MAX || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
        return 0;
    PGP_FAIL(err, PGP_ERR_LOCKED, "a server is running in \"%s\" (postmaster.pid names live "
             "process %ld)", pgdata, pid);
    pgp_err_hint(err, "restore never writes into a cluster in use: stop it (pg_ctl -D \"%s\" "
                 "stop) and move the directory away, or restore elsewhere", pgdata);
    return PGP_ERR_LOCKED;
}

/* Whether path is missing (fine) or a directory (anything else is PGP_ERR_USAGE) and, in
 * *entry (malloc'd), the name of one entry in it: NULL when it is missing or empty. */
static int dir_entry(const char *path, const char *what, char **entry, PgpErr *err)
{
    struct stat st;
    *entry = NULL;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return PGP_FAIL_PATH(err, errno, path, "cannot check %s \"%s\"", what, path);
    }
    if (!S_ISDIR(st.st_mode))
        return PGP_FAIL(err, PGP_ERR_USAGE, "%s \"%s\" exists and is not a directory", what, path);
    DIR *d = opendir(path);
    if (d == NULL)
        return PGP_FAIL_PATH(err, errno, path, "cannot open %s \"%s\"", what, path);
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((*entry = strdup(de->d_name)) == NULL)
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        break;
    }
    closedir(d);
    return rc;
}

/* --delta removes whatever the backup does not have: a directory with none of these is more
 * likely a mistyped --pgdata than a data directory (an interrupted restore still has global). */
static bool looks_like_pgdata(const char *pgdata)
{
    static const char *const marks[] = {"PG_VERSION", "global", "backup_manifest"};
    bool found = false;
    for (size_t i = 0; i < sizeof marks / sizeof marks[0] && !found; i++) {
        char *p = restore_path_join(pgdata, marks[i]);
        struct stat st;
        found = p != NULL && lstat(p, &st) == 0;
        free(p);
    }
    return found;
}

/* Under the lock: a new or empty data directory, or with allow_existing one that looks like
 * a data directory; never one a server runs in. */
static int check_pgdata(const RestoreDest *t, PgpErr *err)
{
    char *entry = NULL;
    int rc = check_postmaster(t->pgdata, err);
    if (rc == 0)
        rc = dir_entry(t->pgdata, "target directory", &entry, err);
    if (rc == 0 && entry != NULL) {
        bool pg = looks_like_pgdata(t->pgdata);
        if (!t->allow_existing) {
            rc = PGP_FAIL(err, PGP_ERR_USAGE, "target directory \"%s\" is not empty (it contains "
                          "\"%s\")", t->pgdata, entry);
            pgp_err_hint(err, "restore writes only into a new or empty directory: move the "
                         "existing one away first%s", pg ? ", or restore over it with --delta "
                         "(and --keep-old DIR, to keep a copy of it to go back to)" : "");
        } else if (!pg) {
            rc = PGP_FAIL(err, PGP_ERR_USAGE, "target directory \"%s\" does not look like a "
                          "PostgreSQL data directory (no PG_VERSION, global or backup_manifest; "
                          "it contains \"%s\"): --delta would remove everything in it",
                          t->pgdata, entry);
            pgp_err_hint(err, "check --pgdata, or restore into a new or empty directory");
        }
    }
    free(entry);
    return rc;
}

/* Under the lock: restore_ts_location_rule with the facts of ts. */
static int check_tablespace(const RestoreDest *t, const RestoreTablespaceDest *ts,
                            PgpErr *err)
{
    char what[64], *entry = NULL, *link = NULL, *own = NULL, *real = NULL;
    snprintf(what, sizeof what, "tablespace %u location", (unsigned)ts->oid);
    int rc = dir_entry(ts->path, what, &entry, err);
    if (rc == 0 && entry != NULL) {
        if (asprintf(&link, "%s/pg_tblspc/%u", t->pgdata, (unsigned)ts->oid) < 0) {
            link = NULL;
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        }
        own = link != NULL ? realpath(link, NULL) : NULL;
        real = realpath(ts->path, NULL);
        RestoreTsFacts f = {.oid = ts->oid, .path = ts->path, .delta = t->allow_existing,
                            .mapped = ts->mapped, .entry = entry, .real = real,
                            .own_link = own};
        if (rc == 0)
            rc = restore_ts_location_rule(&f, err);
    }
    free(entry);
    free(link);
    free(own);
    free(real);
    return rc;
}

bool restore_paths_overlap(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b), n = na < nb ? na : nb;
    if (strncmp(a, b, n) != 0)
        return false;
    return na == nb || (na < nb ? b[na] == '/' || a[na - 1] == '/' : a[nb] == '/' || b[nb - 1] == '/');
}

/* No root may be, contain or lie inside a directory a running server uses. */
static int check_live(const RestoreDest *t, PgpErr *err)
{
    RestoreLive live;
    int rc = restore_live_scan("/proc", &live, err);
    if (rc == 0 && (rc = restore_live_check(&live, t->pgdata, "target directory", err)) != 0)
        pgp_err_hint(err, "restore never writes where a running server keeps its data: stop "
                     "that server first, or restore into another directory");
    for (size_t i = 0; i < t->n_ts && rc == 0; i++) {
        char what[64];
        snprintf(what, sizeof what, "tablespace %u location", (unsigned)t->ts[i].oid);
        if ((rc = restore_live_check(&live, t->ts[i].path, what, err)) != 0)
            pgp_err_hint(err, "restore never writes where a running server keeps its data: "
                         "restore this tablespace elsewhere with --tablespace-map %u=DIR",
                         (unsigned)t->ts[i].oid);
    }
    restore_live_free(&live);
    return rc;
}

int restore_dest_check(const RestoreDest *t, PgpErr *err)
{
    int rc = check_postmaster(t->pgdata, err);
    for (size_t i = 0; i < t->n_ts && rc == 0; i++) {
        char what[64];
        snprintf(what, sizeof what, "tablespace %u location", (unsigned)t->ts[i].oid);
        if (restore_paths_overlap(t->ts[i].path, t->pgdata))
            rc = PGP_FAIL(err, PGP_ERR_USAGE, "%s \"%s\" overlaps the target directory \"%s\"", what,
                          t->ts[i].path, t->pgdata);
        for (size_t j = 0; j < i && rc == 0; j++) {
            if (restore_paths_overlap(t->ts[i].path, t->ts[j].path))
                rc = PGP_FAIL(err, PGP_ERR_USAGE, "%s \"%s\" overlaps tablespace %u's \"%s\"", what,
                              t->ts[i].path, (unsigned)t->ts[j].oid, t->ts[j].path);
        }
    }
    if (rc == 0)
        rc = check_live(t, err);
    return rc;
}

static int remember(RestoreDest *t, const char *dir, PgpErr *err)
{
    if (GROW(t->sync, t->n_sync, t->cap_sync, 64, NULL, err) != 0)
        return PGP_ERR_NOMEM;
    if ((t->sync[t->n_sync] = strdup(dir)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    t->n_sync++;
    return 0;
}

/* mkdir -p; *top (if top) gets the outermost directory created, NULL if none. path is
 * modified temporarily. */
static int mkdir_rec(RestoreDest *t, char *path, char **top, PgpErr *err)
{
    for (int attempt = 0;; attempt++) {
        if (mkdir(path, 0700) == 0) {
            if (top != NULL && *top == NULL && (*top = strdup(path)) == NULL)
                return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
            return remember(t, path, err);
        }
        int e = errno;
        struct stat st;
        if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        char *slash = strrchr(path, '/');
        if (e != ENOENT || attempt > 0 || slash == NULL || slash == path)
            return PGP_FAIL_PATH(err, e, path, "cannot create directory \"%s\"", path);
        *slash = '\0';
        int rc = mkdir_rec(t, path, top, err);
        *slash = '/';
        if (rc != 0)
            return rc;
    }
}

int restore_dest_mkdir(RestoreDest *t, const char *path, PgpErr *err)
{
    char *p = strdup(path);
    int rc = p != NULL ? mkdir_rec(t, p, NULL, err) : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    free(p);
    return rc;
}

int restore_dest_mkdir_parent(RestoreDest *t, const char *file, PgpErr *err)
{
    char *p = strdup(file);
    if (p == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    char *slash = strrchr(p, '/');
    int rc = 0;
    if (slash != NULL && slash != p) {
        *slash = '\0';
        rc = mkdir_rec(t, p, NULL, err);
    }
    free(p);
    return rc;
}

int restore_jobs_mkdir_parents(RestoreDest *t, const RestoreJob *jobs, size_t n, PgpErr *err)
{
    char d[PATH_MAX], last[PATH_MAX] = "";
    size_t last_len = 0;
    for (size_t i = 0; i < n; i++) {
        if (!restore_job_dest(&jobs[i], d, sizeof d))
            return PGP_FAIL(err, PGP_ERR_IO, "cannot restore \"%s\" under \"%s\": path too long",
                            manifest_pack_item_path(jobs[i].item), jobs[i].base);
        size_t len = (size_t)(strrchr(d, '/') - d);
        if (last_len > 0 && len == last_len && strncmp(last, d, len) == 0)
            continue;   /* the same directory as the previous file's */
        int rc = restore_dest_mkdir_parent(t, d, err);
        if (rc != 0)
            return rc;
        memcpy(last, d, len + 1);
        last_len = len;
    }
    return 0;
}

/* rmdir of path and of its parents up to top, the outermost directory this restore created
 * for it: nothing else is removed, and a directory someone else has put something in stays. */
static void rmdir_chain(const char *path, const char *top)
{
    char *p = top != NULL ? strdup(path) : NULL;
    while (p != NULL) {
        if (rmdir(p) != 0 && errno != ENOENT) {
            if (errno != ENOTEMPTY && errno != EEXIST)
                log_warn("cannot remove directory \"%s\": %s", p, strerror(errno));
            break;
        }
        char *slash = strrchr(p, '/');
        if (strcmp(p, top) == 0 || slash == NULL || slash == p)
            break;
        *slash = '\0';
    }
    free(p);
}

/* After the checks: an existing root loses group/other access (PostgreSQL refuses it); the
 * directory whose entries changed is planned for fsync. */
static int root_ready(RestoreDest *t, const char *path, const char *top, PgpErr *err)
{
    if (top != NULL) { /* created: the parent of the outermost new directory changed */
        char *parent = strdup(top), *slash = parent != NULL ? strrchr(parent, '/') : NULL;
        if (slash != NULL)
            slash[slash == parent ? 1 : 0] = '\0';
        int rc = parent == NULL ? PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory")
                 : slash != NULL ? remember(t, parent, err) : 0;
        free(parent);
        return rc;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return PGP_FAIL_PATH(err, errno, path, "cannot stat \"%s\"", path);
    if ((st.st_mode & 0027) != 0 && chmod(path, 0700) != 0)
        return PGP_FAIL_PATH(err, errno, path, "cannot set the mode of \"%s\" to 0700", path);
    return remember(t, path, err);
}

/* The data directory (ts NULL) or a tablespace location: made if missing, locked, then checked
 * under the lock (so no other restore can change it between check and use), then recorded.
 * What this call created is removed again on failure, but only once it held the lock: a
 * directory another restore locked first is that restore's. */
static int acquire_root(RestoreDest *t, const char *path, const RestoreTablespaceDest *ts,
                        PgpErr *err)
{
    char what[64] = "target directory", *p = strdup(path), *top = NULL;
    if (ts != NULL)
        snprintf(what, sizeof what, "tablespace %u location", (unsigned)ts->oid);
    int rc = p != NULL ? restore_lock_probe(path, what, err)
                       : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = mkdir_rec(t, p, &top, err);
    free(p);
    bool locked = rc == 0 && (rc = restore_lock_dir(&t->locks, path, what, err)) == 0;
    if (rc == 0)
        rc = ts != NULL ? check_tablespace(t, ts, err) : check_pgdata(t, err);
    if (rc == 0)
        rc = root_ready(t, path, top, err);
    RestoreRoot *r = &t->roots[t->n_roots];
    if (rc == 0 && (r->path = strdup(path)) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        if (locked)
            rmdir_chain(path, top);
        free(top);
        return rc;
    }
    r->top = top;
    t->n_roots++;
    return 0;
}

int restore_dest_acquire(RestoreDest *t, PgpErr *err)
{
    int rc = acquire_root(t, t->pgdata, NULL, err);
    for (size_t i = 0; i < t->n_ts && rc == 0; i++)
        rc = acquire_root(t, t->ts[i].path, &t->ts[i], err);
    if (rc == 0)
        return 0;
    for (size_t i = t->n_roots; i-- > 0;) { /* nothing was written yet: only our own mkdirs */
        rmdir_chain(t->roots[i].path, t->roots[i].top);
        free(t->roots[i].path);
        free(t->roots[i].top);
    }
    t->n_roots = 0;
    restore_locks_release(&t->locks);
    return rc;
}

int restore_dest_links(RestoreDest *t, PgpErr *err)
{
    if (t->n_ts == 0)
        return 0;
    char *dir = restore_path_join(t->pgdata, "pg_tblspc");
    int rc = dir != NULL ? restore_dest_mkdir(t, dir, err)
                         : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < t->n_ts && rc == 0; i++) {
        char *link = NULL;
        if (asprintf(&link, "%s/%u", dir, (unsigned)t->ts[i].oid) < 0) {
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
            break;
        }
        if (symlink(t->ts[i].path, link) != 0)
            rc = PGP_FAIL_PATH(err, errno, link, "cannot create tablespace link \"%s\"", link);
        free(link);
    }
    free(dir);
    return rc;
}

int restore_fsync_dir(const char *path, PgpErr *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return PGP_FAIL_PATH(err, errno, path, "cannot open directory \"%s\"", path);
    int r;
    do
        r = fsync(fd);
    while (r != 0 && errno == EINTR);
    int e = errno;
    close(fd);
    return r == 0 ? 0 : PGP_FAIL_SYS(err, e, "cannot fsync directory \"%s\"", path);
}

int restore_dest_note_sync(RestoreDest *t, const char *dir, PgpErr *err)
{
    return remember(t, dir, err);
}

int restore_dest_sync(RestoreDest *t, PgpErr *err)
{
    int rc = 0;
    for (size_t i = 0; i < t->n_sync && rc == 0; i++)
        rc = restore_fsync_dir(t->sync[i], err);
    return rc;
}

static int rm_inside(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag;
    if (ftw->level > 0 && remove(p) != 0 && errno != ENOENT)
        log_warn("cannot remove \"%s\": %s", p, strerror(errno));
    return 0;
}

void restore_dest_cleanup(RestoreDest *t)
{
    for (size_t i = t->n_roots; i-- > 0;) {
        const RestoreRoot *r = &t->roots[i];
        nftw(r->path, rm_inside, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        rmdir_chain(r->path, r->top);
    }
}

int restore_write_small(const char *dir, const char *name, const char *text, bool append,
                        PgpErr *err)
{
    char *path = restore_path_join(dir, name);
    if (path == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    /* read access for append: the last byte decides whether a newline goes first */
    int fd = open(path, O_CREAT | O_CLOEXEC | (append ? O_RDWR | O_APPEND : O_WRONLY | O_TRUNC),
                  0600);
    int e = fd < 0 ? errno : 0;
    struct stat st;
    char last = '\n';
    if (e == 0 && append && fstat(fd, &st) != 0)
        e = errno;
    if (e == 0 && append && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
        e = errno != 0 ? errno : EIO;
    if (e == 0 && last != '\n')
        e = fd_write_all(fd, "\n", 1, -1, NULL);
    if (e == 0)
        e = fd_write_all(fd, text, strlen(text), -1, NULL);
    while (e == 0 && fsync(fd) != 0)
        e = errno == EINTR ? 0 : errno;
    if (fd >= 0 && close(fd) != 0 && e == 0)
        e = errno;
    int rc = e == 0 ? 0 : PGP_FAIL_PATH(err, e, path, "cannot write \"%s\"", path);
    free(path);
    return rc;
}
