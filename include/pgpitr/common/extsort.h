/*
 * extsort.h - a sorted, de-duplicated set of fixed-size records in bounded memory: records
 * are added in any order, kept in a buffer of at most mem_records, and when it fills, sorted,
 * de-duplicated and spilled as a run to an unlinked temporary file; once all are in, the runs
 * are merged into one sorted file of distinct records, read back by index (pread). Used by
 * verify for the distinct chunks of every checked chunk list (a 2 TB cluster at 1 MiB chunks
 * is about 3 million a backup, more over many backups).
 *
 * Memory: the buffer (mem_records x rec_size, grown only as records come), and while merging
 * 64 KiB a run for at most EXTSORT_MAX_RUNS runs (more runs are first merged into one), so a
 * few MiB whatever the number of records. Disk: rec_size a distinct record, plus the runs not
 * yet merged, in $TMPDIR (or /tmp) unless a directory is given. When every record fits in
 * the buffer, nothing is written.
 */
#ifndef PGPITR_COMMON_EXTSORT_H
#define PGPITR_COMMON_EXTSORT_H

#include <stddef.h>

#include "pgpitr/common/err.h"

#define EXTSORT_MAX_RUNS 64

typedef struct ExtSort ExtSort;
typedef int (*ExtSortCmp)(const void *a, const void *b);

/* tmpdir NULL: $TMPDIR, or /tmp. Equal records (cmp 0) are kept once (any one of them). */
int extsort_new(size_t rec_size, ExtSortCmp cmp, size_t mem_records, const char *tmpdir,
                ExtSort **out, PgpErr *err);
int extsort_add(ExtSort *s, const void *rec, PgpErr *err);
/* After the last add: the distinct records, sorted by cmp, readable with extsort_get. */
int extsort_finish(ExtSort *s, PgpErr *err);
size_t extsort_count(const ExtSort *s);            /* distinct records, after finish */
/* Record i (< extsort_count) into rec; safe from several threads at once. */
int extsort_get(const ExtSort *s, size_t i, void *rec, PgpErr *err);
/* Runs spilled so far (0: everything fitted in memory): for tests and the docs' figures. */
size_t extsort_spilled_runs(const ExtSort *s);
void extsort_free(ExtSort *s);                     /* NULL is a no-op; removes the file */

#endif
