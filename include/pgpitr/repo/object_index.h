/*
 * object_index.h - "is backup object X stored, and how big is it", answered from listings of
 * objects/ instead of one stat per object (src/repo/object_index.c). On S3 a stat is a HEAD
 * request, a round trip each: a backup of ~1000 files paid ~1000 of them to find which
 * contents were already stored, and a restore one per object before writing anything. A
 * listing of one fan-out directory objects/XX answers for every object in it with one request
 * per 1000 names.
 *
 * What is listed, before the first lookup: where the storage lists trees (S3: no delimiter,
 * 1000 keys a request whatever directory they are in), all of objects/ in one listing, but
 * only as many requests of it as a quarter of the lookups expected, and at most 64: a
 * repository of a few thousand objects is then known in a few requests (a backup asks nothing
 * per file), and a larger one has its first directories (in key order) complete. Then, for
 * each directory not covered, on its first lookup: listed when the lookups expected there
 * outnumber the requests its listing takes (pages of 1000 names; the density is learnt from
 * the directories listed), else one storage_stat per lookup. So a one-file lookup in a
 * repository of 200,000 objects costs one request, never a listing of everything. Without
 * tree listings, one listing of objects/ itself tells which directories exist: a lookup in a
 * missing one costs nothing. Storage with real directories (posix) always gets one stat per
 * lookup: a stat is a system call, and its listing stats every entry anyway.
 *
 * Each listed directory is a sorted array of (SHA-256 digest, codec, size), 40 bytes an
 * object, binary-searched. Names that are not content addresses of that directory (stray
 * files, another fan's digest, an unknown extension) are ignored: they are not objects
 * backup would name. A path that is not a content address at all (a backup's
 * backup_manifest<ext>) is looked up with storage_stat.
 *
 * Safety: a listed name is a complete object (S3 lists a key only once its PUT or multipart
 * upload completed; posix commits by rename), and the listing is only as old as the caller's
 * lock makes it safe to be: backup and restore hold a repository lock that excludes expire
 * (repolock.h), the only command that removes objects, and backup's lock excludes another
 * backup. What the holder itself stores later is told with object_index_add.
 *
 * Thread-safe: backup's workers share one index (a lock per directory, so a listing blocks
 * only lookups in its own directory).
 */
#ifndef PGPITR_OBJECT_INDEX_H
#define PGPITR_OBJECT_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/storage/storage.h"

typedef enum {
    OBJECT_INDEX_AUTO,      /* listing where it saves requests (see above); stat on posix */
    OBJECT_INDEX_LIST,      /* list every directory asked about (tests) */
    OBJECT_INDEX_STAT,      /* never list: one storage_stat per lookup */
} ObjectIndexMode;

/* Names per listing request (ListObjectsV2's page): what one listing request answers for. */
#define OBJECT_INDEX_PAGE 1000u

typedef struct ObjectIndex ObjectIndex;

typedef struct ObjectIndexStats {
    uint64_t listings;      /* directories listed (objects/ itself included) */
    uint64_t stats;         /* lookups answered by storage_stat */
    uint64_t listed;        /* lookups answered by a listing */
    uint64_t ignored;       /* listed names that are not content addresses of their directory */
} ObjectIndexStats;

/* expect: lookups the caller expects per directory when it does not tell them one by one
 * (object_index_expect); backup passes OBJECT_INDEX_EXPECT_BACKUP. The index borrows s. */
int object_index_new(Storage *s, ObjectIndexMode mode, unsigned expect, ObjectIndex **out,
                     PgpErr *err);
void object_index_free(ObjectIndex *ix);     /* NULL is a no-op */

/* A backup of a PostgreSQL cluster has about 1000 files at least (three databases of some
 * 300 catalog files each): about 4 per directory of the 256. */
#define OBJECT_INDEX_EXPECT_BACKUP 4u

/* Tells that object_path will be looked up (restore knows every object before it asks):
 * counted per directory, for the choice between listing and stat. Not a content address:
 * ignored. */
void object_index_expect(ObjectIndex *ix, const char *object_path);

/* 0 with *size (may be NULL) the stored size if object_path is stored; PGP_ERR_NOT_FOUND
 * (message naming the path, nothing logged) if not; another code when the storage failed. */
int object_index_stat(ObjectIndex *ix, const char *object_path, uint64_t *size, PgpErr *err);

/* Records that the caller stored object_path (size bytes) after its directory may have been
 * listed, so that a later lookup finds it. Best effort: without memory the object is simply
 * not recorded, and a later store of the same content finds it taken (a conflict, which a
 * content-addressed writer takes as success). */
void object_index_add(ObjectIndex *ix, const char *object_path, uint64_t size);

/* Counters so far (for the debug log and tests). */
ObjectIndexStats object_index_stats(ObjectIndex *ix);

/* Parses "objects/XX/<64 lowercase hex><codec ext>" with XX the digest's first two digits:
 * true with digest (32 bytes) and codec; false for anything else. */
bool object_index_parse(const char *object_path, uint8_t digest[32], uint8_t *codec);

#endif
