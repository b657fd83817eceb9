/*
 * restore_select_impl.h - the backups a restore may choose from, shared by restore_select.c
 * (which loads them) and restore_plan.c (which chooses among them). Internal to src/restore.
 */
#ifndef PGPITR_RESTORE_SELECT_IMPL_H
#define PGPITR_RESTORE_SELECT_IMPL_H

#include <stddef.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/storage/storage.h"

typedef struct Candidates {
    BackupManifest **v;                 /* headers only (entries not kept) */
    size_t n;
    size_t n_incomplete;
    ManifestPack *files;                /* label given: v[0]'s entries, read with its header
                                           (one pass over its manifest); else NULL */
} Candidates;

/* label given: that backup alone, with its entries in files (PGP_ERR_NOT_FOUND with a HINT
 * when it is missing or incomplete); NULL: every complete backup, newest first (an unreadable
 * manifest is an error; none is PGP_ERR_NOT_FOUND). *c is empty after a failure. */
int restore_load_candidates(Storage *s, const CryptoRepoKey *key, const char *label, Candidates *c,
                            PgpErr *err);
void restore_candidates_free(Candidates *c);

#endif
