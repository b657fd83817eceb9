/*
 * drill_run.c - drill_run() (drill_run.h), what `pgpitr drill` runs: prove that the
 * repository can bring the cluster back. Restores into a throwaway directory, starts a private
 * postgres that can never write into the archive nor reach production (drill_server.c),
 * replays to the target, promotes, checks, stops it, removes its files (unless --keep) and
 * writes a JSON report, kept in the repository (drill/<id>.json) and optionally in a file.
 *
 * Owns the work directory and the order of the phases; the report is drill_report.c's, the
 * target and --check-sql rules drill_checks.c's, the options src/cmd/drill.c's.
 */
#include "pgpitr/drill/drill_run.h"

#include <errno.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/drill/drill_checks.h"
#include "pgpitr/drill/drill_next.h"
#include "pgpitr/drill/drill_report.h"
#include "pgpitr/drill/drill_server.h"
#include "pgpitr/repo/lease.h"
#include "pgpitr/common/log.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/storage/storage.h"
#include "pgpitr/restore/restore.h"
#include "pgpitr/restore/restore_plan.h"
#include "pgpitr/pg/walname.h"

#define LOG_EXCERPT_LINES 30

typedef struct Drill {
    const DrillEnv *env;
    const DrillOptions *o;
    int argc;                    /* env's: to print the same drill again */
    char **argv;
    char first_hint[PGP_ERR_HINT_MAX];   /* the HINT of the error that stopped the drill */
    Storage *storage;
    Repo *repo;
    DrillSqlChecks sql;
    DrillReport rep;
    DrillServer srv;
    char workdir[PATH_MAX];
    bool workdir_made;           /* false: --workdir existed (empty): remove only its content */
    bool workdir_ready;
    RestoreLocks locks;          /* the work directory, then the restore's target directories:
                                    held until the work directory is gone (restore_guard.h) */
    char pinned_label[MANIFEST_LABEL_MAX + 1];   /* the backup the drill's plan chose */
    char pinned_why[256];
    char pinned_tli[16];         /* the timeline it chose, pinned for the restore */
    bool stored;                 /* the report is in the repository */
    bool restore_corrupt;        /* the restore stopped at a damaged (tampered) object */
} Drill;

static volatile sig_atomic_t drill_cancel;

static void on_signal(int sig)
{
    drill_cancel = sig;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}


/* `--workdir` that is not an empty directory: a usage error, worded as the command's own. */
static int workdir_refused(const char *given, PgpErr *err)
{
    PGP_FAIL(err, PGP_ERR_USAGE, "drill: --workdir \"%s\" must be an empty directory or not "
             "exist", given);
    pgp_err_hint(err, "see pgpitr drill --help");
    return PGP_ERR_USAGE;
}

/* Made (or an empty --workdir taken), and locked before it is checked, for the whole drill: a
 * restore or another drill into it is refused while this drill may still remove it. */
static int make_workdir(Drill *d, PgpErr *err)
{
    char path[PATH_MAX];
    const char *given = d->o->workdir;
    struct stat st;
    bool existed = false;
    if (given == NULL) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/pgpitr-drill.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (mkdtemp(path) == NULL)
            return PGP_FAIL_SYS(err, errno, "cannot create a drill work directory \"%s\"", path);
        d->workdir_made = true;
    } else if (stat(given, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return workdir_refused(given, err);
        snprintf(path, sizeof path, "%s", given);
        existed = true;
    } else {
        int rc = restore_lock_probe(given, "drill work directory", err);
        if (rc != 0)
            return rc;
        if (mkdir(given, 0700) != 0)
            return PGP_FAIL_SYS(err, errno, "cannot create --workdir \"%s\"", given);
        snprintf(path, sizeof path, "%s", given);
        d->workdir_made = true;
    }
    int rc = restore_lock_dir(&d->locks, path, "drill work directory", err);
    if (rc != 0)
        return rc;                     /* not ready: nothing of it is removed */
    if (existed) {
        DIR *dir = opendir(given);
        struct dirent *e;
        int entries = 0;
        while (dir != NULL && (e = readdir(dir)) != NULL)
            entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
        if (dir != NULL)
            closedir(dir);
        if (dir == NULL || entries > 0)
            return workdir_refused(given, err);
        if (chmod(given, 0700) != 0)
            return PGP_FAIL_SYS(err, errno, "cannot chmod \"%s\"", given);
    }
    d->workdir_ready = true;
    if (realpath(path, d->workdir) == NULL)
        return PGP_FAIL_SYS(err, errno, "cannot resolve \"%s\"", path);
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (ftw->level == 0)
        return 0;                      /* the directory itself: the caller decides */
    if (remove(path) != 0 && errno != ENOENT)
        log_warn("cannot remove \"%s\": %s", path, strerror(errno));
    return 0;
}

/* Never follows symlinks (pg_tblspc links point into workdir/ts anyway) nor crosses mounts. */
static void remove_workdir(Drill *d)
{
    if (!d->workdir_ready || d->workdir[0] == '\0')
        return;
    nftw(d->workdir, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (d->workdir_made && rmdir(d->workdir) != 0)
        log_warn("cannot remove \"%s\": %s", d->workdir, strerror(errno));
}

/* ---- tablespaces ------------------------------------------------------------------------- */

typedef struct TsMap {
    RestoreTablespaceMap *v;
    char **names, **dirs;               /* parallel arrays: n used, cap allocated */
    size_t n, cap;
} TsMap;

static void ts_map_free(TsMap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->names[i]);
        free(m->dirs[i]);
    }
    free(m->names);
    free(m->dirs);
    free(m->v);
    memset(m, 0, sizeof *m);
}

static int ts_map_add(TsMap *m, uint32_t oid, const char *workdir, PgpErr *err)
{
    char name[16];
    snprintf(name, sizeof name, "%u", oid);
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->names[i], name) == 0)
            return 0;
    size_t cap_names = m->cap;          /* m->cap moves once both have grown */
    if (GROW(m->names, m->n, cap_names, 4, NULL, err) != 0 ||
        GROW(m->dirs, m->n, m->cap, 4, NULL, err) != 0)
        return PGP_ERR_NOMEM;
    m->names[m->n] = strdup(name);
    if (asprintf(&m->dirs[m->n], "%s/ts/%s", workdir, name) < 0)
        m->dirs[m->n] = NULL;
    m->n++;
    if (m->names[m->n - 1] == NULL || m->dirs[m->n - 1] == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    return 0;
}

/* What the plan chose and what may mislead about it, in the report. Production's timeline is
 * the one to prove: following another (asked for, or by PostgreSQL's latest) passes with a
 * warning, and so does following production's while latest, what a restore follows by
 * default, is another. */
static void note_timeline(Drill *d, RestorePlan *plan, const char *asked)
{
    DrillReport *r = &d->rep;
    const TlProduction *p = &plan->production;
    r->has_timeline = true;
    r->timeline = plan->target_tli;
    snprintf(r->timeline_why, sizeof r->timeline_why, "%s", plan->timeline_why);
    r->production = *p;
    r->latest_timeline = plan->latest_tli;
    r->timelines = plan->timelines;
    plan->timelines = (TlActivityList){0};
    if (plan->fork_warning[0] != '\0')
        drill_report_warn(r, "%s", plan->fork_warning);
    if (plan->warning[0] != '\0')
        drill_report_warn(r, "%s", plan->warning);
    else if (p->known && p->tli != plan->target_tli && strcmp(asked, "production") != 0 &&
             strcmp(asked, "current") != 0)
        drill_report_warn(r, "this drill followed timeline %u (--target-timeline %s), not "
                          "production's timeline %u: it does not prove production's history",
                          plan->target_tli, asked, p->tli);
}

/* Segments archive-push dropped on purpose (push_backlog.h) at or after the chosen backup's
 * start, on its timeline or an older one: recovery cannot cross them, so the report says so. */
typedef struct DroppedScan {
    uint32_t tli, segsize;
    uint64_t from;
    size_t n;
    char first[PG_WALNAME_SEG_LEN + 1];
} DroppedScan;

static int on_dropped(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)err;
    DroppedScan *s = ud;
    PgWalName wn;
    PgpErr ignore;
    uint64_t segno;
    char seg[PG_WALNAME_SEG_LEN + 1];
    if (info->is_dir || !repo_dropped_entry(name, seg) ||
        pg_walname_parse(seg, &wn, &ignore) != 0 ||
        !pg_walname_segno(&wn, s->segsize, &segno) || wn.tli > s->tli || segno < s->from)
        return 0;
    if (s->n++ == 0 || strcmp(seg, s->first) < 0)
        memcpy(s->first, seg, sizeof s->first);
    return 0;
}

static void note_dropped(Drill *d, const RestorePlan *plan)
{
    const RepoIdentity *id = repo_identity(d->repo);
    if (id == NULL || id->wal_segsize == 0)
        return;
    DroppedScan s = {.tli = plan->target_tli, .segsize = id->wal_segsize,
                     .from = plan->manifest->start_lsn / id->wal_segsize};
    PgpErr err = {0};
    if (storage_list(d->storage, REPO_LAYOUT_DROPPED_DIR, on_dropped, &s, &err) != 0)
        drill_report_warn(&d->rep, "cannot list the segments archive-push dropped: %s", err.msg);
    else if (s.n > 0)
        drill_report_warn(&d->rep, "%zu WAL segment%s after this backup's start %s dropped by "
                          "archive-push (archive-push-queue-full = drop), the first %s: recovery "
                          "cannot cross %s", s.n, s.n == 1 ? "" : "s", s.n == 1 ? "was" : "were",
                          s.first, s.n == 1 ? "it" : "them");
}

/* Tablespaces of the backup go to workdir/ts/<oid>: a drill must never write into the original
 * locations, which on the production host hold the production tablespaces. restore_run
 * chooses the backup and accepts a map only for tablespaces that backup has, so the drill
 * plans first (read-only, restore_plan.h) and then pins the plan's backup and timeline,
 * keeping the plan's reasons in the report. */
static int pin_backup(Drill *d, RestoreRequest *req, TsMap *m, PgpErr *err)
{
    RestorePlan plan = {0};
    int rc = restore_plan_make(d->repo, req, &plan, err);
    if (rc == 0) {
        note_timeline(d, &plan, req->target.timeline != NULL ? req->target.timeline : "current");
        note_dropped(d, &plan);
        snprintf(d->pinned_label, sizeof d->pinned_label, "%s", plan.manifest->label);
        snprintf(d->pinned_tli, sizeof d->pinned_tli, "%u", plan.target_tli);
        if (req->label == NULL)
            snprintf(d->pinned_why, sizeof d->pinned_why, "%s", plan.why);
        req->label = d->pinned_label;
        req->target.timeline = d->pinned_tli;
    }
    for (size_t t = 0; rc == 0 && t < plan.manifest->n_tablespaces; t++)
        rc = ts_map_add(m, plan.manifest->tablespaces[t].oid, d->workdir, err);
    if (rc == 0 && m->n > 0 && (m->v = calloc(m->n, sizeof *m->v)) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < m->n; i++)
        m->v[i] = (RestoreTablespaceMap){.name = m->names[i], .dir = m->dirs[i]};
    req->ts_map = m->v;
    req->n_ts_map = m->n;
    restore_plan_free(&plan);
    return rc;
}

/* ---- the phases -------------------------------------------------------------------------- */

static const char *target_kind_name(RestoreTargetKind k)
{
    static const char *const names[] = {"latest", "immediate", "time", "lsn", "xid", "name"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

/* Archive freshness (RPO exposure; the info model's definition, info_freshness_at) and the
 * newest segment per timeline, as the drill begins. */
static int scan_archive(Drill *d, DrillArchiveScan *scan, PgpErr *err)
{
    int rc = drill_archive_scan(d->storage, scan, err);
    if (rc == 0 && scan->has_newest) {
        d->rep.has_freshness = true;
        d->rep.archive_freshness_s = info_freshness_at(scan->newest_mtime,
                                                       (double)d->rep.started_us / 1e6);
    }
    return rc;
}

static int restore_phase(Drill *d, PgpErr *err)
{
    TsMap ts = {0};
    int port = 0;
    RestoreRequest req = {.label = d->o->label, .target = d->o->target, .jobs = d->o->jobs,
                          .quiet = true, .tty_progress = true, .locks_out = &d->locks};
    /* A drill proves production's history: not a higher timeline a promoted copy archived. */
    if (req.target.timeline == NULL && req.target.kind != RESTORE_TARGET_IMMEDIATE)
        req.target.timeline = "production";
    req.env = d->env->restore;
    double t0 = mono_s();
    int rc = pg_server_free_port(&port, err);
    if (rc == 0)
        rc = drill_server_init(&d->srv, d->workdir, port, err);
    if (rc == 0)
        rc = pin_backup(d, &req, &ts, err);
    req.pgdata = d->srv.pgdata;
    /* Also in postgresql.auto.conf: a directory kept with --keep stays harmless when started
     * by hand. archive_mode is among them (restore's own default is off as well). */
    req.settings = d->srv.settings;
    req.n_settings = DRILL_SERVER_N_SETTINGS;
    req.settings_comment = "# pgpitr drill: a private, harmless server (also given on its "
                           "command line)";
    if (rc == 0)
        rc = restore_run(d->repo, &req, &d->rep.backup, err);
    double secs = mono_s() - t0;
    d->rep.total_s = secs;
    if (rc == 0) {
        d->rep.has_backup = true;
        if (d->pinned_why[0] != '\0')
            snprintf(d->rep.backup.why, sizeof d->rep.backup.why, "%s", d->pinned_why);
        d->rep.restore_files_s = d->rep.backup.seconds;
        d->rep.select_s = secs > d->rep.backup.seconds ? secs - d->rep.backup.seconds : 0;
    } else {
        /* what it breaks: the backup, named, since the error names only a file and object */
        d->restore_corrupt = rc == PGP_ERR_CORRUPT;
        if (d->pinned_label[0] != '\0')
            pgp_err_context(err, "restore failed: backup \"%s\" cannot be restored",
                            d->pinned_label);
        else
            pgp_err_context(err, "restore failed");
    }
    ts_map_free(&ts);
    return rc;
}

static int pick_bin_dir(Drill *d, PgpErr *err)
{
    const char *given = d->env->pg_bin;
    int major = d->rep.backup.pg_major;
    if (major <= 0 && repo_identity(d->repo) != NULL)
        major = repo_identity(d->repo)->pg_major;
    int n = given ? snprintf(d->srv.bin_dir, sizeof d->srv.bin_dir, "%s", given)
                  : snprintf(d->srv.bin_dir, sizeof d->srv.bin_dir, "/usr/lib/postgresql/%d/bin",
                             major);
    if (n < 0 || (size_t)n >= sizeof d->srv.bin_dir)
        return PGP_FAIL(err, PGP_ERR_USAGE, "--pg-bin is too long");
    return 0;
}

static int replay_phase(Drill *d, PgpErr *err)
{
    d->srv.user = d->o->db_user;
    d->srv.statement_timeout_ms = (long)d->o->timeout_s * 1000;
    d->srv.tool_timeout_s = d->o->timeout_s;
    d->srv.cancel = &drill_cancel;
    d->srv.tty = isatty(STDERR_FILENO) == 1;
    double t0 = mono_s();
    int rc = pick_bin_dir(d, err);
    if (rc == 0)
        rc = drill_server_start(&d->srv, err);
    if (rc == 0)
        rc = drill_server_wait_promoted(&d->srv, d->o->timeout_s, err);
    d->rep.replay_s = mono_s() - t0;
    d->rep.total_s += d->rep.replay_s;
    d->rep.recovered = rc == 0;
    d->rep.has_wal = d->srv.server != NULL;
    d->rep.wal_segments = d->srv.log.segments_restored;
    d->rep.wal_fetches = d->srv.log.segments_fetched;
    const RepoIdentity *id = repo_identity(d->repo);
    d->rep.wal_bytes = d->rep.wal_fetches * (id ? id->wal_segsize : 0);
    if (rc == 0)
        drill_report_check(&d->rep, "recovery", DRILL_CHECK_PASSED, "restored %llu archived "
                           "segments, replayed and promoted in %.1f s",
                           (unsigned long long)d->srv.log.segments_restored, d->rep.replay_s);
    return rc;
}

static void target_check(Drill *d, const DrillArchiveScan *scan)
{
    DrillTargetResult t;
    pg_server_log_poll(&d->srv.log, d->srv.log_path, false, NULL);
    drill_target_evaluate(&d->o->target, &d->srv.log, scan, &t);
    DrillReport *r = &d->rep;
    r->has_reached = true;
    r->reached_has_time = t.has_time;
    r->reached_time_us = t.time_us;
    r->reached_has_lsn = t.has_lsn;
    r->reached_lsn = t.lsn;
    r->reached_timeline = t.timeline ? t.timeline : r->backup.backup_timeline;
    PgpErr err;
    uint32_t now_tli = 0;
    if (drill_server_timeline(&d->srv, &now_tli, &err) != 0)
        log_warn("cannot read the drill server's timeline: %s", err.msg);
    r->new_timeline = now_tli ? now_tli : d->srv.log.new_timeline;
    drill_report_check(r, "target", t.passed ? DRILL_CHECK_PASSED : DRILL_CHECK_FAILED, "%s",
                       t.detail);
}

static void checks_phase(Drill *d, const DrillArchiveScan *scan)
{
    double t0 = mono_s();
    if (d->srv.tty)
        fputs("drill: checking the recovered cluster\n", stderr);
    target_check(d, scan);
    drill_server_sql_checks(&d->srv, &d->sql, &d->rep);
    if (d->o->max_tables > 0)
        drill_server_count_tables(&d->srv, d->o->max_tables, &d->rep);
    if (d->o->amcheck)
        drill_server_amcheck(&d->srv, d->o->jobs < 4 ? d->o->jobs : 4, &d->rep);
    d->rep.checks_s = mono_s() - t0;
    d->rep.total_s += d->rep.checks_s;
}

/* Everything between the work directory and the report; failures land in the report. */
static void execute(Drill *d)
{
    PgpErr err;
    pgp_err_clear(&err);
    DrillArchiveScan scan = {0};
    int rc = scan_archive(d, &scan, &err);
    if (rc == 0)
        rc = restore_phase(d, &err);
    if (rc == 0)
        rc = replay_phase(d, &err);
    if (rc == 0)
        checks_phase(d, &scan);
    if (rc == 0 && drill_cancel != 0)
        rc = PGP_FAIL(&err, PGP_ERR_IO, "interrupted by signal %d", (int)drill_cancel);
    if (rc != 0) {
        drill_report_fail_err(&d->rep, &err);
        snprintf(d->first_hint, sizeof d->first_hint, "%s", err.hint);
    }
    pgp_err_clear(&err);
    if (drill_server_stop(&d->srv, &err) != 0)
        log_warn("%s", err.msg);
    drill_archive_scan_free(&scan);
    if (!drill_report_passed(&d->rep)) {
        char **lines = NULL;
        size_t n = 0;
        if (d->srv.log_path[0] != '\0' &&
            pg_server_log_excerpt(d->srv.log_path, LOG_EXCERPT_LINES, &lines, &n, NULL) == 0)
            drill_report_set_log_tail(&d->rep, lines, n);
    }
}

/* ---- the run ----------------------------------------------------------------------------- */

static void begin_report(Drill *d)
{
    DrillReport *r = &d->rep;
    drill_report_init(r);
    r->started_us = wall_us();
    unsigned suffix = 0;
    if (getrandom(&suffix, sizeof suffix, GRND_NONBLOCK) != (ssize_t)sizeof suffix)
        suffix = (unsigned)getpid() ^ (unsigned)r->started_us;
    drill_make_id(r->started_us, suffix, r->id);
    if (gethostname(r->host, sizeof r->host) != 0)
        snprintf(r->host, sizeof r->host, "unknown");
    r->host[sizeof r->host - 1] = '\0';
    r->target_kind = target_kind_name(d->o->target.kind);
    if (d->o->target_text != NULL && (r->target_value = strdup(d->o->target_text)) == NULL)
        r->nomem = true;
}

static void signals(bool install, struct sigaction old[3])
{
    static const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], install ? &sa : &old[i], install ? &old[i] : NULL);
}

/* What drill_next.h needs to print the next step; globals holds up to 6 words. */
static void next_info(const Drill *d, DrillNext *n, const char *globals[6], char *exe,
                      size_t exe_size)
{
    size_t g = 0;
    if (d->env->config != NULL)
        globals[g++] = "--config", globals[g++] = d->env->config;
    if (d->env->repo != NULL)
        globals[g++] = "--repo", globals[g++] = d->env->repo;
    if (d->env->log_level != NULL)
        globals[g++] = "--log-level", globals[g++] = d->env->log_level;
    /* This very binary: the next step must work even when pgpitr is not in PATH. */
    ssize_t len = readlink("/proc/self/exe", exe, exe_size - 1);
    exe[len > 0 ? len : 0] = '\0';
    if (len <= 0 || strstr(exe, " (deleted)") != NULL)
        snprintf(exe, exe_size, "pgpitr");
    const struct passwd *pw = getpwuid(geteuid());
    *n = (DrillNext){.exe = exe, .globals = globals, .n_globals = g,
                     .args = d->argc > 1 ? d->argv + 1 : NULL,
                     .n_args = d->argc > 1 ? (size_t)d->argc - 1 : 0,
                     .repo_path = d->env->restore.repo_path, .stored = d->stored,
                     .report_file = d->o->report, .bin_dir = d->srv.bin_dir,
                     .port = d->srv.port, .db = d->srv.maint_db, .db_user = d->o->db_user,
                     .os_user = pw != NULL ? pw->pw_name : NULL,
                     .label = d->rep.has_backup           ? d->rep.backup.label
                              : d->pinned_label[0] != '\0' ? d->pinned_label
                                                           : NULL,
                     .server_ran = d->rep.has_wal, .tool_error = d->srv.log.last_tool_error[0],
                     .corrupt = d->restore_corrupt,
                     .hint = d->first_hint};
}

/* The report goes to the repository always, to --report FILE when asked, and to stdout. */
static int publish(Drill *d, PgpErr *err)
{
    char *json = NULL;
    PgpErr ferr;
    if (drill_report_find_previous(d->storage, repo_crypto_key(d->repo), &d->rep, &ferr) != 0)
        log_warn("%s", ferr.msg);
    int rc = drill_report_to_json(&d->rep, &json, err);
    if (rc == 0)
        rc = drill_report_store(d->storage, repo_crypto_key(d->repo), &d->rep, json, err);
    d->stored = rc == 0;
    if (d->o->report != NULL && json != NULL) {
        int frc = drill_report_write_file(d->o->report, json, rc == 0 ? err : &ferr);
        if (frc != 0 && rc != 0)
            log_warn("%s", ferr.msg);
        rc = rc != 0 ? rc : frc;
    }
    for (size_t i = 0; d->o->json && i < d->rep.n_warnings; i++)
        log_warn("%s", d->rep.warnings[i]);    /* the text summary has them already */
    if (json != NULL && d->o->json) {
        fputs(json, stdout);
    } else if (!d->o->json) {
        DrillNext next;
        const char *globals[6];
        char exe[PATH_MAX];
        drill_report_print_text(&d->rep, stdout);
        next_info(d, &next, globals, exe, sizeof exe);
        drill_next_print(&next, &d->rep, stdout);
    }
    fflush(stdout);
    free(json);
    return rc;
}

/* One line saying why, and a HINT with the next step and where the report is. */
static int failure(const Drill *d, PgpErr *err)
{
    const DrillReport *r = &d->rep;
    PgpErrCode code = r->first_error != PGP_ERR_OK ? r->first_error : PGP_ERR_CORRUPT;
    char why[PGP_ERR_MSG_MAX];
    drill_report_headline(r, why, sizeof why);
    PGP_FAIL(err, code, "drill %s failed: %s", r->id, why);
    DrillNext next;
    const char *globals[6];
    char exe[PATH_MAX];
    next_info(d, &next, globals, exe, sizeof exe);
    drill_next_hint(&next, r, err->hint, sizeof err->hint);
    return code;
}

/* The server is stopped: its recovery lease (written by restore_run, renewed by its
 * archive-get) must not hold WAL back until its ttl ends it. */
static void forget_lease(Drill *d)
{
    PgpErr e;
    pgp_err_clear(&e);
    if (d->rep.backup.lease[0] != '\0' && lease_remove(d->storage, d->rep.backup.lease, &e) != 0)
        log_warn("%s", e.msg);
}

static int drill(Drill *d, PgpErr *err)
{
    struct sigaction old[3];
    int rc = make_workdir(d, err);
    if (rc == 0)
        rc = drill_server_check_workdir(d->workdir, err);
    if (rc != 0) {
        remove_workdir(d);
        return rc;
    }
    drill_cancel = 0;
    signals(true, old);
    execute(d);
    forget_lease(d);
    drill_report_objectives(&d->rep, d->o->rto_objective_s, d->o->rpo_objective_s);
    d->rep.finished_us = wall_us();
    if (d->o->keep)
        d->rep.workdir = strdup(d->workdir);
    else
        remove_workdir(d);
    rc = publish(d, err);
    signals(false, old);
    if (!drill_report_passed(&d->rep)) {
        if (rc != 0)
            log_warn("%s", err->msg);  /* the drill's failure is the error to report */
        return failure(d, err);
    }
    return rc;
}

int drill_run(Repo *repo, const DrillOptions *o, const DrillEnv *env, PgpErr *err)
{
    Drill d = {.env = env, .o = o, .argc = env->argc, .argv = env->argv,
               .storage = repo_storage(repo), .repo = repo};
    drill_report_init(&d.rep);
    int rc = 0;
    if (o->check_sql != NULL)
        rc = drill_sql_load(o->check_sql, &d.sql, err);
    if (rc == 0) {
        begin_report(&d);
        rc = drill(&d, err);
    }
    drill_report_free(&d.rep);
    restore_locks_release(&d.locks); /* after the work directory is gone (or kept) */
    drill_sql_free(&d.sql);
    return rc;
}
