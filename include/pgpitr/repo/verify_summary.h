/*
 * verify_summary.h - what the newest whole-repository `pgpitr verify` found, kept in the
 * repository (verify/<time>-<rand>.json: when it finished, how many objects it read, how many
 * problems it found) so that info's model and `pgpitr metrics` can say it without re-reading
 * anything. Only the newest VERIFY_SUMMARY_KEEP summaries are kept.
 */
#ifndef PGPITR_VERIFY_SUMMARY_H
#define PGPITR_VERIFY_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/storage/storage.h"

#define VERIFY_SUMMARY_KEEP 10

typedef struct VerifySummary {
    bool found;
    int64_t finished;            /* seconds */
    uint64_t objects;            /* objects read */
    uint64_t errors;             /* problems found */
} VerifySummary;

/* Stores the summary (finished, objects, errors of *v) as a new object, then removes all but
 * the newest VERIFY_SUMMARY_KEEP (a failure to remove an old one is only a warning). Both
 * functions go through meta_io.h with key (repo_crypto_key; NULL: unencrypted). */
int verify_summary_store(Storage *s, const CryptoRepoKey *key, const VerifySummary *v,
                         PgpErr *err);
/* The newest summary that parses (one that does not, or is corrupt, is skipped with a
 * warning); none: out->found false. Storage errors are returned. */
int verify_summary_find_newest(Storage *s, const CryptoRepoKey *key, VerifySummary *out,
                               PgpErr *err);
/* Its text and parser (unit tested): false when text is not a summary. */
bool verify_summary_parse(const char *text, size_t len, VerifySummary *out);

#endif
