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
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pgpitr/repo/catalog.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/repo/expire_plan.h"
#include "pgpitr/common/log.h"

typedef struct ExpireOptions {
    RetentionPolicy policy;
    bool dry_run;
    bool json;
    const char *lock_wait;
} ExpireOptions;

/* flag > config key: each policy on its own. */
static int policy_setting(const CmdSettings *s, const char *flag, const char *key, unsigned *out,
                          PgpErr *err)
{
    const char *text = cmd_setting(s, flag, NULL, key);
    if (text == NULL)
        return 0;
    long v = 0;
    int rc = cmd_parse_int(key, text, 0, RETENTION_COUNT_MAX, &v, err);
    if (rc != 0) {
        pgp_err_hint(err, "give a count from 1 to %u, or 0 for not set", RETENTION_COUNT_MAX);
        return rc;
    }
    *out = (unsigned)v;
    return 0;
}

enum { OPT_FULL = 1000, OPT_DAYS, OPT_DAILY, OPT_WEEKLY, OPT_MONTHLY, OPT_LOCK_WAIT };

static int parse_options(int argc, char **argv, const CmdSettings *s, ExpireOptions *o,
                         bool *help, PgpErr *err)
{
    static const struct option longopts[] = {
        {"retain-full", required_argument, NULL, OPT_FULL},
        {"retain-days", required_argument, NULL, OPT_DAYS},
        {"retain-daily", required_argument, NULL, OPT_DAILY},
        {"retain-weekly", required_argument, NULL, OPT_WEEKLY},
        {"retain-monthly", required_argument, NULL, OPT_MONTHLY},
        {"lock-wait", required_argument, NULL, OPT_LOCK_WAIT},
        {"dry-run", no_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *flags[5] = {NULL};
    memset(o, 0, sizeof *o);
    int c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_FULL: case OPT_DAYS: case OPT_DAILY: case OPT_WEEKLY: case OPT_MONTHLY:
            flags[c - OPT_FULL] = optarg;
            break;
        case OPT_LOCK_WAIT: o->lock_wait = optarg; break;
        case 'n': o->dry_run = true; break;
        case 'h': *help = true; return 0;
        case 'o':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
                return cmd_usage_error(err, &cmd_expire, "--output must be text or json");
            o->json = strcmp(optarg, "json") == 0;
            break;
        default:
            return cmd_usage_error(err, &cmd_expire, "unknown or incomplete option \"%s\"",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cmd_usage_error(err, &cmd_expire, "unexpected argument \"%s\"", argv[optind]);
    static const char *const keys[5] = {"retain-full", "retain-days", "retain-daily",
                                        "retain-weekly", "retain-monthly"};
    unsigned *targets[5] = {&o->policy.full, &o->policy.days, &o->policy.daily,
                            &o->policy.weekly, &o->policy.monthly};
    for (int i = 0; i < 5; i++) {
        int rc = policy_setting(s, flags[i], keys[i], targets[i], err);
        if (rc != 0)
            return rc;
    }
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
        rc = expire_plan_build(storage, &c, &o->policy, (int64_t)time(NULL), &plan, err);
    if (rc == 0)
        rc = emit(&plan, &c, o, err);
    if (rc == 0 && !o->dry_run) {
        rc = expire_plan_execute(storage, &plan, err);
        if (rc != 0)
            pgp_err_hint(err, "run pgpitr expire again to finish: it resumes where this stopped");
    }
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
    if (rc == 0 && help)
        cmd_print_usage(&cmd_expire, stdout);
    else if (rc == 0)
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
