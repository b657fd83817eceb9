/*
 * fx_pgmanifest.c - two real backup_manifest texts of PostgreSQL 15 (see fx_pgmanifest.h).
 */
#include "fx_pgmanifest.h"

#include <check.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/pipe/pipe.h"

const char fx_pg_manifest_sha256[] =
    "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n"
    "\"Files\": [\n"
    "{ \"Path\": \"backup_label\", \"Size\": 225, \"Last-Modified\": \"2026-11-22 03:16:04 GMT\", "
    "\"Checksum-Algorithm\": \"SHA256\", "
    "\"Checksum\": \"7e507700b130ce5dc15dc4fbae6ca1bdef1e4f7c3db53c743c548e3687ac99bc\" },\n"
    "{ \"Path\": \"PG_VERSION\", \"Size\": 3, \"Last-Modified\": \"2026-11-22 03:15:59 GMT\", "
    "\"Checksum-Algorithm\": \"SHA256\", "
    "\"Checksum\": \"238903180cc104ec2c5d8b3f20c5bc61b389ec0a967df8cc208cdc7cd454174f\" },\n"
    "{ \"Encoded-Path\": \"65787472615fff2e646174\", \"Size\": 3, "
    "\"Last-Modified\": \"2026-11-22 03:16:03 GMT\", \"Checksum-Algorithm\": \"SHA256\", "
    "\"Checksum\": \"98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4\" },\n"
    "{ \"Path\": \"global/pg_control\", \"Size\": 8192, "
    "\"Last-Modified\": \"2026-11-22 03:16:04 GMT\", \"Checksum-Algorithm\": \"SHA256\", "
    "\"Checksum\": \"8c0f1406349a6e4b72b5d4127382182967537ea143a50e88a7971bd5e7212d82\" }\n"
    "],\n"
    "\"WAL-Ranges\": [\n"
    "{ \"Timeline\": 1, \"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n"
    "],\n"
    "\"Manifest-Checksum\": "
    "\"5924e58f06772882c8d632e21a523f01b44a5dd1b57fcfbc9aa3c549726e41e6\"}\n";

const char fx_pg_manifest_crc32c[] =
    "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n"
    "\"Files\": [\n"
    "{ \"Path\": \"PG_VERSION\", \"Size\": 3, \"Last-Modified\": \"2026-11-22 03:15:59 GMT\", "
    "\"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"8a744722\" },\n"
    "{ \"Path\": \"global/pg_control\", \"Size\": 8192, "
    "\"Last-Modified\": \"2026-11-22 03:16:09 GMT\", "
    "\"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"43872087\" }\n"
    "],\n"
    "\"WAL-Ranges\": [\n"
    "{ \"Timeline\": 1, \"Start-LSN\": \"0/3000028\", \"End-LSN\": \"0/3000100\" }\n"
    "],\n"
    "\"Manifest-Checksum\": "
    "\"9f674cbfe0bdaa1633ef522ab64d349ec8a9ea95a41984c75fefa3f48364e494\"}\n";

/* The next line of the text into g->line: the head, file lines, the WAL ranges, the
 * checksum line (over every line before it); false after the last. */
static bool gen_line(FxPgManifestGen *g)
{
    char *l = g->line;
    size_t cap = sizeof g->line;
    int n = 0;
    if (g->phase == 0) {
        n = snprintf(l, cap, "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n");
        g->phase = g->n > 0 ? 1 : 2;
    } else if (g->phase == 1) {
        size_t id = g->i;
        uint32_t crc = 0;
        char hex[PIPE_CRC32C_HEX_LEN + 1];
        g->file(g->i, &id, &crc);
        pipe_crc32c_hex(crc, hex);
        n = snprintf(l, cap, "{ \"Path\": \"base/16384/%zu\", \"Size\": 8192, "
                     "\"Last-Modified\": \"2026-11-22 03:16:09 GMT\", "
                     "\"Checksum-Algorithm\": \"CRC32C\", \"Checksum\": \"%s\" }%s\n",
                     10000 + id, hex, g->i + 1 < g->n ? "," : "");
        g->phase = ++g->i < g->n ? 1 : 2;
    } else if (g->phase == 2) {
        n = snprintf(l, cap, "],\n\"WAL-Ranges\": [\n{ \"Timeline\": 1, "
                     "\"Start-LSN\": \"0/2000028\", \"End-LSN\": \"0/2000100\" }\n],\n");
        g->phase = 3;
    } else if (g->phase == 3) {
        uint8_t d[PIPE_SHA256_LEN];
        char hex[PIPE_SHA256_HEX_LEN + 1];
        unsigned dlen = 0;
        ck_assert_int_eq(EVP_DigestFinal_ex(g->sha, d, &dlen), 1);
        pipe_hex(d, sizeof d, hex);
        n = snprintf(l, cap, "\"Manifest-Checksum\": \"%s\"}\n", hex);
        g->phase = 4;
    } else {
        return false;
    }
    ck_assert(n > 0 && (size_t)n < cap);
    if (g->phase < 4)
        ck_assert_int_eq(EVP_DigestUpdate(g->sha, l, (size_t)n), 1);
    g->line_len = (size_t)n;
    g->line_pos = 0;
    return true;
}

void fx_pg_manifest_gen_init(FxPgManifestGen *g, size_t n, FxPgManifestFile *file)
{
    *g = (FxPgManifestGen){.n = n, .file = file, .sha = EVP_MD_CTX_new()};
    ck_assert_ptr_nonnull(g->sha);
    ck_assert_int_eq(EVP_DigestInit_ex(g->sha, EVP_sha256(), NULL), 1);
}

void fx_pg_manifest_gen_free(FxPgManifestGen *g)
{
    EVP_MD_CTX_free(g->sha);
    g->sha = NULL;
}

int fx_pg_manifest_gen_read(void *ud, void *buf, size_t len, size_t *got, PgpErr *err)
{
    (void)err;
    FxPgManifestGen *g = ud;
    *got = 0;
    while (*got < len && (g->line_pos < g->line_len || gen_line(g))) {
        size_t k = g->line_len - g->line_pos < len - *got ? g->line_len - g->line_pos
                                                          : len - *got;
        memcpy((char *)buf + *got, g->line + g->line_pos, k);
        g->line_pos += k;
        *got += k;
    }
    g->produced += *got;
    return 0;
}

char *fx_pg_manifest_many(size_t n, FxPgManifestFile *file, size_t *len)
{
    size_t cap = n * 170 + 1024, o = 0, got = 0;
    char *t = malloc(cap);
    ck_assert_ptr_nonnull(t);
    FxPgManifestGen g;
    fx_pg_manifest_gen_init(&g, n, file);
    do {
        ck_assert_int_eq(fx_pg_manifest_gen_read(&g, t + o, cap - o, &got, NULL), 0);
        o += got;
    } while (got > 0);
    fx_pg_manifest_gen_free(&g);
    ck_assert_uint_lt(o, cap);
    *len = o;
    return t;
}
