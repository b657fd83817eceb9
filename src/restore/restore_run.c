/*
 * restore_run.c - restore_run() (restore.h): check the request, plan (restore_plan.c: which
 * backup, is the target reachable), check the target directory, then restore every directory,
 * file and symlink of the backup, configure recovery, and write global/pg_control last.
 * `pgpitr restore` (restore.c) and `pgpitr drill` both come through here.
 *
 * Owns the order of the work; the per-file work and the worker pool are restore_files.c's,
 * --delta's clearing and tablespace_map are restore_delta.c's. Nothing is written before the
 * plan has proven the target reachable and the target directory has been checked. Never
 * writes into a running cluster, and on a handled failure removes everything it created
 * (except with --delta: see restore.h). A restore killed midway leaves a directory without
 * global/pg_control, which PostgreSQL refuses to start.
 *
 * Durability: every restored file is fsynced by the worker that wrote it (in parallel), and
 * every directory the restore created or filled is fsynced before pg_control is written.
 * syncfs() was not used: it flushes the whole filesystem (possibly a busy production
 * cluster's too) and reports write-back errors of other files, or none on older kernels.
 */
#include "pgpitr/restore/restore.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/common/log.h"
#include "pgpitr/common/progress.h"
#include "pgpitr/repo/recovery_lease.h"
#include "pgpitr/restore/restore_conf.h"
#include "pgpitr/restore/restore_delta.h"
#include "pgpitr/restore/restore_files.h"
#include "pgpitr/restore/restore_keep.h"
#include "pgpitr/restore/restore_plan.h"
#include "pgpitr/restore/restore_settings.h"

#define PG_CONTROL "global/pg_control"
#define TABLESPACE_MAP "tablespace_map"

typedef struct PlannedLink {
    char *path;                         /* full path of the link */
    const char *target;
} PlannedLink;

typedef struct PlannedDir {
    char *path;
    uint32_t mode;
} PlannedDir;

typedef struct Restore {
    Storage *storage;
    const CryptoRepoKey *key;             /* an encrypted repository's */
    const RestoreRequest *req;
    const RestorePlan *plan;
    const BackupManifest *m;              /* the header */
    const ManifestPack *files;            /* the entries */
    RestoreDest dest;                     /* pgdata, tablespace locations, created dirs */
    PlannedDir *dirs;
    size_t n_dirs;
    PlannedLink *links;
    size_t n_links;
    RestoreJob *jobs;
    size_t n_jobs;
    uint64_t total_bytes;
    const ManifestPackItem *pg_control;
    char *pg_control_path;
    const ManifestPackItem *ts_map;         /* tablespace_map, when the backup has one */
    RestoreTsRelocation *reloc;             /* --tablespace-map, resolved to oids */
    size_t n_reloc;
    RestoreExpected *expect;                /* --delta: every path the restore writes */
    size_t n_expect;
    char **file_paths;                      /* --delta: the files' paths in expect (owned) */
    size_t n_file_paths;
    char *conf_text;                        /* appended to postgresql.auto.conf */
    bool backup_on_standby;                 /* the backup holds standby.signal */
    RestoreKeep *keep;                      /* --keep-old */
    bool tty;                               /* status lines (progress_wanted) */
    Progress prog;                          /* the phase under way: delta, files, finish */
    double started;                         /* progress_now() */
    uint64_t files_done, bytes_done, kept, kept_bytes, removed;
    uint64_t chunked, chunks_fetched, chunks_kept;  /* files stored as chunks, their chunks */
} Restore;

static volatile sig_atomic_t restore_cancel;

static void on_signal(int sig)
{
    restore_cancel = sig;
}

/* ---- planning: where every entry goes, checked before anything is written -------------- */

static int tablespace_index(const BackupManifest *m, uint32_t oid, size_t *idx)
{
    for (size_t i = 0; i < m->n_tablespaces; i++) {
        if (m->tablespaces[i].oid == oid) {
            *idx = i;
            return 0;
        }
    }
    return -1;
}

static void hint_tablespaces(const BackupManifest *m, PgpErr *err)
{
    char list[PGP_ERR_HINT_MAX - 96] = "";
    size_t used = 0;
    for (size_t i = 0; i < m->n_tablespaces && used + 8 < sizeof list; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%u (%s)", i ? ", " : "",
                         (unsigned)m->tablespaces[i].oid, m->tablespaces[i].location);
        used = n > 0 && (size_t)n < sizeof list - used ? used + (size_t)n : sizeof list;
    }
    if (m->n_tablespaces == 0)
        pgp_err_hint(err, "backup \"%s\" has no tablespaces besides the data directory", m->label);
    else
        pgp_err_hint(err, "backups know tablespaces by oid: %s", list);
}

static char *absolute(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char *cwd = getcwd(NULL, 0), *out = cwd != NULL ? restore_path_join(cwd, path) : NULL;
    free(cwd);
    return out;
}

/* --tablespace-map OID=DIR: new locations in the target, remembered for tablespace_map. */
static int apply_ts_map(Restore *r, PgpErr *err)
{
    const RestoreRequest *req = r->req;
    if (req->n_ts_map == 0)
        return 0;
    if ((r->reloc = calloc(req->n_ts_map, sizeof *r->reloc)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < req->n_ts_map; i++) {
        const RestoreTablespaceMap *t = &req->ts_map[i];
        size_t idx;
        unsigned long oid = restore_all_digits(t->name, 10) ? strtoul(t->name, NULL, 10) : 0;
        if (oid == 0 || oid > UINT32_MAX || tablespace_index(r->m, (uint32_t)oid, &idx) != 0) {
            PGP_FAIL(err, PGP_ERR_USAGE, "--tablespace-map \"%s\": backup \"%s\" has no "
                     "tablespace with %s \"%s\"", t->name, r->m->label, oid ? "oid" : "name",
                     t->name);
            hint_tablespaces(r->m, err);
            return PGP_ERR_USAGE;
        }
        for (size_t j = 0; j < r->n_reloc; j++)
            if (r->reloc[j].oid == oid)
                return PGP_FAIL(err, PGP_ERR_USAGE, "tablespace %lu is mapped twice", oid);
        char *dir = absolute(t->dir);
        if (dir == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
            dir[--n] = '\0';
        free(r->dest.ts[idx].path);
        r->dest.ts[idx].path = dir;
        r->dest.ts[idx].mapped = true;
        r->reloc[r->n_reloc++] = (RestoreTsRelocation){.oid = (uint32_t)oid, .path = dir};
    }
    return 0;
}

/* "pg_tblspc/<oid>" of a listed tablespace: restore makes that link itself. */
static bool is_tablespace_link(const BackupManifest *m, const ManifestEntry *e)
{
    size_t idx;
    char *end = NULL;
    if (e->tablespace != 0 || strncmp(e->path, "pg_tblspc/", 10) != 0)
        return false;
    unsigned long oid = strtoul(e->path + 10, &end, 10);
    return end != e->path + 10 && *end == '\0' && oid <= UINT32_MAX &&
           tablespace_index(m, (uint32_t)oid, &idx) == 0;
}

static int job_cmp(const void *a, const void *b)
{
    uint64_t x = manifest_pack_item_size(((const RestoreJob *)a)->item),
             y = manifest_pack_item_size(((const RestoreJob *)b)->item);
    return x < y ? 1 : x > y ? -1 : 0; /* biggest first: no long file starts last */
}

static void expect(Restore *r, const char *path, ManifestEntryType type)
{
    if (r->expect != NULL)
        r->expect[r->n_expect++] = (RestoreExpected){.path = path, .type = type};
}

/* it unpacked into e: every string e points to lives in the pack (until restore_plan_free),
 * but for e->object, which the pool unpacks again when it writes the file. */
static int plan_entry(Restore *r, const ManifestPackItem *it, const ManifestEntry *e,
                      PgpErr *err)
{
    const char *base = r->dest.pgdata;
    size_t idx;
    if (e->tablespace != 0) {
        if (tablespace_index(r->m, e->tablespace, &idx) != 0)
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "manifest entry \"%s\" names unknown tablespace %u",
                            e->path, (unsigned)e->tablespace);
        base = r->dest.ts[idx].path;
    }
    if (e->type == MANIFEST_SYMLINK && is_tablespace_link(r->m, e))
        return 0;
    if (restore_signal_entry(e, &r->backup_on_standby))
        return 0;   /* restore writes the signal file it means (write_recovery) */
    bool top_file = e->type == MANIFEST_FILE && e->tablespace == 0;
    bool is_control = top_file && strcmp(e->path, PG_CONTROL) == 0;
    if (top_file && strcmp(e->path, TABLESPACE_MAP) == 0)
        r->ts_map = it;
    /* A file's destination path is joined when it is written (RestoreJob), unless --delta
     * needs it now, in the list of what the restore writes. */
    if (e->type == MANIFEST_FILE && !is_control && r->expect == NULL) {
        r->jobs[r->n_jobs++] = (RestoreJob){.item = it, .base = base};
        r->total_bytes += e->size;
        return 0;
    }
    char *path = restore_path_join(base, e->path);
    if (path == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    expect(r, path, e->type);
    if (is_control) {
        r->pg_control = it;
        r->pg_control_path = path;
        return 0;
    }
    if (e->type == MANIFEST_FILE) {
        r->file_paths[r->n_file_paths++] = path;
        r->jobs[r->n_jobs++] = (RestoreJob){.item = it, .base = base};
        r->total_bytes += e->size;
    } else if (e->type == MANIFEST_DIR) {
        r->dirs[r->n_dirs++] = (PlannedDir){.path = path, .mode = e->mode};
    } else {
        r->links[r->n_links++] = (PlannedLink){.path = path, .target = e->link_target};
    }
    return 0;
}

static int plan_entries(Restore *r, PgpErr *err)
{
    const BackupManifest *m = r->m;
    size_t n = manifest_pack_count(r->files);
    int rc = restore_check_below_links(m, r->files, err);
    if (rc != 0)
        return rc;
    /* Arrays of the exact sizes: three of every entry's size cost 48 bytes a file. */
    size_t n_files = 1, n_dirs = 1;     /* each one more than needed: never calloc(0) */
    for (size_t i = 0; i < n; i++) {
        ManifestEntryType t = manifest_pack_item_type(manifest_pack_at(r->files, i));
        n_files += t == MANIFEST_FILE;
        n_dirs += t == MANIFEST_DIR;
    }
    size_t n_links = n - (n_files - 1) - (n_dirs - 1) + 1;
    r->jobs = calloc(n_files, sizeof *r->jobs);
    r->dirs = calloc(n_dirs, sizeof *r->dirs);
    r->links = calloc(n_links, sizeof *r->links);
    if (r->req->delta) {
        r->expect = calloc(n + 1, sizeof *r->expect);
        r->file_paths = calloc(n_files, sizeof *r->file_paths);
    }
    if (r->jobs == NULL || r->dirs == NULL || r->links == NULL ||
        (r->req->delta && (r->expect == NULL || r->file_paths == NULL)))
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const ManifestPackItem *it = manifest_pack_at(r->files, i);
        ManifestUnpacked u;
        manifest_pack_unpack(it, &u);
        rc = plan_entry(r, it, &u.e, err);
    }
    if (rc == 0 && r->pg_control == NULL)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "backup \"%s\" has no \"%s\"", m->label, PG_CONTROL);
    if (rc == 0)
        qsort(r->jobs, r->n_jobs, sizeof *r->jobs, job_cmp);
    if (rc == 0)
        restore_expected_sort(r->expect, r->n_expect);
    return rc;
}

static void restore_free(Restore *r)
{
    for (size_t i = 0; i < r->n_file_paths; i++)
        free(r->file_paths[i]);
    free(r->file_paths);
    for (size_t i = 0; i < r->n_dirs; i++)
        free(r->dirs[i].path);
    for (size_t i = 0; i < r->n_links; i++)
        free(r->links[i].path);
    free(r->jobs);
    free(r->dirs);
    free(r->links);
    free(r->pg_control_path);
    free(r->expect);
    free(r->reloc);
    free(r->conf_text);
    restore_keep_free(r->keep);
    restore_dest_free(&r->dest);
}

/* ---- progress ---------------------------------------------------------------------------- */

/* The pool's count, on this thread, every interval_ms: --delta counts kept files as done. */
static void progress(void *ud, uint64_t files, uint64_t bytes)
{
    Restore *r = ud;
    progress_set(&r->prog, bytes, files);
    progress_tick(&r->prog);
}

static bool want_tty(const RestoreRequest *req)
{
    return progress_wanted(req->progress, req->quiet && !req->tty_progress);
}

/* ---- execution ----------------------------------------------------------------------------- */

static int interrupted(PgpErr *err)
{
    if (restore_cancel == 0)
        return 0;
    return PGP_FAIL(err, PGP_ERR_IO, "restore interrupted by signal %d", (int)restore_cancel);
}

static int make_dirs_and_links(Restore *r, bool links, PgpErr *err)
{
    int rc = 0;
    if (!links) {
        for (size_t i = 0; i < r->n_dirs && rc == 0; i++)
            rc = restore_dest_mkdir(&r->dest, r->dirs[i].path, err);
        /* Parents of files the backup did not list as directories (never for BASE_BACKUP). */
        return rc == 0 ? restore_jobs_mkdir_parents(&r->dest, r->jobs, r->n_jobs, err) : rc;
    }
    for (size_t i = 0; i < r->n_links && rc == 0; i++) {
        if (symlink(r->links[i].target, r->links[i].path) != 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot create symlink \"%s\"", r->links[i].path);
    }
    /* Modes last: a directory restored read-only would refuse its own files. */
    for (size_t i = 0; i < r->n_dirs && rc == 0; i++) {
        if (chmod(r->dirs[i].path, (mode_t)(r->dirs[i].mode & 07777)) != 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot set the mode of \"%s\"", r->dirs[i].path);
    }
    return rc;
}

/* --delta, before anything else changes: pg_control goes first (durably), so a delta restore
 * that stops half way leaves a directory PostgreSQL refuses to start; then everything the
 * backup does not have. Only from a real global directory: through a symlink the unlink would
 * remove another cluster's pg_control (the cleaner removes the link itself, and the global
 * directory made in its place has no pg_control). */
static int delta_prepare(Restore *r, PgpErr *err)
{
    char *dir = strdup(r->pg_control_path);
    if (dir == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    *strrchr(dir, '/') = '\0';
    struct stat st;
    int rc = 0;
    if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (unlink(r->pg_control_path) != 0 && errno != ENOENT)
            rc = PGP_FAIL_SYS(err, errno, "cannot remove \"%s\"", r->pg_control_path);
        if (rc == 0)
            rc = restore_fsync_dir(dir, err);
    }
    free(dir);
    if (rc == 0)
        rc = restore_delta_clean(r->dest.pgdata, r->expect, r->n_expect, false, &r->removed, err);
    for (size_t i = 0; i < r->dest.n_ts && rc == 0; i++)
        rc = restore_delta_clean(r->dest.ts[i].path, r->expect, r->n_expect, true, &r->removed,
                                 err);
    return rc;
}

/* --delta: existing directories whose entries may have changed are synced like new ones. */
static int delta_note_dirs(Restore *r, PgpErr *err)
{
    int rc = restore_dest_note_sync(&r->dest, r->dest.pgdata, err);
    for (size_t i = 0; i < r->dest.n_ts && rc == 0; i++)
        rc = restore_dest_note_sync(&r->dest, r->dest.ts[i].path, err);
    for (size_t i = 0; i < r->n_dirs && rc == 0; i++)
        rc = restore_dest_note_sync(&r->dest, r->dirs[i].path, err);
    return rc;
}

static int run_pool(Restore *r, PgpErr *err)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int jobs = r->req->jobs > 0 ? r->req->jobs : cpus > 0 ? (int)cpus : 1;
    RestorePoolOptions opt = {.workers = jobs, .sync = true, .progress = progress,
                              .progress_ud = r, .interval_ms = 200, .cancel = &restore_cancel,
                              .delta = r->req->delta, .key = r->key};
    RestorePoolResult res;
    progress_begin(&r->prog, r->tty, "restore", "files", "files", r->total_bytes, r->n_jobs);
    progress_tick(&r->prog);
    int rc = restore_pool_run(r->storage, r->jobs, r->n_jobs, &opt, &res, err);
    if (rc == 0) {
        progress_set(&r->prog, res.bytes + res.kept_bytes, res.files);   /* kept: read, hashed */
        if (r->req->delta)
            progress_note(&r->prog, "%llu kept (size and SHA-256 matched), chunks %llu fetched "
                          "of %llu", (unsigned long long)res.kept,
                          (unsigned long long)res.chunks_fetched,
                          (unsigned long long)(res.chunks_fetched + res.chunks_kept));
        else if (res.chunked > 0)
            progress_note(&r->prog, "chunks %llu fetched", (unsigned long long)res.chunks_fetched);
        progress_end(&r->prog);
    }
    r->kept = res.kept;
    r->kept_bytes = res.kept_bytes;
    r->chunked = res.chunked;
    r->chunks_fetched = res.chunks_fetched;
    r->chunks_kept = res.chunks_kept;
    r->files_done = res.files - res.kept;
    r->bytes_done = res.bytes;
    if (rc != 0 && restore_cancel != 0)
        rc = PGP_FAIL(err, PGP_ERR_IO, "restore interrupted by signal %d after %llu of %zu files",
                      (int)restore_cancel, (unsigned long long)res.files, r->n_jobs);
    return rc;
}

static int rewrite_ts_map(Restore *r, PgpErr *err)
{
    if (r->n_reloc == 0 || r->ts_map == NULL)
        return 0;
    char *path = restore_path_join(r->dest.pgdata, TABLESPACE_MAP);
    int rc = path != NULL ? restore_tablespace_map_rewrite(path, r->reloc, r->n_reloc, err)
                          : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    free(path);
    return rc;
}

/* The text for postgresql.auto.conf, made before anything is written: what PostgreSQL could
 * not load (a path with a line break) is refused while the target is still untouched. */
static int recovery_text(Restore *r, const RestoreCommandPaths *paths, PgpErr *err)
{
    const RestoreRequest *req = r->req;
    RestoreRecoveryConf conf = {.bin = paths->bin, .config = paths->config, .repo = paths->repo,
                                .env = req->env.command_env, .n_env = req->env.n_command_env,
                                .label = r->m->label, .target = &req->target,
                                .timeline = r->plan->target_tli, .standby = req->standby,
                                .archive_mode = req->archive_mode, .settings = req->settings,
                                .n_settings = req->n_settings,
                                .settings_comment = req->settings_comment};
    return restore_recovery_conf_text(&conf, &r->conf_text, err);
}

/* backup_manifest, pg_wal, recovery.signal (standby.signal), postgresql.auto.conf. */
static int write_recovery(Restore *r, PgpErr *err)
{
    const char *pgdata = r->dest.pgdata;
    char *path = NULL;
    int rc = 0;
    if (r->m->pg_manifest_object != NULL) {
        path = restore_path_join(pgdata, "backup_manifest");
        rc = path ? restore_object_plain(r->storage, r->m->pg_manifest_object, path, true, r->key,
                                          NULL, err)
                  : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        free(path);
        path = NULL;
    } else {
        log_warn("backup \"%s\" has no PostgreSQL backup_manifest: pg_verifybackup cannot check it",
                 r->m->label);
    }
    if (rc == 0 && (path = restore_path_join(pgdata, "pg_wal/archive_status")) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = restore_dest_mkdir(&r->dest, path, err);
    free(path);
    if (rc == 0)
        rc = restore_write_small(pgdata, restore_signal_name(r->req->standby), "", false, err);
    if (rc == 0)
        rc = restore_write_small(pgdata, "postgresql.auto.conf", r->conf_text, true, err);
    return rc;
}

static int write_pg_control(Restore *r, PgpErr *err)
{
    RestoreFileOptions opt = {.sync = true, .key = r->key};
    RestoreFileResult res;
    ManifestUnpacked u;
    manifest_pack_unpack(r->pg_control, &u);
    int rc = restore_file(r->storage, &u.e, r->pg_control_path, &opt, &res, err);
    if (rc == 0) {
        r->files_done++;
        r->bytes_done += res.size;
        char *slash = strrchr(r->pg_control_path, '/');
        *slash = '\0';
        rc = restore_fsync_dir(r->pg_control_path, err);
        *slash = '/';
    }
    return rc;
}

static int restore_all(Restore *r, PgpErr *err)
{
    int rc = 0;
    if (r->req->delta) { /* the phase's line counts what it removed */
        progress_begin(&r->prog, r->tty, "restore", "delta", "entries removed", 0, 0);
        progress_tick(&r->prog);
        if ((rc = delta_prepare(r, err)) == 0) {
            progress_set(&r->prog, 0, r->removed);
            progress_end(&r->prog);
        }
    }
    if (rc == 0)
        rc = restore_dest_links(&r->dest, err);
    if (rc == 0)
        rc = make_dirs_and_links(r, false, err);
    if (rc == 0 && r->req->delta)
        rc = delta_note_dirs(r, err);
    if (rc == 0)
        rc = run_pool(r, err);
    if (rc == 0)
        rc = interrupted(err);
    if (rc == 0) {
        progress_begin(&r->prog, r->tty, "restore", "finish", NULL, 0, 0);
        progress_note(&r->prog, "links, recovery configuration, fsync of the directories");
        progress_tick(&r->prog);
    }
    if (rc == 0)
        rc = make_dirs_and_links(r, true, err);
    if (rc == 0)
        rc = rewrite_ts_map(r, err);
    if (rc == 0)
        rc = write_recovery(r, err);
    if (rc == 0)
        rc = restore_dest_sync(&r->dest, err);
    if (rc == 0)
        rc = interrupted(err);
    if (rc == 0) /* last: without it PostgreSQL refuses to start a half-restored directory */
        rc = write_pg_control(r, err);
    progress_note(&r->prog, "directories synced, recovery configured, pg_control written last");
    if (rc == 0)
        progress_end(&r->prog);
    return rc;
}

/* ---- what the DBA reads ------------------------------------------------------------------- */

static void print_choice(const Restore *r)
{
    const BackupManifest *m = r->m;
    const RestorePlan *p = r->plan;
    char start[20], stop[20], when[RESTORE_TIME_TEXT_MAX], target[160], latest[RESTORE_TIME_TEXT_MAX];
    pg_lsn_format(m->start_lsn, start);
    pg_lsn_format(m->stop_lsn, stop);
    restore_format_time(m->stop_time * 1000000, when);
    restore_format_time(p->wal.last_mtime * 1000000, latest);
    restore_target_describe(&r->req->target, target, sizeof target);
    printf("restoring backup %s (%s)\n", m->label, p->why);
    printf("  backup: timeline %u, LSN %s to %s, ended %s\n", (unsigned)m->timeline, start, stop,
           when);
    if (m->source != NULL)
        printf("  taken on the standby %s (primary %s)\n", m->source->server, m->source->primary);
    printf("  target: %s%s, timeline %s, history %s\n", target,
           r->req->target.exclusive ? " (exclusive)" : "", p->timeline_text, p->path_text);
    printf("  WAL: %llu segment(s) archived from the backup's start, up to %s (archived about %s)\n",
           (unsigned long long)p->wal_segments, p->wal.last_name, latest);
    for (size_t i = 0; i < r->n_reloc; i++) {
        size_t idx;
        if (tablespace_index(m, r->reloc[i].oid, &idx) == 0)
            printf("  tablespace %u: \"%s\" (instead of \"%s\")\n", (unsigned)r->reloc[i].oid,
                   r->reloc[i].path, m->tablespaces[idx].location);
    }
    fflush(stdout);
}

static void print_summary(const Restore *r)
{
    double secs = progress_now() - r->started;
    printf("restored %llu files, %.1f MiB in %.1f s (%.1f MiB/s) into \"%s\"\n",
           (unsigned long long)r->files_done, (double)r->bytes_done / 1048576.0, secs,
           secs > 0 ? (double)r->bytes_done / 1048576.0 / secs : 0.0, r->dest.pgdata);
    if (r->req->delta)
        printf("delta: kept %llu files (%.1f MiB) whose size and SHA-256 matched, rewrote %llu, "
               "removed %llu entries the backup does not have\n", (unsigned long long)r->kept,
               (double)r->kept_bytes / 1048576.0, (unsigned long long)r->files_done,
               (unsigned long long)r->removed);
    if (r->chunked > 0) /* a changed 1 GiB segment costs the chunks that differ, not 1 GiB */
        printf("chunks: %llu fetched, %llu already in place, in %llu file(s) stored as chunks\n",
               (unsigned long long)r->chunks_fetched, (unsigned long long)r->chunks_kept,
               (unsigned long long)r->chunked);
    if (r->keep != NULL)
        printf("keep-old: \"%s\" holds the directory as it was before this restore; to go back "
               "to it: stop the server, then sh \"%s/undo.sh\"\n", restore_keep_dir(r->keep),
               restore_keep_dir(r->keep));
    RestoreNextStep next = {.pg_bin = r->req->env.pg_bin, .pgdata = r->dest.pgdata,
                            .pg_major = r->m->pg_major, .standby = r->req->standby,
                            .backup_on_standby = r->backup_on_standby, .set = r->req->settings,
                            .n_set = r->req->n_settings};
    if (!r->req->standby)
        restore_print_recovery(&r->req->target, r->plan->target_tli);
    restore_print_standby(&next);
    restore_print_archiving(r->req->archive_mode);
    if (geteuid() == 0)
        printf("note: the files belong to root; give them to the server's user first "
               "(chown -R postgres: \"%s\" and each tablespace location)\n", r->dest.pgdata);
    restore_print_next_step(&next);
}

/* ---- restore_run --------------------------------------------------------------------------- */

static int check_identity(Repo *repo, const RestoreEnv *s, const BackupManifest *m, PgpErr *err)
{
    if (!repo_is_bound(repo)) {
        PGP_FAIL(err, PGP_ERR_NOT_FOUND, "repository \"%s\" has no backup (no repo.json)",
                 s->repo_path);
        pgp_err_hint(err, "take one with pgpitr backup");
        return PGP_ERR_NOT_FOUND;
    }
    if (m != NULL && m->system_identifier != repo_identity(repo)->system_identifier)
        return PGP_FAIL(err, PGP_ERR_WRONG_CLUSTER,
                        "backup \"%s\" has system identifier %llu but the repository belongs to %llu",
                        m->label, (unsigned long long)m->system_identifier,
                        (unsigned long long)repo_identity(repo)->system_identifier);
    return 0;
}

static void signals(bool install, struct sigaction old[3])
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], install ? &sa : &old[i], install ? &old[i] : NULL);
}

/* A failure once writing began: what is left, and the way on, in the HINT. */
static void failed(Restore *r, PgpErr *err)
{
    if (!r->req->delta) {
        restore_dest_cleanup(&r->dest);
        pgp_err_hint(err, "everything this restore created was removed");
    } else if (r->keep != NULL) {
        const char *dir = restore_keep_dir(r->keep);
        pgp_err_hint(err, "the directory has no global/pg_control, so PostgreSQL will not start "
                     "it: run the same restore again to finish (the copy in \"%s\" is not made "
                     "again), or put the old directory back: sh \"%s/undo.sh\"", dir, dir);
    } else {
        pgp_err_hint(err, "the directory has no global/pg_control, so PostgreSQL will not start "
                     "it: run the same restore with --delta again to finish");
    }
}

static int execute(Restore *r, PgpErr *err)
{
    struct sigaction old[3];
    restore_cancel = 0;
    signals(true, old);
    RestoreKeepCopyOptions kopt = {.quiet = r->req->quiet, .tty = r->tty,
                                   .cancel = &restore_cancel};
    /* --keep-old first: a failure there leaves the target untouched (its own HINT says so) */
    int rc = r->keep != NULL ? restore_keep_copy(r->keep, &kopt, err) : 0;
    if (rc == 0 && (rc = restore_all(r, err)) != 0)
        failed(r, err);
    else if (rc == 0)
        restore_keep_finish(r->keep);
    signals(false, old);
    return rc;
}

static int restore_backup(Repo *repo, const RestorePlan *plan, const RestoreRequest *req,
                          const RestoreCommandPaths *paths, RestoreReport *rep, PgpErr *err)
{
    Restore r = {.storage = repo_storage(repo), .key = repo_crypto_key(repo), .req = req,
                 .plan = plan,
                 .m = plan->manifest, .files = plan->files, .tty = want_tty(req)};
    r.started = progress_now();
    int rc = restore_dest_init(&r.dest, req->pgdata, r.m, err);
    if (rc == 0)
        rc = apply_ts_map(&r, err);
    r.dest.allow_existing = req->delta;
    if (rc == 0)
        rc = restore_dest_check(&r.dest, err); /* refuses before anything is written */
    if (rc == 0 && req->keep_old != NULL) /* checked and locked before the target is taken */
        rc = restore_keep_open(req->keep_old, &r.dest, r.files, &r.keep, err);
    if (rc == 0)
        rc = plan_entries(&r, err);
    if (rc == 0)
        rc = recovery_text(&r, paths, err);
    if (rc == 0) /* made, locked, then checked again: from here on the target is ours */
        rc = restore_dest_acquire(&r.dest, err);
    if (rc == 0 && !req->quiet)
        print_choice(&r);
    if (rc == 0)
        rc = execute(&r, err);
    if (rc == 0 && req->locks_out != NULL)
        rc = restore_locks_move(req->locks_out, &r.dest.locks, err);
    if (rc == 0) {
        rep->files = r.files_done;
        rep->bytes = r.bytes_done;
        rep->seconds = progress_now() - r.started;
        rep->files_kept = r.kept;
        rep->chunked_files = r.chunked;
        rep->chunks_fetched = r.chunks_fetched;
        rep->chunks_kept = r.chunks_kept;
        rep->removed = r.removed;
        if (!req->quiet)
            print_summary(&r);
    }
    restore_free(&r);
    return rc;
}

/* Under the READ lock, so no expire runs between the files and the lease: from here on the
 * WAL from the backup's start stays until the recovery ends or the lease expires. */
static void write_lease(Storage *storage, const RestorePlan *plan, const RestoreRequest *req,
                        uint32_t segsize, int ttl_s, RestoreReport *rep)
{
    const BackupManifest *m = plan->manifest;
    PgpErr e;
    pgp_err_clear(&e);
    if (recovery_lease_begin(storage, req->pgdata, m->system_identifier, m->timeline,
                             pg_lsn_segno(m->start_lsn, segsize), segsize, ttl_s, rep->lease,
                             &e) != 0)
        log_warn("%s; until the server's first archive-get writes it, an expire may remove WAL "
                 "this recovery needs (recovery then stops instead of ending early)", e.msg);
}

int restore_run(Repo *repo, const RestoreRequest *req, RestoreReport *rep, PgpErr *err)
{
    memset(rep, 0, sizeof *rep);
    int rc = restore_request_check(req, err);
    if (rc != 0)
        return rc;
    Storage *storage = repo_storage(repo);
    RestorePlan plan = {0};
    RestoreCommandPaths paths;
    int ttl_s = 0;
    /* The caller's READ lock keeps expire from removing the backup or its WAL while it is
     * planned and copied; recovery's archive-get afterwards needs no lock: the recovery lease
     * written before the lock is released keeps its WAL (recovery_lease.h). */
    rc = recovery_lease_ttl(req->env.lease_ttl, &ttl_s, err);
    if (rc == 0)
        rc = check_identity(repo, &req->env, NULL, err);
    if (rc == 0)
        rc = restore_command_paths(&req->env, &paths, err);
    Progress prog = {0};   /* the backup's manifest, chunk lists, WAL and objects checked */
    if (rc == 0) {
        progress_begin(&prog, want_tty(req), "restore", "plan", NULL, 0, 0);
        progress_note(&prog, "checking the backup, its objects and the WAL to the target");
        progress_tick(&prog);
    }
    if (rc == 0)
        rc = restore_plan_make(repo, req, &plan, err);
    if (rc == 0)
        rc = check_identity(repo, &req->env, plan.manifest, err);
    if (rc == 0) {
        progress_note(&prog, "backup %s, %llu WAL segment(s) to the target", plan.manifest->label,
                      (unsigned long long)plan.wal_segments);
        progress_end(&prog);
    }
    if (rc == 0 && !req->quiet && plan.warning[0] != '\0')
        log_warn("%s", plan.warning);     /* before anything is written: ^C is still cheap */
    if (rc == 0 && !req->quiet && plan.fork_warning[0] != '\0')
        log_warn("%s", plan.fork_warning);
    if (rc == 0) {
        restore_plan_report(&plan, rep);
        rc = restore_backup(repo, &plan, req, &paths, rep, err);
        if (rc == 0)
            write_lease(storage, &plan, req, repo_identity(repo)->wal_segsize, ttl_s, rep);
    }
    restore_plan_free(&plan);
    return rc;
}
