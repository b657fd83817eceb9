/*
 * verify_check.h - what `pgpitr verify` checks and what each problem breaks: the list of
 * objects to re-read (each backup file object once, every archived WAL file, and the chunked
 * files' lists and chunks: verify_chunks.h), and, once they are read (verify_objects.h,
 * verify_chunks_run), the analysis into problems (errors) and notes, each naming what it
 * breaks: which backups can no longer be restored, which ranges of WAL positions are
 * no longer recoverable, which timeline cannot be followed. Owns no output format: verify.c
 * prints the report as text or JSON.
 */
#ifndef PGPITR_VERIFY_CHECK_H
#define PGPITR_VERIFY_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/repo/catalog.h"
#include "pgpitr/common/err.h"
#include "pgpitr/repo/verify_chunks.h"
#include "pgpitr/repo/verify_objects.h"

/* One backup file object and the entries that reference it. */
typedef struct VerifyRef {
    size_t backup;          /* index into Catalog.backups */
    size_t entry;           /* index into that backup's files (CatalogBackup.files) */
} VerifyRef;

typedef struct VerifyPlan {
    const Catalog *c;
    const CryptoRepoKey *key;   /* an encrypted repository's (set by verify_run) */
    const CatalogBackup *only;  /* --backup: only this backup and its WAL; NULL: everything */
    VerifyObject *objs;         /* backup file objects, then WAL files (segments, partials,
                                   .backup files) */
    size_t n_objs, n_file_objs;
    VerifyRef *refs;            /* sorted by object path; file object i has refs
                                   [ref_first[i], ref_first[i + 1]) */
    size_t *ref_first;
    size_t *wal_index;          /* WAL object k (objs[n_file_objs + k]) is Catalog.wal[...] */
    uint8_t *wal_heads;         /* WAL object k's head: VERIFY_HEAD_LEN bytes at k * that
                                   (file objects keep none: 64 bytes a file saved) */
    size_t n_backups_checked, n_histories;
    VerifyChunks chunks;        /* files stored as chunks: their lists and chunks, read by
                                   verify_chunks_run after objs (not run: nothing reported) */
} VerifyPlan;

/* Builds the list of objects to read. only may be NULL. The backups checked (only, or every
 * complete one) must have their entries loaded (catalog_load_files): a header alone is
 * PGP_ERR_INTERNAL, never a backup with nothing to verify. */
int verify_plan_build(const Catalog *c, const CatalogBackup *only, VerifyPlan *out,
                      PgpErr *err);
void verify_plan_free(VerifyPlan *p);

/* A file a problem of a chunked file breaks (backup_chunk, backup_chunk_list). */
typedef struct VerifyProblemFile {
    const char *path;           /* points into the catalog's manifest */
    uint32_t tablespace;
    bool has_chunk;             /* backup_chunk: which chunk of the file, and its bytes */
    uint64_t chunk, offset, length;
    const char **backups;       /* labels of the backups holding the file (into the catalog) */
    size_t n_backups;
} VerifyProblemFile;

typedef struct VerifyProblem {
    bool error;                 /* false: a note (does not fail verify) */
    const char *kind;           /* "backup_file", "backup_chunk_list", "backup_chunk",
                                   "pg_manifest", "manifest", "wal_file",
                                   "wal_missing", "wal_conflict", "history_missing",
                                   "history_corrupt", "history_parent", "incomplete_backup",
                                   "wal_gap", "foreign" */
    char *subject;              /* the object path, segment name or backup label */
    char *message;              /* what is wrong, one line */
    char *breaks;               /* what it breaks, one line; NULL for notes that break nothing */
    uint32_t tli;               /* the timeline concerned, 0 if none */
    const char **backups;       /* labels (pointing into the catalog) that cannot be restored */
    size_t n_backups;
    VerifyProblemFile *files;   /* chunked files: every file broken, each once (the breaks
                                   line names at most 16); NULL for other kinds */
    size_t n_files;
} VerifyProblem;

/* How far each checked backup recovers along one timeline. */
typedef struct VerifyReachRow {
    size_t backup;              /* index into Catalog.backups */
    uint32_t tli;
    CatalogReach reach;         /* with damaged WAL counted as missing */
} VerifyReachRow;

typedef struct VerifyReport {
    VerifyProblem *problems;    /* errors and notes, in discovery order */
    size_t n_problems, n_errors;
    bool *restorable;           /* per Catalog.backups index (checked backups only) */
    VerifyReachRow *reach;
    size_t n_reach;
} VerifyReport;

/* Reads the PostgreSQL backup_manifest objects of the checked backups (small: on the calling
 * thread) and analyses everything: plan->objs must have been run. */
int verify_analyze(Storage *s, const VerifyPlan *plan, VerifyReport *out, PgpErr *err);
void verify_report_free(VerifyReport *r);

#endif
