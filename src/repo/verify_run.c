/*
 * verify_run.c - verify_run() (verify_run.h), what `pgpitr verify` runs under its READ lock:
 * the catalog (catalog.c), the plan and the analysis (verify_check.c), the object pool
 * (verify_objects.c) and the chunked files' lists and chunks (verify_chunks.c), with a progress line on a terminal. Prints nothing else: the report is
 * the command's.
 */
#include "pgpitr/repo/verify_run.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- progress ------------------------------------------------------------------------------ */

typedef struct Progress {
    bool tty;
    struct timespec t0;
    size_t total;       /* objects to read; 0: unknown (chunks) */
} Progress;

static double since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_progress(void *ud, uint64_t done, uint64_t bytes)
{
    Progress *p = ud;
    if (!p->tty)
        return;
    double s = since(&p->t0);
    double mib = (double)bytes / 1048576.0, rate = s > 0 ? mib / s : 0.0;
    if (p->total > 0)
        fprintf(stderr, "\rverify: %" PRIu64 "/%zu objects, %.1f MiB, %.1f MiB/s   ", done,
                p->total, mib, rate);
    else   /* chunks: how many is known only once the lists are read */
        fprintf(stderr, "\rverify: %" PRIu64 " chunks, %.1f MiB, %.1f MiB/s   ", done, mib, rate);
    fflush(stderr);
}

/* ---- the run ------------------------------------------------------------------------------- */

static int find_backup(const Catalog *c, const char *label, const CatalogBackup **out,
                       PgpErr *err)
{
    *out = NULL;
    if (label == NULL)
        return 0;
    for (size_t i = 0; i < c->n_backups; i++)
        if (strcmp(c->backups[i].label, label) == 0)
            *out = &c->backups[i];
    char q[PGP_QUOTE_BUF];
    if (*out == NULL) {
        PGP_FAIL(err, PGP_ERR_NOT_FOUND, "backup \"%s\" not found in the repository",
                 pgp_quote(label, q));
        pgp_err_hint(err, "pgpitr info lists the backups");
        return PGP_ERR_NOT_FOUND;
    }
    return 0;
}

/* The catalog holds manifest headers only: the entries of the backups checked (one with
 * --backup) are read now, so that verifying one backup never holds the others' files. */
static int load_checked_entries(Repo *repo, Catalog *c, const CatalogBackup *only, PgpErr *err)
{
    for (size_t i = 0; i < c->n_backups; i++) {
        CatalogBackup *b = &c->backups[i];
        if (b->status != CATALOG_BACKUP_COMPLETE || (only != NULL && only != b))
            continue;
        int rc = catalog_load_files(repo, b, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int verify_run(Repo *repo, const VerifyRequest *req, VerifyRun *out, PgpErr *err)
{
    const CatalogBackup *only = NULL;
    Progress pr = {.tty = req->progress && isatty(STDERR_FILENO)};
    memset(out, 0, sizeof *out);
    int rc = catalog_load(repo, CATALOG_LOAD_BACKUPS | CATALOG_LOAD_WAL, &out->catalog, err);
    if (rc == 0)
        rc = find_backup(&out->catalog, req->label, &only, err);
    if (rc == 0)
        rc = load_checked_entries(repo, &out->catalog, only, err);
    if (rc == 0)
        rc = verify_plan_build(&out->catalog, only, &out->plan, err);
    if (rc != 0)
        return rc;
    out->planned = true;
    out->plan.key = repo_crypto_key(repo);
    pr.total = out->plan.n_objs;
    clock_gettime(CLOCK_MONOTONIC, &pr.t0);
    struct timespec t_all = pr.t0;
    VerifyPoolOptions po = {.workers = req->jobs, .progress = on_progress, .progress_ud = &pr,
                            .key = repo_crypto_key(repo)};
    rc = verify_objects_run(repo_storage(repo), out->plan.objs, out->plan.n_objs, &po,
                            &out->pool, err);
    if (rc == 0 && out->plan.chunks.n_lists > 0) {
        /* files stored as chunks: their lists, then each distinct chunk once */
        if (pr.tty)
            fputc('\n', stderr);
        pr.total = 0;
        clock_gettime(CLOCK_MONOTONIC, &pr.t0);
        rc = verify_chunks_run(repo_storage(repo), &out->plan.chunks, &po, err);
    }
    out->seconds = since(&t_all);
    if (pr.tty)
        fputc('\n', stderr);
    if (rc == 0)
        rc = verify_analyze(repo_storage(repo), &out->plan, &out->report, err);
    return rc;
}

void verify_run_free(VerifyRun *r)
{
    verify_report_free(&r->report);
    if (r->planned)
        verify_plan_free(&r->plan);
    catalog_free(&r->catalog);
    memset(r, 0, sizeof *r);
}
