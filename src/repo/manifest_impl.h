/*
 * manifest_impl.h - private to src/repo/manifest*.c: what manifest.c (struct, validation,
 * writing, storage) shares with manifest_read.c (reading the JSON). Nothing else includes it.
 */
#ifndef PGPITR_REPO_MANIFEST_IMPL_H
#define PGPITR_REPO_MANIFEST_IMPL_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
