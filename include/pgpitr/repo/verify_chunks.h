/*
 * verify_chunks.h - what `pgpitr verify` reads for files stored as chunks (manifest format 3,
 * docs/chunking.md "Verify"): every distinct chunk list referenced by the checked backups is
 * read, verified against its content address and checked strictly (chunk_load.h); the chunks
 * the lists name are collected into one set of distinct objects (digest + codec), and each is
 * read once however many lists and backups share it. When some chunk is bad, the lists are
 * read a second time to find which files (and which chunk of each) use it, for the report.
 * Owns no report: verify_check.c turns the result into problems (backup_chunk_list,
 * backup_chunk) and says what they break.
 *
 * Memory: the distinct chunks are 40-byte records (no path strings; a path is made from the
 * digest when the chunk is read) in a bounded sorted set (common/extsort.h): up to 262,144 in
 * memory (10 MiB), beyond that sorted runs in an unlinked temporary file in $TMPDIR (40 bytes
 * a distinct chunk on disk: 2 TB of relation files at 1 MiB chunks is about 2.8 million
 * chunks, ~110 MiB of disk instead of ~110-220 MiB of memory), merged and read back by
 * number. Nothing is kept per chunk in memory: a bad chunk is kept with its report, and the
 * second pass over the lists recovers the uses of the few bad chunks only.
 */
#ifndef PGPITR_VERIFY_CHUNKS_H
#define PGPITR_VERIFY_CHUNKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/common/extsort.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/repo/verify_objects.h"
#include "pgpitr/storage/storage.h"

/* One chunked file entry of a checked backup. */
typedef struct VerifyChunkRef {
    size_t backup;          /* index into Catalog.backups */
    size_t entry;           /* index into that backup's files (CatalogBackup.files) */
} VerifyChunkRef;

/* One distinct chunk object: objects/<hex(digest)[0:2]>/<hex(digest)><codec ext>. */
typedef struct VerifyChunk {
    uint8_t digest[PIPE_SHA256_LEN];
    uint32_t len;           /* original bytes, from the first list that named it */
    uint8_t codec;          /* PipeCodec */
    uint8_t status;         /* VerifyStatus once read */
} VerifyChunk;

/* A chunk that is not ok, and why. */
typedef struct VerifyChunkBad {
    size_t chunk;           /* its number in the set of distinct chunks (sorted) */
    char *reason;           /* one line (malloc'd; NULL when none could be allocated) */
    VerifyChunk ch;         /* the chunk, its status set */
} VerifyChunkBad;

/* Bad chunk `chunk` is chunk number `index` of list `list`. */
typedef struct VerifyChunkHit {
    size_t chunk;           /* its number in the set (VerifyChunkBad.chunk) */
    size_t list;            /* list number (see list_first) */
    size_t index;           /* chunk number in that list (and file) */
} VerifyChunkHit;

typedef struct VerifyChunks {
    const Catalog *c;
    /* the plan: chunked entries sorted by list object path, then file path, tablespace,
     * backup; list k (a distinct list object) has refs [list_first[k], list_first[k + 1]) */
    VerifyChunkRef *refs;
    size_t n_refs, n_lists;
    size_t *list_first;
    /* the run (verify_chunks_run): */
    bool ran;
    const CryptoRepoKey *key;   /* the run's (VerifyPoolOptions.key): names the chunks */
    char **list_error;      /* per list: why it cannot be used (every file of it is broken,
                               its chunks are not checked); NULL when it loaded */
    char **ref_error;       /* per ref: the list loaded (for its first file) but does not
                               describe this entry; NULL otherwise */
    ExtSort *set;           /* distinct chunks of the usable lists, sorted (digest, codec) */
    size_t n_chunks;
    size_t in_memory;       /* set before the run: distinct chunks held in memory before the
                               set spills to a file; 0: 262,144 (tests use tiny ones) */
    VerifyChunkBad *bad;    /* sorted by chunk */
    size_t n_bad, cap_bad;
    VerifyChunkHit *hits;   /* every use of a bad chunk, sorted by chunk, list, index */
    size_t n_hits, cap_hits;
    uint64_t list_reads;    /* list objects read (the second pass counts too) */
    VerifyPoolResult pool;  /* the chunk objects read: objects = distinct chunks read */
} VerifyChunks;

/* Collects the chunked entries of the checked backups (only, or every complete one; their
 * entries loaded). Reads nothing. */
int verify_chunks_plan(const Catalog *c, const CatalogBackup *only, VerifyChunks *out,
                       PgpErr *err);

/*
 * Reads every list (opt->workers threads), then every distinct chunk, then, when a chunk is
 * bad, the lists again to find its uses. Damage is a result (list_error, ref_error, bad,
 * hits), not an error: fails only for memory, threads, or a cancel (PGP_ERR_IO).
 */
int verify_chunks_run(Storage *s, VerifyChunks *v, const VerifyPoolOptions *opt, PgpErr *err);

/* The entry of r, unpacked from its backup's pack into u (its strings point into the pack,
 * valid as long as the catalog). */
const ManifestEntry *verify_chunk_ref_entry(const Catalog *c, const VerifyChunkRef *r,
                                            ManifestUnpacked *u);

/* The object path of chunk ch. */
int verify_chunk_path(const VerifyChunk *ch, const CryptoRepoKey *key, char out[REPO_PATH_MAX],
                      PgpErr *err);

void verify_chunks_free(VerifyChunks *v);   /* zeroed after; a zeroed one is a no-op */

#endif
