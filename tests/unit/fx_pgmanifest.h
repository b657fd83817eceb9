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

extern const char fx_pg_manifest_sha256[];
extern const char fx_pg_manifest_crc32c[];

/* Names the file of the i-th "Files" line: base/16384/<10000 + *id>, with CRC32C *crc. */
typedef void FxPgManifestFile(size_t i, size_t *id, uint32_t *crc);

/* A backup_manifest as PostgreSQL 15 writes it, one line a file: n files of 8192 bytes named
 * by file(), one WAL range, the right Manifest-Checksum. malloc'd, *len bytes. */
char *fx_pg_manifest_many(size_t n, FxPgManifestFile *file, size_t *len);

#endif
