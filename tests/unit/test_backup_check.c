/*
 * test_backup_check.c - what a backup checks its files with, and how it asks the server:
 * CRC-32C as PostgreSQL writes it into backup_manifest (src/pipe/crc32c.c), the check of the
 * received files against that manifest (backup_check_pg_manifest, src/backup/backup_finish.c)
 * for CRC32C and for the SHA256 of older backups, and --server-compress parsing
 * (pg_server_compress_parse, src/pg/basebackup.c).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_err.h"
#include "pgpitr/backup/backup_finish.h"
#include "pgpitr/pg/pgconn.h"
#include "pgpitr/pg/pgmanifest.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/manifest.h"

static uint32_t crc_of(const void *buf, size_t len)
{
    PgpErr err;
    ck_assert_int_eq(pipe_crc32c_load(&err), 0);
    return pipe_crc32c_final(pipe_crc32c_update(PIPE_CRC32C_INIT, buf, len));
}

static void crc_hex(const void *buf, size_t len, char hex[PIPE_CRC32C_HEX_LEN + 1])
{
    pipe_crc32c_hex(crc_of(buf, len), hex);
}

/* The check value of CRC-32C, and PostgreSQL 15's own manifest: PG_VERSION "15\n" is listed
 * as CRC32C "8a744722" (test_pgmanifest.c's REAL_CRC32C, written by pg_basebackup). */
START_TEST(crc32c_matches_postgresql)
{
    ck_assert_uint_eq(crc_of("123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(crc_of("", 0), 0);
    char hex[PIPE_CRC32C_HEX_LEN + 1];
    crc_hex("15\n", 3, hex);
    ck_assert_str_eq(hex, "8a744722");
    crc_hex("123456789", 9, hex);
    ck_assert_str_eq(hex, "839206e3");   /* least significant byte first, as the server */
}
END_TEST

/* Piece by piece (any cut) and through the filter: the same value as in one call. */
START_TEST(crc32c_incremental_and_filter)
{
    enum { N = 100000 };
    uint8_t *buf = malloc(N);
    ck_assert_ptr_nonnull(buf);
    for (size_t i = 0; i < N; i++)
        buf[i] = (uint8_t)(i * 31 + (i >> 8));
    uint32_t whole = crc_of(buf, N);
    const size_t cuts[] = {1, 7, 4096, 65537};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        uint32_t v = PIPE_CRC32C_INIT;
        for (size_t off = 0; off < N; off += cuts[c])
            v = pipe_crc32c_update(v, buf + off, N - off < cuts[c] ? N - off : cuts[c]);
        ck_assert_uint_eq(pipe_crc32c_final(v), whole);
    }
    PipeFilter *f = NULL;
    PgpErr err;
    ck_assert_int_eq(pipe_crc32c_new((PipeSink){NULL, NULL}, &f, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, buf, 1000, &err), 0);
    ck_assert_int_eq(pipe_filter_push(f, buf + 1000, N - 1000, &err), 0);
    ck_assert_int_eq(pipe_filter_finish(f, &err), 0);
    ck_assert_uint_eq(pipe_crc32c_result(f), whole);
    pipe_filter_free(f);
    free(buf);
}
END_TEST

/* ---- backup_check_pg_manifest --------------------------------------------------------- */

static void add_file(BackupManifest *m, const char *path, uint32_t tablespace,
                     const char *content)
{
    ManifestEntry e = {.path = (char *)path, .tablespace = tablespace, .type = MANIFEST_FILE,
                       .size = strlen(content), .mode = 0600, .has_crc32c = true,
                       .crc32c = crc_of(content, strlen(content))};
    uint8_t d[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(content, strlen(content), d, NULL), 0);
    pipe_hex(d, PIPE_SHA256_LEN, e.sha256);
    ck_assert_int_eq(manifest_add_entry(m, &e, NULL), 0);
}

/* A PostgreSQL manifest listing (path, size, algorithm, checksum) rows. */
static PgManifest *pg_of(size_t n, const char *const rows[][4])
{
    PgManifest *pg = calloc(1, sizeof *pg);
    ck_assert_ptr_nonnull(pg);
    pg->files = calloc(n, sizeof *pg->files);
    pg->n_files = n;
    for (size_t i = 0; i < n; i++) {
        PgManifestFile *f = &pg->files[i];
        size_t plen = strlen(rows[i][0]), slen = strlen(rows[i][3]);
        f->path = malloc(plen + 1 + slen + 1);   /* path, NUL, checksum: as pg_manifest_parse */
        ck_assert_ptr_nonnull(f->path);
        memcpy(f->path, rows[i][0], plen + 1);
        memcpy(f->path + plen + 1, rows[i][3], slen + 1);
        f->checksum = f->path + plen + 1;
        f->size = strtoull(rows[i][1], NULL, 10);
        f->checksum_type = strcmp(rows[i][2], "CRC32C") == 0   ? PG_MANIFEST_CHECKSUM_CRC32C
                           : strcmp(rows[i][2], "SHA256") == 0 ? PG_MANIFEST_CHECKSUM_SHA256
                           : strcmp(rows[i][2], "SHA512") == 0 ? PG_MANIFEST_CHECKSUM_SHA512
                                                               : PG_MANIFEST_CHECKSUM_NONE;
    }
    return pg;   /* rows are given sorted by path, as pg_manifest_parse leaves them */
}

static int check(const char *const rows[][4], size_t n, PgpErr *err)
{
    BackupManifest *m = manifest_new();
    ck_assert_ptr_nonnull(m);
    add_file(m, "PG_VERSION", 0, "15\n");
    add_file(m, "PG_15_202209061/5/16390", 16385, "tablespace row");
    PgManifest *pg = pg_of(n, rows);
    int rc = backup_check_pg_manifest(m, pg, err);
    pg_manifest_free(pg);
    manifest_free(m);
    return rc;
}

#define TS_PATH "pg_tblspc/16385/PG_15_202209061/5/16390"

START_TEST(crc32c_checked)
{
    char ts[PIPE_CRC32C_HEX_LEN + 1];
    crc_hex("tablespace row", 14, ts);
    PgpErr err;
    const char *const ok[][4] = {{"PG_VERSION", "3", "CRC32C", "8a744722"},
                                 {TS_PATH, "14", "CRC32C", ts}};
    ck_assert_int_eq(check(ok, 2, &err), 0);
    /* A big-endian server writes the four bytes the other way round. */
    const char *const swapped[][4] = {{"PG_VERSION", "3", "CRC32C", "2247748a"},
                                      {TS_PATH, "14", "CRC32C", ts}};
    ck_assert_int_eq(check(swapped, 2, &err), 0);
    /* A mismatch names the file and both values. */
    const char *const bad[][4] = {{"PG_VERSION", "3", "CRC32C", "8a744723"},
                                  {TS_PATH, "14", "CRC32C", ts}};
    ck_assert_int_eq(check(bad, 2, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "\"PG_VERSION\": received content has crc32c 8a744722, "
                                  "backup_manifest says CRC32C 8a744723");
    const char *const bad_ts[][4] = {{"PG_VERSION", "3", "CRC32C", "8a744722"},
                                     {TS_PATH, "14", "CRC32C", "00000000"}};
    ck_assert_int_eq(check(bad_ts, 2, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "\"" TS_PATH "\": received content has crc32c");
}
END_TEST

/* What older backups asked for, and what a server could still send. */
START_TEST(sha256_and_others)
{
    char ts[PIPE_CRC32C_HEX_LEN + 1];
    crc_hex("tablespace row", 14, ts);
    PgpErr err;
    const char *const sha[][4] = {
        {"PG_VERSION", "3", "SHA256",
         "238903180cc104ec2c5d8b3f20c5bc61b389ec0a967df8cc208cdc7cd454174f"},
        {TS_PATH, "14", "CRC32C", ts}};
    ck_assert_int_eq(check(sha, 2, &err), 0);
    const char *const sha_bad[][4] = {
        {"PG_VERSION", "3", "SHA256",
         "338903180cc104ec2c5d8b3f20c5bc61b389ec0a967df8cc208cdc7cd454174f"},
        {TS_PATH, "14", "CRC32C", ts}};
    ck_assert_int_eq(check(sha_bad, 2, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "\"PG_VERSION\": received content has sha256 2389");
    const char *const none[][4] = {{"PG_VERSION", "3", "NONE", ""},
                                   {TS_PATH, "14", "CRC32C", ts}};
    ck_assert_int_eq(check(none, 2, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "has a NONE checksum, which cannot be checked");
    const char *const size[][4] = {{"PG_VERSION", "4", "CRC32C", "8a744722"},
                                   {TS_PATH, "14", "CRC32C", ts}};
    ck_assert_int_eq(check(size, 2, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "\"PG_VERSION\": received 3 bytes, backup_manifest says 4");
    const char *const missing[][4] = {{"PG_VERSION", "3", "CRC32C", "8a744722"}};
    ck_assert_int_eq(check(missing, 1, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "is not in the server's backup_manifest");
    const char *const extra[][4] = {{"PG_VERSION", "3", "CRC32C", "8a744722"},
                                    {"global/pg_control", "1", "CRC32C", "00000000"},
                                    {TS_PATH, "14", "CRC32C", ts}};
    ck_assert_int_eq(check(extra, 3, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "backup_manifest lists 3 files but 2 were received");
}
END_TEST

/* ---- --server-compress ---------------------------------------------------------------- */

START_TEST(server_compress_values)
{
    PgServerCompress c;
    PgpErr err;
    ck_assert_int_eq(pg_server_compress_parse("zstd", &c, &err), 0);
    ck_assert(c.zstd);
    ck_assert_int_eq(c.level, 0);
    ck_assert_int_eq(pg_server_compress_parse("zstd:1", &c, &err), 0);
    ck_assert(c.zstd);
    ck_assert_int_eq(c.level, 1);
    ck_assert_int_eq(pg_server_compress_parse("zstd:22", &c, &err), 0);
    ck_assert_int_eq(c.level, 22);
    ck_assert_int_eq(pg_server_compress_parse("none", &c, &err), 0);
    ck_assert(!c.zstd);
    static const char *const bad[] = {"", "gzip", "lz4", "ZSTD", "zstd:", "zstd:0", "zstd:23",
                                      "zstd:-1", "zstd:+1", "zstd: 1", "zstd:1x", "zstd:1:2",
                                      "zstd:level=1", "zstd:99999999999999999999",
                                      "zstd:1\nx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = (PgServerCompress){.zstd = true, .level = 7};
        ck_assert_msg(pg_server_compress_parse(bad[i], &c, &err) == PGP_ERR_CONFIG, "%s",
                      bad[i]);
        fx_assert_printable_err(&err, "invalid --server-compress");
        ck_assert(c.zstd && c.level == 7);   /* untouched */
    }
}
END_TEST

Suite *suite_backup_check(void)
{
    Suite *s = suite_create("backup_check");
    TCase *tc = tcase_create("backup_check");
    tcase_add_test(tc, crc32c_matches_postgresql);
    tcase_add_test(tc, crc32c_incremental_and_filter);
    tcase_add_test(tc, crc32c_checked);
    tcase_add_test(tc, sha256_and_others);
    tcase_add_test(tc, server_compress_values);
    suite_add_tcase(s, tc);
    return s;
}
