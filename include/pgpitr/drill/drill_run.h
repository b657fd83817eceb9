/*
 * drill_run.h - a recovery drill, as one call: what `pgpitr drill` runs after parsing its
 * options, opening the repository and taking its READ lock for the whole drill.
 */
#ifndef PGPITR_DRILL_RUN_H
#define PGPITR_DRILL_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/restore/restore.h"

/* The request, as `pgpitr drill` parsed it. */
typedef struct DrillOptions {
    RestoreTargetSpec target;
    int n_targets;               /* target options given (at most one) */
    const char *target_text;     /* the value as given, for the report */
    const char *label, *check_sql, *report, *workdir, *pg_bin, *db_user;
    const char *lock_wait;       /* --lock-wait, checked by cmd_lock_repo */
    bool amcheck, keep, json;
    int timeout_s, jobs, max_tables;
    int64_t rto_objective_s, rpo_objective_s;   /* settings rto-/rpo-objective; 0: not set */
} DrillOptions;

/* What the drill takes from the command's settings and command line. */
typedef struct DrillEnv {
    RestoreEnv restore;          /* for restore_run; restore.repo_path names the repository */
    const char *pg_bin;          /* --pg-bin > PGPITR_PG_BIN > config pg-bin; NULL: unset */
    /* The global options and the command's arguments as given: to print the same drill
     * again (drill_next.h). */
    const char *config, *repo, *log_level;
    int argc;
    char **argv;
} DrillEnv;

/* The drill, its report stored in the repository (and written to o->report, printed on
 * stdout as text or JSON). repo is open and bound; the caller holds a READ lock on it until
 * drill_run returns (expire must not remove the backup or the WAL it replays). 0 only when
 * the drill passed; a failed drill is the status of its first error, with a HINT saying what
 * to do next. */
int drill_run(Repo *repo, const DrillOptions *o, const DrillEnv *env, PgpErr *err);

#endif
