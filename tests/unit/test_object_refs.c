/*
 * test_object_refs.c - the set of objects backups reference (src/repo/object_refs.c): built by
 * streaming manifests saved in a posix Storage, each object once (shared across backups, and
 * compacted while a big manifest streams by), the stored bytes of the distinct ones, lookups,
 * and a backup without a manifest.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_dir.h"
#include "fx_tool.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/chunk_list.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/object_refs.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A backup `label` of n files whose objects cycle through `objects` names (objects/NN/oK). */
static void save_backup(Storage *s, const char *label, size_t n, size_t objects, size_t first)
{
    BackupManifest *m = manifest_new();
    m->label = strdup(label);
    m->status = strdup(MANIFEST_STATUS_COMPLETE);
    m->compress = strdup("zstd");
    m->system_identifier = 7;
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = 1;
    m->start_time = m->stop_time = 1795316400;
    PgpErr err;
    size_t failed = 0;    /* counted, checked once: a check per entry costs a message to Check's parent */
    for (size_t i = 0; i < n; i++) {
        char path[64], obj[64];
        snprintf(path, sizeof path, "base/1/%zu", i);
        snprintf(obj, sizeof obj, "objects/%02zu/o%zu.zst", (first + i % objects) % 100,
                 first + i % objects);
        ManifestEntry e = {.path = path, .type = MANIFEST_FILE, .size = 10, .mode = 0600,
                           .object = obj, .stored_size = 100 + first + i % objects};
        snprintf(e.sha256, sizeof e.sha256, "%s", SHA);
        failed += manifest_add_entry(m, &e, &err) != 0;
    }
    ck_assert_uint_eq(failed, 0);
    ManifestEntry d = {.path = "base", .type = MANIFEST_DIR, .mode = 0700};
    ck_assert_int_eq(manifest_add_entry(m, &d, &err), 0);
    ck_assert_msg(manifest_save(s, NULL, label, m, &err) == 0, "%s", err.msg);
    manifest_free(m);
}

START_TEST(distinct_across_backups)
{
    char dir[64];
    fx_dir_make(dir, sizeof dir, "objrefs");
    Storage *s = NULL;
    PgpErr err;
    ck_assert_int_eq(storage_posix_new(dir, false, &s, &err), 0);
    /* 200,000 files sharing 3 objects: compacted while streaming (every 65,536 new
     * references at first), 3 in the end; 70,000 (one compaction on the way) under a memory
     * tool, where 200,000 cost a minute */
    save_backup(s, "a", fx_under_memory_tool() ? 70000 : 200000, 3, 0);
    save_backup(s, "b", 10, 5, 2);          /* o2..o6: o2 shared with a */
    ObjectRefs r = {0};
    ck_assert_int_eq(object_refs_add_backup(&r, s, NULL, "a", &err), 0);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_uint_eq(r.stored_bytes, 100 + 101 + 102);
    ck_assert_int_eq(object_refs_add_backup(&r, s, NULL, "b", &err), 0);
    ck_assert_uint_eq(r.n, 7);
    ck_assert_uint_eq(r.stored_bytes, 100 + 101 + 102 + 103 + 104 + 105 + 106);
    for (size_t k = 0; k < 7; k++) {
        char obj[64];
        snprintf(obj, sizeof obj, "objects/%02zu/o%zu.zst", k, k);
        ck_assert_msg(object_refs_has(&r, obj), "%s", obj);
    }
    ck_assert(!object_refs_has(&r, "objects/07/o7.zst"));
    ck_assert(!object_refs_has(&r, "objects/00/o0.zs"));
    ck_assert_str_eq(object_refs_path(&r, 0), "objects/00/o0.zst");
    ck_assert_int_eq(object_refs_add_backup(&r, s, NULL, "none", &err), PGP_ERR_NOT_FOUND);
    ck_assert_uint_eq(r.n, 7);
    object_refs_free(&r);
    ck_assert_uint_eq(r.n, 0);
    object_refs_free(&r);
    storage_free(s);
    fx_dir_remove(dir);
}
END_TEST

/* A chunk list of a file of `size` bytes in 1 MiB chunks, stored uncompressed under its
 * content address (chunk i's digest: 32 bytes of i + 1 + salt): its path and digest out. */
static ChunkList *put_list(Storage *s, uint64_t size, int salt, char path[REPO_PATH_MAX],
                           char sha[PIPE_SHA256_HEX_LEN + 1])
{
    PgpErr err = {0};
    ChunkList *l = NULL;
    ck_assert_int_eq(chunk_list_new(size, 1u << 20, PIPE_CODEC_NONE, &l, &err), 0);
    for (size_t i = 0; i < l->n; i++)
        memset(l->digests[i], (int)(i + 1 + (size_t)salt), PIPE_SHA256_LEN);
    char *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(chunk_list_to_json(l, &text, &len, &err), 0);
    uint8_t digest[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(text, len, digest, NULL), 0);
    pipe_hex(digest, sizeof digest, sha);
    repo_object_path(sha, PIPE_CODEC_NONE, path, NULL);
    ck_assert_int_eq(storage_put_all(s, path, 0, text, len, &err), 0);
    free(text);
    return l;
}

/* A backup with one chunked file of `size` bytes whose list is at list/sha, and one whole
 * file. */
static void save_chunked(Storage *s, const char *label, uint64_t size, const char *list,
                         const char *sha)
{
    BackupManifest *m = manifest_new();
    m->label = strdup(label);
    m->status = strdup(MANIFEST_STATUS_COMPLETE);
    m->compress = strdup("none");
    m->system_identifier = 7;
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = 1;
    m->start_time = m->stop_time = 1795316400;
    PgpErr err;
    ManifestEntry c = {.path = "base/5/16396", .type = MANIFEST_FILE, .size = size,
                       .mode = 0600, .chunk_shift = 20, .chunk_list = (char *)list,
                       .stored_size = 999};
    snprintf(c.sha256, sizeof c.sha256, "%s", sha);
    ck_assert_int_eq(manifest_add_entry(m, &c, &err), 0);
    ManifestEntry w = {.path = "PG_VERSION", .type = MANIFEST_FILE, .size = 3, .mode = 0600,
                       .object = "objects/00/whole", .stored_size = 3};
    snprintf(w.sha256, sizeof w.sha256, "%s", SHA);
    ck_assert_int_eq(manifest_add_entry(m, &w, &err), 0);
    ck_assert_msg(manifest_save(s, NULL, label, m, &err) == 0, "%s", err.msg);
    manifest_free(m);
}

START_TEST(chunked_files_reference_their_list_and_chunks)
{
    char dir[64], list[REPO_PATH_MAX], sha[PIPE_SHA256_HEX_LEN + 1];
    fx_dir_make(dir, sizeof dir, "objrefs");
    Storage *s = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(storage_posix_new(dir, false, &s, &err), 0);
    uint64_t size = 3 * 1048576 + 5;
    ChunkList *l = put_list(s, size, 0, list, sha);
    save_chunked(s, "c", size, list, sha);
    ObjectRefs r = {0};
    ck_assert_msg(object_refs_add_backup(&r, s, NULL, "c", &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.n, 1 + 1 + 4);      /* the whole file, the list, 4 chunks */
    ck_assert(object_refs_has(&r, "objects/00/whole"));
    ck_assert(object_refs_has(&r, list));
    for (size_t i = 0; i < l->n; i++) {
        char chunk[REPO_PATH_MAX];
        ck_assert_int_eq(chunk_list_object_path(l, i, chunk, &err), 0);
        ck_assert_msg(object_refs_has(&r, chunk), "chunk %zu (%s)", i, chunk);
    }
    object_refs_free(&r);
    chunk_list_free(l);

    /* a list that describes another size: the references cannot be known, no set */
    char list2[REPO_PATH_MAX], sha2[PIPE_SHA256_HEX_LEN + 1];
    chunk_list_free(put_list(s, size + 1048576, 7, list2, sha2));
    save_chunked(s, "other", size, list2, sha2);
    ck_assert_int_eq(object_refs_add_backup(&r, s, NULL, "other", &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, list2) != NULL && strstr(err.msg, "base/5/16396") != NULL,
                  "%s", err.msg);
    object_refs_free(&r);

    /* a missing list is damage, not an empty set */
    ck_assert_int_eq(storage_remove(s, list, &err), 0);
    pgp_err_clear(&err);
    ck_assert_int_eq(object_refs_add_backup(&r, s, NULL, "c", &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, "missing") != NULL, "%s", err.msg);
    object_refs_free(&r);
    storage_free(s);
    fx_dir_remove(dir);
}
END_TEST

Suite *suite_object_refs(void)
{
    Suite *s = suite_create("object_refs");
    TCase *tc = tcase_create("object_refs");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, distinct_across_backups);
    tcase_add_test(tc, chunked_files_reference_their_list_and_chunks);
    suite_add_tcase(s, tc);
    return s;
}
