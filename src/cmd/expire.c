/*
 * expire.c - `pgpitr expire`: removes backups, objects and WAL that the retention policy no
 * longer keeps. Options and settings, the repository lock, and the order of the steps live
 * here; the plan is expire_plan.c (printing: expire_print.c), the removal expire_remove.c,
 * the retention math src/repo/retention.c.
 *
 * Order: policy check (a missing policy exits 2 before the repository is even opened) ->
 * EXPIRE lock (excludes backups, readers and other expires; archive-push/get never wait on
 * it) -> catalog -> plan -> print -> remove (unless --dry-run). The plan is printed before
 * anything is removed, so the operator sees what a failed run was about to do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/repo/catalog.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/repo/expire_plan.h"
#include "pgpitr/repo/uploads.h"
#include "pgpitr/common/log.h"

typedef struct ExpireOptions {
    RetentionPolicy policy;
    bool dry_run;
    bool json;
    const char *lock_wait;
} ExpireOptions;

/* flag > config key: each policy on its own. */
static int policy_setting(const CmdSettings *s, CmdOptId id, const char *flag, unsigned *out,
                          PgpErr *err)
{
    long v = -1;
    int rc = cmd_opt_int_setting(s, id, flag, &v, err);
    if (rc != 0) {
        pgp_err_hint(err, "give a count from 1 to %u, or 0 for not set", RETENTION_COUNT_MAX);
        return rc;
    }
    if (v >= 0)
        *out = (unsigned)v;
    return 0;
}

static int parse_options(int argc, char **argv, const CmdSettings *s, ExpireOptions *o,
                         bool *help, PgpErr *err)
{
    memset(o, 0, sizeof *o);
    CmdParse p = {.cmd = &cmd_expire};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || (*help = a.help))
        return rc;
    o->lock_wait = a.flag[CMD_OPT_LOCK_WAIT];
    o->dry_run = a.flag[CMD_OPT_DRY_RUN] != NULL;
    o->json = a.json;
    static const CmdOptId ids[5] = {CMD_OPT_RETAIN_FULL, CMD_OPT_RETAIN_DAYS,
                                    CMD_OPT_RETAIN_DAILY, CMD_OPT_RETAIN_WEEKLY,
                                    CMD_OPT_RETAIN_MONTHLY};
    unsigned *targets[5] = {&o->policy.full, &o->policy.days, &o->policy.daily,
                            &o->policy.weekly, &o->policy.monthly};
    for (int i = 0; i < 5; i++)
        if ((rc = policy_setting(s, ids[i], a.flag[ids[i]], targets[i], err)) != 0)
            return rc;
    if (!retention_policy_set(&o->policy)) {
        PGP_FAIL(err, PGP_ERR_USAGE, "expire: no retention policy set, refusing to expire");
        pgp_err_hint(err, "give --retain-full N, --retain-days D or --retain-daily/--retain-weekly/"
                          "--retain-monthly N (or the retain-* config keys)");
        return PGP_ERR_USAGE;
    }
    return 0;
}

static int emit(const ExpirePlan *plan, const Catalog *c, const ExpireOptions *o, PgpErr *err)
{
    if (!o->json)
        return expire_plan_print_text(plan, c, o->dry_run, stdout, err);
    json_t *j = NULL;
    int rc = expire_plan_to_json(plan, c, o->dry_run, &j, err);
    if (rc == 0 && (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
                    fputc('\n', stdout) == EOF || fflush(stdout) != 0))
        rc = PGP_FAIL(err, PGP_ERR_IO, "cannot write the expire report");
    json_decref(j);
    return rc;
}

/* Unfinished multipart uploads (S3) older than an hour are a killed writer's: abort them. */
static int abort_uploads(Storage *storage, int64_t now, PgpErr *err)
{
    long age = REPO_UPLOAD_ABORT_AGE_S;
    const char *text = getenv(cmd_option(CMD_OPT_UPLOAD_ABORT_AGE)->env);
    const CmdOption *o = cmd_option(CMD_OPT_UPLOAD_ABORT_AGE);
    int rc = text != NULL ? cmd_parse_int(o->env, text, o->min, o->max, &age, err) : 0;
    RepoUploads u;
    if (rc == 0)
        rc = repo_uploads_sweep(storage, now - age + (age == 0), &u, err);
    if (rc == 0 && u.aborted > 0)
        log_info("aborted %zu unfinished multipart upload(s) older than %ld s", u.aborted, age);
    return rc != 0 ? pgp_err_context(err, "expire") : 0;
}

/* What the removal's hooks need: the lock to confirm before every removal step (still_locked),
 * and the progress line on a terminal (stderr), at most every half second and at the end of a
 * phase: removing many objects from S3 takes a while, one request each. */
typedef struct ExpireRun {
    RepoLock *lock;
    bool tty;
    struct timespec last;
    bool shown;
} ExpireRun;

/* The plan was made under the expire lock; removing by it is only safe while that lock is
 * still ours (repo_lock_confirm). */
static int still_locked(void *ud, PgpErr *err)
{
    const ExpireRun *r = ud;
    return repo_lock_confirm(r->lock, err);
}

static void on_progress(void *ud, const char *phase, size_t done, size_t total)
{
    ExpireRun *t = ud;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t)(now.tv_sec - t->last.tv_sec) * 1000 +
                 (now.tv_nsec - t->last.tv_nsec) / 1000000;
    if (!t->tty || total == 0 || (done != total && ms < 500))
        return;
    t->last = now;
    t->shown = true;
    fprintf(stderr, "\rexpire: removing %s: %zu/%zu (%d%%)   ", phase, done, total,
            (int)(100.0 * (double)done / (double)total));
    fflush(stderr);
}

static int run_expire(const CmdSettings *s, const ExpireOptions *o, PgpErr *err)
{
    Storage *storage = NULL;
    Repo *repo = NULL;
    RepoLock *lock = NULL;
    Catalog c = {0};
    ExpirePlan plan = {0};
    int rc = cmd_open_repo(s, false, &storage, &repo, err);
    if (rc == 0)
        rc = cmd_lock_repo(s, storage, REPO_LOCK_EXPIRE, "expire", o->lock_wait, &lock, err);
    if (rc == 0)
        rc = catalog_load(repo, CATALOG_LOAD_BACKUPS | CATALOG_LOAD_WAL, &c, err);
    if (rc == 0 && !c.bound) {
        PGP_FAIL(err, PGP_ERR_CONFIG, "repository \"%s\" is not bound to a cluster: nothing to "
                 "expire", s->repo_path);
        rc = PGP_ERR_CONFIG;
    }
    if (rc == 0)
        rc = expire_plan_build(storage, repo_crypto_key(repo), &c, &o->policy, (int64_t)time(NULL),
                               &plan, err);
    if (rc == 0)
        rc = emit(&plan, &c, o, err);
    if (rc == 0 && !o->dry_run) {
        ExpireRun run = {.lock = lock, .tty = isatty(STDERR_FILENO) == 1};
        const ExpireHooks hooks = {.progress = on_progress, .guard = still_locked, .ud = &run};
        rc = expire_plan_execute_progress(storage, &plan, &hooks, err);
        if (run.shown)
            fputs("\n", stderr);
        if (rc != 0)
            pgp_err_hint(err, "run pgpitr expire again to finish: it resumes where this stopped");
    }
    if (rc == 0 && !o->dry_run)
        rc = abort_uploads(storage, plan.now, err);
    if (rc == 0 && !o->json)
        printf(o->dry_run ? "dry run: nothing was removed\n"
                          : "expire done: %zu backup(s), %zu incomplete, %zu object(s), "
                            "%zu WAL file(s) removed\n",
               expire_plan_removed_backups(&plan), plan.n_incomplete, plan.n_objects, plan.n_wal);
    expire_plan_free(&plan);
    catalog_free(&c);
    repo_lock_release(lock);
    repo_free(repo);
    storage_free(storage);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdSettings s;
    int rc = cmd_settings_load(g, &s, err);
    if (rc != 0)
        return rc;
    ExpireOptions o;
    bool help = false;
    rc = parse_options(argc, argv, &s, &o, &help, err);
    if (rc == 0 && !help)   /* help: the parser printed the usage */
        rc = run_expire(&s, &o, err);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_expire = {
    .name = "expire",
    .summary = "remove backups and WAL the retention policy no longer keeps",
    .usage =
        "usage: pgpitr [--repo PATH] expire [OPTIONS]\n"
        "\n"
        "Removes the backups no retention policy keeps, then backup file objects no kept\n"
        "backup references, then archived WAL older than the oldest kept backup's start\n"
        "(on every timeline; history files always stay), but never WAL that a running\n"
        "recovery's lease holds (leases/: written by restore, renewed by archive-get;\n"
        "expired ones are removed). Policies combine: a backup stays\n"
        "when any of them keeps it, and the newest backup always stays. At least one policy\n"
        "is required. Calendar periods are UTC days, ISO weeks and months.\n"
        "\n"
        "options:\n"
        "  --retain-full N     keep the N newest backups (config retain-full)\n"
        "  --retain-days D     keep every point of the last D days recoverable\n"
        "                      (config retain-days)\n"
        "  --retain-daily N    newest backup of each of the last N days (retain-daily)\n"
        "  --retain-weekly N   newest backup of each of the last N weeks (retain-weekly)\n"
        "  --retain-monthly N  newest backup of each of the last N months (retain-monthly)\n"
        "  --dry-run           print the plan, remove nothing\n"
        "  --output text|json  plan format (default text; JSON: docs/expire.md)\n"
        "  --lock-wait S       wait up to S seconds for the repository lock (env\n"
        "                      PGPITR_LOCK_WAIT, config lock-wait; default 0)\n",
    .run = run,
    .exit_ok = "the plan was carried out (with --dry-run: printed)",
};
