/*
 * fx_pgmanifest.h - two real backup_manifest texts, shared by the unit suites that parse or
 * store one: excerpts of manifests written by PostgreSQL 15's pg_basebackup
 * (--manifest-checksums=SHA256, and the default CRC32C) for a throwaway cluster that had a
 * file with a non-UTF-8 name (hence the "Encoded-Path"), with a few "Files" lines kept and a
 * recomputed "Manifest-Checksum"; each was accepted by PostgreSQL 15's own pg_verifybackup
 * (-n) against a directory holding exactly those files. The SHA256 one is what pgpitr asked
 * the server for until issue #14, the CRC32C one what it asks for since. And a generator of
 * big ones in the same shape, for the suites that measure memory.
 */
#ifndef PGPITR_TESTS_FX_PGMANIFEST_H
#define PGPITR_TESTS_FX_PGMANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

extern const char fx_pg_manifest_sha256[];
extern const char fx_pg_manifest_crc32c[];

/* Names the file of the i-th "Files" line: base/16384/<10000 + *id>, with CRC32C *crc. */
typedef void FxPgManifestFile(size_t i, size_t *id, uint32_t *crc);

/* A backup_manifest as PostgreSQL 15 writes it, one line a file: n files of 8192 bytes named
 * by file(), one WAL range, the right Manifest-Checksum. malloc'd, *len bytes. */
char *fx_pg_manifest_many(size_t n, FxPgManifestFile *file, size_t *len);

/* The same text produced a line at a time as it is read, never held whole (a
 * PgManifestReadFn: fx_pg_manifest_gen_read with ud the generator). */
typedef struct FxPgManifestGen {
    size_t n, i;
    FxPgManifestFile *file;
    int phase;                 /* head, files, WAL ranges, checksum line, done */
    char line[512];
    size_t line_len, line_pos;
    uint64_t produced;         /* bytes read so far */
    void *sha;                 /* EVP_MD_CTX of the lines before the checksum line */
} FxPgManifestGen;
void fx_pg_manifest_gen_init(FxPgManifestGen *g, size_t n, FxPgManifestFile *file);
int fx_pg_manifest_gen_read(void *ud, void *buf, size_t len, size_t *got, PgpErr *err);
void fx_pg_manifest_gen_free(FxPgManifestGen *g);

#endif
