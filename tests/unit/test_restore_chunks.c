/*
 * test_restore_chunks.c - restoring a file stored as chunks (src/restore/restore_chunks.c,
 * through restore_file): the content byte for byte with mode and mtime; a missing chunk, a
 * damaged chunk and a list that does not match the entry each fail naming what is wrong,
 * and leave no file behind.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_dir.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/chunk_list.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/restore/restore_files.h"

#define MTIME 1795316400

static char dir[64];
static Storage *st;

static void setup(void)
{
    fx_dir_make(dir, sizeof dir, "rchunks");
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(dir, false, &st, &err), 0);
}

static void teardown(void)
{
    storage_free(st);
    fx_dir_remove(dir);
}

/* Stores len bytes compressed with codec under their content address (unless there):
 * path and hex out. */
static void put(const void *data, size_t len, PipeCodec codec, char path[REPO_PATH_MAX],
                char hex[PIPE_SHA256_HEX_LEN + 1])
{
    uint8_t digest[PIPE_SHA256_LEN];
    PgpErr err = {0};
    ck_assert_int_eq(pipe_sha256_buf(data, len, digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    ck_assert_int_eq(repo_object_path(hex, codec, path, &err), 0);
    StorageInfo info;
    if (storage_stat(st, path, &info, &err) == 0)
        return;   /* the same content is stored already (content addressing) */
    ObjectWriteOptions o = {.codec = codec, .level = 1};
    ObjectWriteResult res;
    ck_assert_msg(object_io_write(st, path, &o, data, len, NULL, NULL, &res, &err) == 0, "%s",
                  err.msg);
}

/* A file of size bytes cut in 1 MiB chunks, each chunk and the list stored (zstd): the entry
 * that names them (its strings malloc'd: free path and chunk_list) and the list. */
static unsigned char *chunked_file(uint64_t size, ManifestEntry *e, ChunkList **list)
{
    unsigned char *data = malloc(size);
    for (uint64_t i = 0; i < size; i++)
        data[i] = (unsigned char)(i * 7 + i / 4096 + (i >> 20) * 13);   /* chunks differ */
    PgpErr err = {0};
    ck_assert_int_eq(chunk_list_new(size, 1u << 20, PIPE_CODEC_ZSTD, list, &err), 0);
    for (size_t i = 0; i < (*list)->n; i++) {
        uint64_t off, len;
        char path[REPO_PATH_MAX], hex[PIPE_SHA256_HEX_LEN + 1];
        chunk_list_extent(*list, i, &off, &len);
        put(data + off, len, PIPE_CODEC_ZSTD, path, hex);
        ck_assert_int_eq(pipe_sha256_buf(data + off, len, (*list)->digests[i], NULL), 0);
    }
    char *text = NULL, lpath[REPO_PATH_MAX];
    size_t tlen = 0;
    ck_assert_int_eq(chunk_list_to_json(*list, &text, &tlen, &err), 0);
    memset(e, 0, sizeof *e);
    put(text, tlen, PIPE_CODEC_ZSTD, lpath, e->sha256);
    free(text);
    e->path = strdup("base/5/16396");
    e->type = MANIFEST_FILE;
    e->size = size;
    e->mode = 0640;
    e->mtime = MTIME;
    e->chunk_shift = 20;
    e->chunk_list = strdup(lpath);
    return data;
}

static void entry_free(ManifestEntry *e)
{
    free(e->path);
    free(e->chunk_list);
}

static void dest_path(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

START_TEST(restores_every_chunk_in_place)
{
    static const uint64_t sizes[] = {3 * 1048576 + 5, 2 * 1048576, 1};
    for (size_t k = 0; k < 3; k++) {
        ManifestEntry e;
        ChunkList *l = NULL;
        unsigned char *data = chunked_file(sizes[k], &e, &l);
        char dest[128];
        dest_path(dest, sizeof dest, "out");
        atomic_uint_fast64_t done = 0;
        RestoreFileOptions opt = {.sync = true, .bytes_done = &done};
        RestoreFileResult res;
        PgpErr err = {0};
        ck_assert_msg(restore_file(st, &e, dest, &opt, &res, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(res.size, sizes[k]);
        ck_assert_uint_eq(atomic_load(&done), sizes[k]);
        ck_assert_uint_gt(res.stored_size, 0);
        FILE *f = fopen(dest, "rb");
        unsigned char *back = malloc(sizes[k] + 1);
        ck_assert_uint_eq(fread(back, 1, sizes[k] + 1, f), sizes[k]);
        fclose(f);
        ck_assert(memcmp(back, data, sizes[k]) == 0);
        struct stat sb;
        ck_assert_int_eq(stat(dest, &sb), 0);
        ck_assert_uint_eq(sb.st_mode & 07777, 0640);
        ck_assert_int_eq((long)sb.st_mtime, MTIME);
        ck_assert_int_eq(unlink(dest), 0);
        free(back);
        free(data);
        chunk_list_free(l);
        entry_free(&e);
    }
}
END_TEST

/* The stored object of chunk i: its full path on disk. */
static void chunk_file(const ChunkList *l, size_t i, char *out, size_t size)
{
    char path[REPO_PATH_MAX];
    PgpErr err = {0};
    ck_assert_int_eq(chunk_list_object_path(l, i, path, &err), 0);
    snprintf(out, size, "%s/%s", dir, path);
}

static void expect_failure(const ManifestEntry *e, const char *fragment)
{
    char dest[128];
    dest_path(dest, sizeof dest, "bad");
    RestoreFileResult res;
    PgpErr err = {0};
    ck_assert_int_eq(restore_file(st, e, dest, NULL, &res, &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, fragment) != NULL, "\"%s\" lacks \"%s\"", err.msg, fragment);
    ck_assert_msg(strstr(err.msg, "base/5/16396") != NULL, "%s", err.msg);
    struct stat sb;
    ck_assert_int_ne(lstat(dest, &sb), 0);   /* nothing left behind */
}

START_TEST(a_missing_or_damaged_chunk_is_named)
{
    ManifestEntry e;
    ChunkList *l = NULL;
    free(chunked_file(3 * 1048576 + 5, &e, &l));
    char p[REPO_PATH_MAX + 64];
    /* chunk 1 damaged: one byte of its stored object flipped */
    chunk_file(l, 1, p, sizeof p);
    FILE *f = fopen(p, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 20, SEEK_SET), 0);
    int c = fgetc(f);
    ck_assert_int_eq(fseek(f, 20, SEEK_SET), 0);
    fputc(c ^ 0x10, f);
    fclose(f);
    expect_failure(&e, "chunk 1 (bytes 1048576..2097151)");
    /* chunk 3 (the short last one) missing */
    chunk_file(l, 3, p, sizeof p);
    ck_assert_int_eq(unlink(p), 0);
    chunk_file(l, 1, p, sizeof p);
    ck_assert_int_eq(unlink(p), 0);  /* so that the first failure is chunk 1 again: missing */
    expect_failure(&e, "chunk 1 (bytes 1048576..2097151)");
    expect_failure(&e, "is missing from the repository");
    chunk_list_free(l);
    entry_free(&e);
}
END_TEST

START_TEST(a_list_that_does_not_match_the_entry_is_refused)
{
    ManifestEntry e;
    ChunkList *l = NULL;
    free(chunked_file(3 * 1048576 + 5, &e, &l));
    e.size += 1048576;                     /* the entry says one chunk more than the list */
    expect_failure(&e, "chunk list object");
    e.size -= 1048576;
    char good[PIPE_SHA256_HEX_LEN + 1];
    memcpy(good, e.sha256, sizeof good);
    e.sha256[0] = e.sha256[0] == 'a' ? 'b' : 'a';   /* not the list's digest */
    expect_failure(&e, "checksum mismatch");
    memcpy(e.sha256, good, sizeof good);
    char p[REPO_PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, e.chunk_list);
    ck_assert_int_eq(unlink(p), 0);
    expect_failure(&e, "is missing from the repository");
    chunk_list_free(l);
    entry_free(&e);
}
END_TEST

Suite *suite_restore_chunks(void)
{
    Suite *s = suite_create("restore_chunks");
    TCase *tc = tcase_create("restore_chunks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, restores_every_chunk_in_place);
    tcase_add_test(tc, a_missing_or_damaged_chunk_is_named);
    tcase_add_test(tc, a_list_that_does_not_match_the_entry_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
