/*
 * test_chunk_list.c - the chunk list model (src/repo/chunk_list.c, docs/chunking.md): the
 * cutting rules (valid sizes, counts, which files are chunked, extents), chunk object paths,
 * the canonical text byte for byte and its round trip, the strict reader on every malformed
 * field and on every truncation of a valid text, and the cross-checks backup and restore use.
 */
#include "pgpitr/repo/chunk_list.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/repo/repo_layout.h"

#define MiB ((uint64_t)1 << 20)
#define H32(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define H64(c) H32(c) H32(c)
#define DA H64("a")
#define DB H64("b")
#define D0 H64("0")

START_TEST(test_sizes)
{
    ck_assert(chunk_size_valid(8192));
    ck_assert(chunk_size_valid(CHUNK_SIZE_DEFAULT));
    ck_assert(chunk_size_valid(16 * MiB));
    ck_assert(!chunk_size_valid(0));
    ck_assert(!chunk_size_valid(4096));            /* below a page */
    ck_assert(!chunk_size_valid(3 * 8192));        /* not a power of two */
    ck_assert(!chunk_size_valid(32 * MiB));        /* above one S3 part */
    ck_assert_uint_eq(chunk_count(0, MiB), 0);
    ck_assert_uint_eq(chunk_count(1, MiB), 1);
    ck_assert_uint_eq(chunk_count(MiB, MiB), 1);
    ck_assert_uint_eq(chunk_count(MiB + 1, MiB), 2);
    ck_assert_uint_eq(chunk_count(1024 * MiB, MiB), 1024);
    ck_assert_uint_eq(chunk_count(MiB, 1000), 0);  /* invalid chunk size */
}
END_TEST

START_TEST(test_which_files)
{
    ck_assert(!chunk_file_chunked(CHUNK_FILE_MIN - 1, MiB));     /* stays a whole object */
    ck_assert(chunk_file_chunked(CHUNK_FILE_MIN, MiB));
    ck_assert(chunk_file_chunked(1024 * MiB, MiB));              /* a relation segment */
    ck_assert(!chunk_file_chunked(1024 * MiB, 12345));
    ck_assert(chunk_file_chunked((uint64_t)CHUNK_LIST_MAX_CHUNKS * MiB, MiB));
    ck_assert(!chunk_file_chunked((uint64_t)CHUNK_LIST_MAX_CHUNKS * MiB + 1, MiB));
}
END_TEST

START_TEST(test_new_extent_path)
{
    ChunkList *l = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(chunk_list_new(2 * MiB + 8192, MiB, PIPE_CODEC_ZSTD, &l, &err), 0);
    ck_assert_uint_eq(l->n, 3);
    uint64_t off, len;
    chunk_list_extent(l, 0, &off, &len);
    ck_assert_uint_eq(off, 0);
    ck_assert_uint_eq(len, MiB);
    chunk_list_extent(l, 2, &off, &len);
    ck_assert_uint_eq(off, 2 * MiB);
    ck_assert_uint_eq(len, 8192);                  /* the last chunk is shorter */
    memset(l->digests[1], 0xab, PIPE_SHA256_LEN);
    char path[REPO_PATH_MAX], want[REPO_PATH_MAX];
    ck_assert_int_eq(chunk_list_object_path(l, 1, path, &err), 0);
    ck_assert_int_eq(repo_object_path(H32("ab"), PIPE_CODEC_ZSTD, want, &err), 0);
    ck_assert_str_eq(path, want);
    ck_assert_str_eq(path, "objects/ab/" H32("ab") ".zst");
    ck_assert_int_eq(chunk_list_object_path(l, 3, path, &err), PGP_ERR_INTERNAL);
    ck_assert_str_eq(path, "");
    chunk_list_free(l);
    chunk_list_free(NULL);

    ck_assert_int_eq(chunk_list_new(0, MiB, PIPE_CODEC_ZSTD, &l, &err), PGP_ERR_INTERNAL);
    ck_assert_ptr_null(l);
    ck_assert_int_eq(chunk_list_new(MiB, 4096, PIPE_CODEC_ZSTD, &l, &err), PGP_ERR_INTERNAL);
    ck_assert_int_eq(chunk_list_new(MiB, MiB, (PipeCodec)42, &l, &err), PGP_ERR_INTERNAL);
    ck_assert_ptr_null(l);
}
END_TEST

#define TEXT_ZSTD "{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":2105344," \
                  "\"chunks\":[\"" DA "\",\"" DB "\",\"" D0 "\"]}\n"

static ChunkList *sample(PipeCodec codec)
{
    ChunkList *l = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(chunk_list_new(2 * MiB + 8192, MiB, codec, &l, &err), 0);
    memset(l->digests[0], 0xaa, PIPE_SHA256_LEN);
    memset(l->digests[1], 0xbb, PIPE_SHA256_LEN);
    return l;
}

START_TEST(test_canonical_text)
{
    ChunkList *l = sample(PIPE_CODEC_ZSTD), *back = NULL;
    PgpErr err = {0};
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(chunk_list_to_json(l, &text, &len, &err), 0);
    ck_assert_str_eq(text, TEXT_ZSTD);                     /* byte for byte */
    ck_assert_uint_eq(len, strlen(TEXT_ZSTD));
    ck_assert_int_eq(chunk_list_from_json(text, len, &back, &err), 0);
    ck_assert_uint_eq(back->size, l->size);
    ck_assert_uint_eq(back->chunk_size, l->chunk_size);
    ck_assert_int_eq(back->codec, PIPE_CODEC_ZSTD);
    ck_assert_uint_eq(back->n, 3);
    ck_assert_mem_eq(back->digests, l->digests, 3 * PIPE_SHA256_LEN);
    char *again = NULL;
    size_t len2 = 0;
    ck_assert_int_eq(chunk_list_to_json(back, &again, &len2, &err), 0);
    ck_assert_str_eq(again, text);                         /* same content, same object */
    free(again);
    chunk_list_free(back);
    free(text);
    chunk_list_free(l);

    /* The codec is part of the content: another codec names other chunk objects. */
    l = sample(PIPE_CODEC_LZ4);
    ck_assert_int_eq(chunk_list_to_json(l, &text, &len, &err), 0);
    ck_assert_ptr_nonnull(strstr(text, "\"codec\":\"lz4\""));
    free(text);
    l->n = 2;                                              /* would not read back */
    ck_assert_int_eq(chunk_list_to_json(l, &text, &len, &err), PGP_ERR_INTERNAL);
    ck_assert_ptr_null(text);
    l->n = 3;
    chunk_list_free(l);
}
END_TEST

/* Each malformed text is PGP_ERR_CORRUPT with a message naming what is wrong. */
static const struct {
    const char *text;
    const char *msg;
} bad[] = {
    {"", "not valid json"},
    {"[]", "top level is not an object"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1}", "missing field \"chunks\""},
    {"{\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" DA "\"]}", "missing field \"format\""},
    {"{\"format\":1,\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" DA "\"]}", "missing field \"codec\""},
    {"{\"format\":1,\"codec\":\"zstd\",\"size\":1,\"chunks\":[\"" DA "\"]}", "missing field \"chunk_size\""},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"chunks\":[\"" DA "\"]}", "missing field \"size\""},
    {"{\"format\":2,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" DA "\"]}", "format 2 is not supported"},
    {"{\"format\":\"1\",\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[]}", "\"format\" must be an integer"},
    {"{\"format\":1,\"codec\":\"gzip\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" DA "\"]}", "unknown codec \"gzip\""},
    {"{\"format\":1,\"codec\":\"zstd\\u0000x\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" DA "\"]}", "not valid json"},
    {"{\"format\":1,\"codec\":7,\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" DA "\"]}", "\"codec\" must be a string"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":4096,\"size\":1,\"chunks\":[\"" DA "\"]}", "chunk_size is not a power of two"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":3145728,\"size\":1,\"chunks\":[\"" DA "\"]}", "chunk_size is not a power of two"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":0,\"chunks\":[]}", "size is out of range"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":-1,\"chunks\":[]}", "\"size\" is out of range"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":8192,\"size\":9000000000,\"chunks\":[]}", "too many chunks"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1.5,\"chunks\":[]}", "\"size\" must be an integer"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1048577,\"chunks\":[\"" DA "\"]}", "has 1 digests, expected 2"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" DA "\",\"" DB "\"]}", "has 2 digests, expected 1"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":\"" DA "\"}", "\"chunks\" must be an array"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" H64("A") "\"]}", "chunk 0 is not a sha256"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"abc\"]}", "chunk 0 is not a sha256"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[7]}", "chunk 0 is not a sha256"},
    {"{\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" DA "\"],\"x\":1}", "unknown field \"x\""},
    {"{\"format\":1,\"format\":1,\"codec\":\"zstd\",\"chunk_size\":1048576,\"size\":1,\"chunks\":[\"" DA "\"]}", "not valid json"},
};

START_TEST(test_strict_reader)
{
    PgpErr err = {0};
    ChunkList *l = (ChunkList *)&err;   /* must be reset to NULL on failure */
    ck_assert_int_eq(chunk_list_from_json(bad[_i].text, strlen(bad[_i].text), &l, &err),
                     PGP_ERR_CORRUPT);
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(err.msg, bad[_i].msg) != NULL, "case %d: \"%s\" lacks \"%s\"", _i,
                  err.msg, bad[_i].msg);
    ck_assert_msg(strncmp(err.msg, "chunk list: ", 12) == 0, "case %d: %s", _i, err.msg);
}
END_TEST

START_TEST(test_every_truncation)
{
    const char *text = TEXT_ZSTD;
    size_t n = strlen(text);
    for (size_t cut = 0; cut + 1 < n; cut++) {   /* all but the final newline missing */
        PgpErr err = {0};
        ChunkList *l = NULL;
        ck_assert_msg(chunk_list_from_json(text, cut, &l, &err) == PGP_ERR_CORRUPT,
                      "a text cut at %zu bytes was accepted", cut);
        ck_assert_ptr_null(l);
    }
    PgpErr err = {0};
    ChunkList *l = NULL;
    ck_assert_int_eq(chunk_list_from_json(text, n - 1, &l, &err), 0);   /* newline optional */
    chunk_list_free(l);
    ck_assert_int_eq(chunk_list_from_json(text, CHUNK_LIST_MAX_BYTES + 1, &l, &err),
                     PGP_ERR_CORRUPT);   /* refused before being read */
    ck_assert_ptr_nonnull(strstr(err.msg, "more than the largest list"));
}
END_TEST

START_TEST(test_same_chunk)
{
    ChunkList *prev = sample(PIPE_CODEC_ZSTD);
    uint8_t a[PIPE_SHA256_LEN], b[PIPE_SHA256_LEN];
    memset(a, 0xaa, sizeof a);
    memset(b, 0xbb, sizeof b);
    ck_assert(chunk_list_same_chunk(prev, 0, MiB, PIPE_CODEC_ZSTD, a));
    ck_assert(!chunk_list_same_chunk(prev, 0, MiB, PIPE_CODEC_ZSTD, b));   /* changed */
    ck_assert(!chunk_list_same_chunk(prev, 1, MiB, PIPE_CODEC_ZSTD, a));   /* moved */
    ck_assert(!chunk_list_same_chunk(prev, 3, MiB, PIPE_CODEC_ZSTD, a));   /* file grew */
    ck_assert(!chunk_list_same_chunk(prev, 0, 2 * MiB, PIPE_CODEC_ZSTD, a));
    ck_assert(!chunk_list_same_chunk(prev, 0, MiB, PIPE_CODEC_LZ4, a));
    ck_assert(!chunk_list_same_chunk(NULL, 0, MiB, PIPE_CODEC_ZSTD, a));
    chunk_list_free(prev);
}
END_TEST

START_TEST(test_entry_check)
{
    ChunkList *l = sample(PIPE_CODEC_ZSTD);
    PgpErr err = {0};
    uint64_t size = 2 * MiB + 8192;
    ck_assert_int_eq(chunk_list_check(l, "base/5/16396", size, MiB, 3, PIPE_CODEC_ZSTD, &err), 0);
    ck_assert_int_eq(chunk_list_check(l, "base/5/16396", size + 1, MiB, 3, PIPE_CODEC_ZSTD, &err),
                     PGP_ERR_CORRUPT);
    ck_assert_str_eq(err.msg, "base/5/16396: chunk list is for 2105344 bytes, the manifest says "
                              "2105345");
    ck_assert_int_eq(chunk_list_check(l, "f", size, 2 * MiB, 3, PIPE_CODEC_ZSTD, &err),
                     PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "chunks of 1048576 bytes, the manifest says 2097152"));
    ck_assert_int_eq(chunk_list_check(l, "f", size, MiB, 4, PIPE_CODEC_ZSTD, &err),
                     PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "has 3 chunks, the manifest says 4"));
    ck_assert_int_eq(chunk_list_check(l, "f", size, MiB, 3, PIPE_CODEC_NONE, &err),
                     PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "names zstd chunks, the manifest says none"));
    chunk_list_free(l);
}
END_TEST

Suite *suite_chunk_list(void)
{
    Suite *s = suite_create("chunk_list");
    TCase *tc = tcase_create("chunk_list");
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_which_files);
    tcase_add_test(tc, test_new_extent_path);
    tcase_add_test(tc, test_canonical_text);
    tcase_add_loop_test(tc, test_strict_reader, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_same_chunk);
    tcase_add_test(tc, test_entry_check);
    suite_add_tcase(s, tc);
    return s;
}
