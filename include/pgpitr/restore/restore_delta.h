/*
 * restore_delta.h - restoring over an existing data directory (--delta) and relocating
 * tablespaces (--tablespace-map): clearing what the backup does not have, and rewriting
 * PostgreSQL's tablespace_map for new locations. The per-file delta check
 * (restore_file_delta) is declared in restore_files.h, beside the pool that runs it.
 */
#ifndef PGPITR_RESTORE_DELTA_H
#define PGPITR_RESTORE_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/manifest.h"

typedef struct RestoreExpected {
    const char *path;                   /* full path the restore will create */
    ManifestEntryType type;
} RestoreExpected;

/* Sorts by path (restore_delta_clean looks paths up with bsearch). */
void restore_expected_sort(RestoreExpected *v, size_t n);

/*
 * Makes the existing tree below root ready for a delta restore: removes (recursively, never
 * following a symlink) every entry that expect does not list, every entry whose type differs
 * from the one listed, and every symlink (the restore recreates the ones it lists);
 * directories listed are descended into, regular files listed are left for
 * restore_file_delta. With keep_unknown_top, unlisted entries directly below root are left
 * alone with a warning (a tablespace location may hold other clusters' version directories).
 * *removed (added to) counts entries removed that the backup does not have. A missing root
 * is fine; a failure to remove is an error (a stale file must never survive a delta restore).
 */
int restore_delta_clean(const char *root, const RestoreExpected *expect, size_t n,
                        bool keep_unknown_top, uint64_t *removed, PgpErr *err);

/* rm -r path, never following a symlink (a symlink is removed itself); a missing path is
 * fine. */
int restore_rm_tree(const char *path, PgpErr *err);

typedef struct RestoreTsRelocation {
    uint32_t oid;
    const char *path;                   /* absolute new location */
} RestoreTsRelocation;

/*
 * Rewrites PostgreSQL's tablespace_map at path ("<oid> <path>" lines, the path escaped with a
 * backslash before '\n', '\r' and '\'): the line of each relocated oid names its new path,
 * escaped the same way; every other byte stays. PostgreSQL recreates pg_tblspc/<oid> from this
 * file when it starts from a backup, so without the rewrite it would link the original
 * locations. The file then differs from the backup (pg_verifybackup reports it). Written in
 * place and fsynced; PGP_ERR_CORRUPT for a file above 1 MiB.
 */
int restore_tablespace_map_rewrite(const char *path, const RestoreTsRelocation *rel, size_t n,
                                   PgpErr *err);

/* The text of restore_tablespace_map_rewrite, for unit tests: in (len bytes) -> *out
 * (malloc'd, NUL-terminated). */
int restore_tablespace_map_text(const char *in, size_t len, const RestoreTsRelocation *rel,
                                size_t n, char **out, PgpErr *err);

#endif
