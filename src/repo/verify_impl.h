/*
 * verify_impl.h - private to verify_check.c and verify_chunk_report.c: the analysis in
 * progress (the report being built) and the three calls that add to it, so that the problems
 * of chunked files (backup_chunk_list, backup_chunk) are built the same way as every other.
 */
#ifndef PGPITR_VERIFY_IMPL_H
#define PGPITR_VERIFY_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/repo/verify_check.h"

typedef struct VerifyAnalysis {
    const VerifyPlan *plan;
    const Catalog *c;
    VerifyReport *r;
    size_t cap;
    CatalogWal *view;           /* copy of Catalog.wal with damaged files marked unusable */
    bool *damaged;              /* per Catalog.wal index */
    bool nomem;
} VerifyAnalysis;

/* A malloc'd string (NULL and a->nomem set when out of memory). */
char *verify_fmt(VerifyAnalysis *a, const char *f, ...) __attribute__((format(printf, 2, 3)));
/* Adds a problem, taking ownership of subject, message and breaks; NULL when out of memory. */
VerifyProblem *verify_add(VerifyAnalysis *a, bool error, const char *kind, char *subject,
                          char *message, char *breaks, uint32_t tli);
/* Records that p (may be NULL) makes backup bi unrestorable. */
void verify_add_backup(VerifyAnalysis *a, VerifyProblem *p, size_t bi);

/* The problems of chunked files: damaged or missing lists, then chunks (verify_chunk_report.c). */
void verify_check_chunks(VerifyAnalysis *a);

#endif
