/*
 * fx_pgmanifest.h - two real backup_manifest texts, shared by the unit suites that parse or
 * store one: excerpts of manifests written by PostgreSQL 15's pg_basebackup
 * (--manifest-checksums=SHA256, and the default CRC32C) for a throwaway cluster that had a
 * file with a non-UTF-8 name (hence the "Encoded-Path"), with a few "Files" lines kept and a
 * recomputed "Manifest-Checksum"; each was accepted by PostgreSQL 15's own pg_verifybackup
 * (-n) against a directory holding exactly those files. The SHA256 one is what pgpitr asked
 * the server for until issue #14, the CRC32C one what it asks for since.
 */
#ifndef PGPITR_TESTS_FX_PGMANIFEST_H
#define PGPITR_TESTS_FX_PGMANIFEST_H

extern const char fx_pg_manifest_sha256[];
extern const char fx_pg_manifest_crc32c[];

#endif
