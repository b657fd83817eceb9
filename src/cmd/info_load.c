/*
 * info_load.c - loading the model of `pgpitr info` (info.h): the catalog, the lock holders,
 * the recovery leases, info_analyze (src/repo/info_model.c), and the newest drill report.
 */
#include "pgpitr/cmd/info.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"
#include "pgpitr/repo/object_usage.h"

_Static_assert(INFO_DRILL_ID_MAX >= DRILL_ID_MAX && INFO_DRILL_TIME_MAX >= DRILL_TIME_MAX,
               "InfoDrill holds a drill report's id and times");

/* ---- the newest drill report --------------------------------------------------------------- */

/* "20261122T040000Z-3fa9" -> seconds; 0 if it does not parse. */
static int64_t id_time(const char *id)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(id, "%Y%m%dT%H%M%SZ", &tm);
    return end != NULL ? (int64_t)timegm(&tm) : 0;
}

int info_find_drill(Storage *s, const CryptoRepoKey *key, InfoDrill *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    DrillReportSummary d;
    int rc = drill_report_find_newest(s, key, NULL, &d, err);
    if (rc != 0 || !d.found)
        return rc;
    out->found = true;
    snprintf(out->id, sizeof out->id, "%s", d.id);
    snprintf(out->status, sizeof out->status, "%s", d.status);
    snprintf(out->started, sizeof out->started, "%s", d.started);
    snprintf(out->finished, sizeof out->finished, "%s", d.finished);
    out->started_t = id_time(d.id);
    /* A failed drill's duration is not a recovery time. */
    out->has_rto = strcmp(d.status, "passed") == 0 && d.has_total && d.total_s >= 0;
    out->rto_s = out->has_rto ? d.total_s : 0;
    /* drill_report_summary_parse has checked every value (a report is not trusted). */
    out->has_objectives = d.has_objectives;
    out->obj_rto = d.obj_rto;
    out->obj_rpo = d.obj_rpo;
    return 0;
}

int info_load_settings(const CmdSettings *s, Info *info, PgpErr *err)
{
    int rc = cmd_opt_duration_setting(s, CMD_OPT_RPO_OBJECTIVE, NULL, &info->rpo_objective_s,
                                      err);
    if (rc == 0)
        rc = cmd_opt_duration_setting(s, CMD_OPT_RTO_OBJECTIVE, NULL, &info->rto_objective_s,
                                      err);
    if (rc == 0)
        rc = cmd_opt_duration_setting(s, CMD_OPT_BACKUP_MAX_AGE, NULL, &info->backup_max_age_s,
                                      err);
    if (rc == 0)
        rc = cmd_opt_duration_setting(s, CMD_OPT_DRILL_MAX_AGE, NULL, &info->drill_max_age_s,
                                      err);
    return rc;
}

/* ---- load / free ---------------------------------------------------------------------------- */

/* After the catalog: a backup that created its directory while the catalog was read has
 * recorded its label in its lock already. A lock that cannot be read must not cost the
 * whole report at 3 a.m.: a warning, and no backup is shown as running. */
static int load_locks(Storage *s, Info *info, PgpErr *err)
{
    PgpErr e = {0};
    int rc = repo_lock_list(s, 0, &info->locks, &info->n_locks, &e);
    if (rc == PGP_ERR_NOMEM)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "%s", e.msg);
    if (rc != 0) {
        log_warn("cannot list the repository locks: %s", e.msg);
        info->locks_unknown = true;
    }
    return 0;
}

/* Leases say why expire keeps more WAL than the policy: worth a warning, never the report. */
static int load_leases(Storage *s, Info *info, PgpErr *err)
{
    PgpErr e = {0};
    int rc = lease_list(s, info->cat.id.wal_segsize, info->now, &info->leases, &info->n_leases,
                        &e);
    if (rc == PGP_ERR_NOMEM)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "%s", e.msg);
    if (rc != 0) {
        log_warn("cannot list the recovery leases: %s", e.msg);
        info->leases_unknown = true;
    }
    return 0;
}

/* What the newest verify found: a warning when it cannot be read, like the locks. */
static int load_verify(Storage *s, const CryptoRepoKey *key, Info *info, PgpErr *err)
{
    PgpErr e = {0};
    int rc = verify_summary_find_newest(s, key, &info->verify, &e);
    if (rc == PGP_ERR_NOMEM)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "%s", e.msg);
    if (rc != 0) {
        log_warn("cannot read the verify summaries: %s", e.msg);
        info->verify_unknown = true;
    }
    return 0;
}

int info_load(Repo *repo, const char *repo_path, int64_t now, Info *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->repo_path, sizeof out->repo_path, "%s", repo_path);
    out->now = now;
    int rc = catalog_load(repo, CATALOG_LOAD_BACKUPS | CATALOG_LOAD_WAL, &out->cat, err);
    if (rc == 0)
        rc = load_locks(repo_storage(repo), out, err);
    if (rc == 0 && out->cat.bound)
        rc = load_leases(repo_storage(repo), out, err);
    if (rc == 0)
        rc = info_analyze(out, err);
    if (rc == 0 && out->cat.bound)
        rc = info_find_drill(repo_storage(repo), repo_crypto_key(repo), &out->drill, err);
    if (rc == 0 && out->cat.bound)
        rc = load_verify(repo_storage(repo), repo_crypto_key(repo), out, err);
    return rc;
}

int info_count_objects(Repo *repo, Info *info, PgpErr *err)
{
    ObjectUsage u;
    int rc = object_usage_count(repo_storage(repo), &u, err);
    info->backup_objects = u.objects;
    info->backup_object_bytes = u.bytes;
    return rc;
}
