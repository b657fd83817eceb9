/*
 * manifest_impl.h - private to src/repo/manifest*.c: what manifest.c (struct, validation,
 * writing, saving) shares with manifest_stream.c (walking the document from storage) and
 * manifest_read.c (the fields of its values). Nothing else includes it.
 */
#ifndef PGPITR_REPO_MANIFEST_IMPL_H
#define PGPITR_REPO_MANIFEST_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pgpitr/repo/manifest.h"

#define BAD(err, ...) PGP_FAIL((err), PGP_ERR_CORRUPT, "invalid backup manifest: " __VA_ARGS__)
#define NOMEM(err) PGP_FAIL((err), PGP_ERR_NOMEM, "out of memory")
/* Return a failing step's code; for steps that need no cleanup. */
#define TRY(call)                                                                          \
    do {                                                                                   \
        int try_rc_ = (call);                                                              \
        if (try_rc_ != 0)                                                                  \
            return try_rc_;                                                                \
    } while (0)

#define WHERE_MAX (PGP_QUOTE_BUF + 64)

/* "file", "dir", "symlink", by ManifestEntryType. */
extern const char *const manifest_type_names[3];

/* "entry 3 (\"base/1/1259\")": how messages name an entry. */
void manifest_entry_where(const ManifestEntry *e, size_t i, char where[WHERE_MAX]);

/* PostgreSQL's "%X/%X" and nothing else (the canonical text must come back out) into the
 * uint64_t at out. */
bool manifest_lsn_parse(const char *s, void *out);

/* Frees the malloc'd strings of an entry parsed by manifest_parse_entry (not of entries in a
 * manifest: those live in its arena) and sets them NULL. */
void manifest_entry_clear(ManifestEntry *e);

/* PGP_ERR_INVALID_NAME for a label manifest_label_valid() refuses, with a HINT. */
int manifest_bad_label(const char *label, PgpErr *err);

/* The rules of manifest_validate() for the header and tablespaces, and for one entry (all but
 * the duplicate paths, which need every entry). */
int manifest_validate_header(const BackupManifest *m, PgpErr *err);
int manifest_validate_entry(const BackupManifest *m, const ManifestEntry *e, size_t i,
                            PgpErr *err);
/* Two entries of m->entries with the same (tablespace, path). */
int manifest_check_duplicates(const BackupManifest *m, PgpErr *err);

/* The fields of the header (root: every top-level field but "entries") into m, including
 * tablespaces and source; and of entry i into e (its strings malloc'd: manifest_entry_clear,
 * also after a failure). Presence, type and range only: validation is separate. */
int manifest_parse_header(json_t *root, BackupManifest *m, PgpErr *err);
int manifest_parse_entry(json_t *o, size_t i, ManifestEntry *e, PgpErr *err);

#endif
