/*
 * verify_run.h - re-reading the repository's objects and saying what any damage breaks, as
 * one call: what `pgpitr verify` runs under its READ lock, before it prints the report.
 */
#ifndef PGPITR_VERIFY_RUN_H
#define PGPITR_VERIFY_RUN_H

#include <stdbool.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/repo/verify_check.h"
#include "pgpitr/repo/verify_objects.h"

typedef struct VerifyRequest {
    const char *label;           /* only this backup's objects and the WAL it reads; NULL: all */
    int jobs;                    /* reader threads */
    bool progress;               /* a progress line on stderr when it is a terminal */
} VerifyRequest;

typedef struct VerifyRun {
    Catalog catalog;
    bool planned;                /* plan was built */
    VerifyPlan plan;
    VerifyPoolResult pool;       /* what the object pool read */
    double seconds;              /* reading the objects */
    VerifyReport report;         /* every problem and what it breaks */
} VerifyRun;

/* Loads the catalog (backups and WAL), plans what to read (req->label not in the repository is
 * PGP_ERR_NOT_FOUND with a HINT), reads and checks every object, and analyses what the
 * problems break. repo is bound; the caller holds a READ lock (an expire must not remove
 * objects meanwhile). Problems found are in out->report, not an error. Free out with
 * verify_run_free, also after a failure. */
int verify_run(Repo *repo, const VerifyRequest *req, VerifyRun *out, PgpErr *err);
void verify_run_free(VerifyRun *r);

#endif
