/*
 * test_restore_chunk_check.c - restore's check that every chunk of the backup is stored
 * before anything is written (src/restore/restore_chunk_check.c, issue #14), at the module
 * seam: a fabricated pack of chunked files (real lists and chunk objects in a posix
 * repository, plain and encrypted with the vectors' key), a set forced to spill to its
 * temporary file. Counts: lists read, distinct chunks looked up (shared ones once); a missing
 * chunk names the backup, the object, the chunk's index and byte range and a file using it,
 * and says nothing was written; a damaged list is the same kind of error.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_crypto.h"
#include "fx_dir.h"
#include "pgpitr/repo/chunk_list.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/restore/restore_chunk_check.h"

#define MIB 1048576u
#define CS (64u * 1024u)                /* chunk size of the fabricated files: 64 KiB */
#define NFILES 3

static char dir[64];
static Storage *st;
static CryptoRepoKey *key;              /* NULL: a plain repository */

static void setup(void)
{
    fx_dir_make(dir, sizeof dir, "rchunkcheck");
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(dir, false, &st, &err), 0);
    key = NULL;
}

static void teardown(void)
{
    storage_free(st);
    crypto_repo_key_free(key);
    fx_dir_remove(dir);
}

/* Stores len bytes (zstd, sealed with key) under their name: path and the plain SHA-256 hex
 * out. */
static void put(const void *data, size_t len, char path[REPO_PATH_MAX],
                char sha[PIPE_SHA256_HEX_LEN + 1])
{
    uint8_t digest[PIPE_SHA256_LEN];
    char name[PIPE_SHA256_HEX_LEN + 1];
    PgpErr err = {0};
    ck_assert_int_eq(pipe_sha256_buf(data, len, digest, NULL), 0);
    pipe_hex(digest, sizeof digest, sha);
    ck_assert_int_eq(object_io_name_hex(key, digest, name, &err), 0);
    ck_assert_int_eq(repo_object_path(name, PIPE_CODEC_ZSTD, path, &err), 0);
    StorageInfo info;
    if (storage_stat(st, path, &info, &err) == 0)
        return;
    ObjectWriteOptions o = {.codec = PIPE_CODEC_ZSTD, .level = 1,
                            .seal = {key, OBJECT_AD_CONTENT}};
    ObjectWriteResult res;
    ck_assert_msg(object_io_write(st, path, &o, data, len, NULL, NULL, &res, &err) == 0, "%s",
                  err.msg);
}

/* Chunk c of file f: 64 KiB; chunks 0 and 1 are the same in every file (shared objects), the
 * others differ by file and index. */
static void chunk_bytes(unsigned f, size_t c, unsigned char *out, size_t len)
{
    unsigned seed = c < 2 ? 1000u + (unsigned)c : f * 100u + (unsigned)c;
    for (size_t i = 0; i < len; i++)
        out[i] = (unsigned char)(seed * 31u + i * 7u + (i >> 9));
}

/* File f: 5 chunks and 3 bytes (the short sixth chunk), its chunks and list stored; added
 * to pack as base/5/<16384 + f>. l out (chunk_list_free it). */
static void add_file(ManifestPack *pack, unsigned f, ChunkList **l)
{
    uint64_t size = 5 * (uint64_t)CS + 3;
    PgpErr err = {0};
    ck_assert_int_eq(chunk_list_new(size, CS, PIPE_CODEC_ZSTD, l, &err), 0);
    unsigned char *buf = malloc(CS);
    for (size_t c = 0; c < (*l)->n; c++) {
        uint64_t off, len;
        char path[REPO_PATH_MAX], sha[PIPE_SHA256_HEX_LEN + 1];
        chunk_list_extent(*l, c, &off, &len);
        chunk_bytes(f, c, buf, len);
        put(buf, len, path, sha);
        ck_assert_int_eq(pipe_sha256_buf(buf, len, (*l)->digests[c], NULL), 0);
    }
    free(buf);
    (*l)->key = key;
    char *text = NULL, lpath[REPO_PATH_MAX], fpath[32];
    size_t tlen = 0;
    ck_assert_int_eq(chunk_list_to_json(*l, &text, &tlen, &err), 0);
    ManifestEntry e = {.type = MANIFEST_FILE, .size = size, .stored_size = 1, .mode = 0600,
                       .chunk_shift = 16};
    put(text, tlen, lpath, e.sha256);
    free(text);
    snprintf(fpath, sizeof fpath, "base/5/%u", 16384 + f);
    e.path = fpath;
    e.chunk_list = lpath;
    ck_assert_int_eq(manifest_pack_add(pack, &e, &err), 0);
}

typedef struct Fixture {
    ManifestPack *pack;
    ChunkList *l[NFILES];
    BackupManifest m;
    ObjectIndex *ix;
} Fixture;

static void fixture_open(Fixture *x)
{
    memset(x, 0, sizeof *x);
    x->pack = manifest_pack_new();
    PgpErr err = {0};
    ManifestEntry whole = {.path = "PG_VERSION", .type = MANIFEST_FILE, .size = 3,
                           .object = "objects/ab/whatever"};
    ck_assert_int_eq(manifest_pack_add(x->pack, &whole, &err), 0);   /* not chunked: skipped */
    for (unsigned f = 0; f < NFILES; f++)
        add_file(x->pack, f, &x->l[f]);
    x->m.label = "B1";
}

static void fixture_close(Fixture *x)
{
    for (unsigned f = 0; f < NFILES; f++)
        chunk_list_free(x->l[f]);
    manifest_pack_free(x->pack);
    object_index_free(x->ix);
}

static int check(Fixture *x, ObjectIndexMode mode, RestoreChunkCheckResult *res, PgpErr *err)
{
    object_index_free(x->ix);
    ck_assert_int_eq(object_index_new(st, mode, 0, &x->ix, err), 0);
    RestoreChunkCheck c = {.s = st, .key = key, .ix = x->ix, .workers = 2, .in_memory = 4};
    pgp_err_clear(err);
    return restore_chunk_check(&c, &x->m, x->pack, res, err);
}

#define contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" not in \"%s\"", (needle), (hay))

static void every_chunk_then_a_missing_one(void)
{
    Fixture x;
    fixture_open(&x);
    RestoreChunkCheckResult res;
    PgpErr err;
    /* 3 lists of 6 chunks: 2 shared by all, 4 of each file's own: 14 distinct */
    for (int mode = OBJECT_INDEX_LIST; mode <= OBJECT_INDEX_STAT; mode++) {
        ck_assert_msg(check(&x, (ObjectIndexMode)mode, &res, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(res.lists, NFILES);
        ck_assert_uint_eq(res.chunks, 2 + NFILES * 4);
        ck_assert_uint_gt(res.spilled_runs, 0);   /* 4 records in memory: the file is used */
    }
    ObjectIndexStats s = object_index_stats(x.ix);
    ck_assert_uint_eq(s.stats, 2 + NFILES * 4);  /* each distinct chunk once */
    /* chunk 5 (the short last one) of file 1: only that file uses it */
    char obj[REPO_PATH_MAX], p[REPO_PATH_MAX + 128], aside[REPO_PATH_MAX + 160], want[REPO_PATH_MAX + 256];
    ck_assert_int_eq(chunk_list_object_path(x.l[1], 5, obj, &err), 0);
    snprintf(p, sizeof p, "%s/%s", dir, obj);
    snprintf(aside, sizeof aside, "%s.aside", p);
    ck_assert_int_eq(rename(p, aside), 0);
    for (int mode = OBJECT_INDEX_LIST; mode <= OBJECT_INDEX_STAT; mode++) {
        ck_assert_int_eq(check(&x, (ObjectIndexMode)mode, &res, &err), PGP_ERR_CORRUPT);
        snprintf(want, sizeof want, "backup \"B1\" is damaged: object \"%s\" (chunk 5, bytes "
                 "327680..327682 of \"base/5/16385\", stored as chunks) is missing from the "
                 "repository", obj);
        ck_assert_str_eq(err.msg, want);
        ck_assert_str_eq(err.hint, "nothing was written; choose another backup with --backup "
                                   "LABEL");
    }
    ck_assert_int_eq(rename(aside, p), 0);
    /* a chunk every file uses: one of them is named */
    ck_assert_int_eq(chunk_list_object_path(x.l[0], 1, obj, &err), 0);
    snprintf(p, sizeof p, "%s/%s", dir, obj);
    ck_assert_int_eq(unlink(p), 0);
    ck_assert_int_eq(check(&x, OBJECT_INDEX_STAT, &res, &err), PGP_ERR_CORRUPT);
    contains(err.msg, "(chunk 1, bytes 65536..131071 of \"base/5/1638");
    fixture_close(&x);
}

START_TEST(plain_repository)
{
    every_chunk_then_a_missing_one();
}
END_TEST

/* Encrypted: chunk objects are named by keyed names, which the check must look up. */
START_TEST(encrypted_repository)
{
    key = fx_crypto_repo_key();
    every_chunk_then_a_missing_one();
}
END_TEST

START_TEST(a_damaged_list_is_refused)
{
    Fixture x;
    fixture_open(&x);
    ManifestUnpacked u;
    manifest_pack_unpack(manifest_pack_at(x.pack, 2), &u);   /* base/5/16385's list */
    fx_flip_bit(dir, u.e.chunk_list, FX_FLIP_MIDDLE);
    RestoreChunkCheckResult res;
    PgpErr err;
    ck_assert_int_eq(check(&x, OBJECT_INDEX_STAT, &res, &err), PGP_ERR_CORRUPT);
    contains(err.msg, "backup \"B1\" is damaged: file \"base/5/16385\": chunk list object");
    contains(err.hint, "nothing was written");
    fixture_close(&x);
}
END_TEST

/* No chunked file: nothing read, nothing looked up. */
START_TEST(no_chunked_file)
{
    ManifestPack *pack = manifest_pack_new();
    PgpErr err = {0};
    ManifestEntry whole = {.path = "PG_VERSION", .type = MANIFEST_FILE, .size = 3,
                           .object = "objects/ab/whatever"};
    ck_assert_int_eq(manifest_pack_add(pack, &whole, &err), 0);
    BackupManifest m = {.label = "B1"};
    ObjectIndex *ix = NULL;
    ck_assert_int_eq(object_index_new(st, OBJECT_INDEX_STAT, 0, &ix, &err), 0);
    RestoreChunkCheck c = {.s = st, .ix = ix};
    RestoreChunkCheckResult res;
    ck_assert_int_eq(restore_chunk_check(&c, &m, pack, &res, &err), 0);
    ck_assert_uint_eq(res.lists, 0);
    ck_assert_uint_eq(res.chunks, 0);
    ck_assert_uint_eq(object_index_stats(ix).stats, 0);
    object_index_free(ix);
    manifest_pack_free(pack);
}
END_TEST

Suite *suite_restore_chunk_check(void)
{
    Suite *s = suite_create("restore_chunk_check");
    TCase *tc = tcase_create("restore_chunk_check");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, plain_repository);
    tcase_add_test(tc, encrypted_repository);
    tcase_add_test(tc, a_damaged_list_is_refused);
    tcase_add_test(tc, no_chunked_file);
    suite_add_tcase(s, tc);
    return s;
}
