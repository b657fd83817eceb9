/*
 * test_restore_chunks.c - restoring a file stored as chunks (src/restore/restore_chunks.c,
 * through restore_file): the content byte for byte with mode and mtime; a missing chunk, a
 * damaged chunk and a list that does not match the entry each fail naming what is wrong,
 * and leave no file behind. --delta over an existing file (through restore_file_delta and
 * the pool): only the chunks that differ or are missing are fetched, proved by deleting the
 * other chunk objects from the repository first; and `pgpitr restore` of a fabricated format 3
 * backup, then --delta over it, with the chunk counts its summary reports.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_dir.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/chunk_list.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/repo.h"
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

/* One chunked file of a test: its entry, list and content, and where it is restored (dest:
 * dir/dest_name, empty when dest_name is NULL). */
typedef struct Chunked {
    ManifestEntry e;
    ChunkList *l;
    unsigned char *data;
    char dest[128];
} Chunked;

static void chunked_open(Chunked *c, uint64_t size, const char *dest_name)
{
    c->l = NULL;
    c->data = chunked_file(size, &c->e, &c->l);
    c->dest[0] = '\0';
    if (dest_name != NULL)
        dest_path(c->dest, sizeof c->dest, dest_name);
}

static void chunked_close(Chunked *c)
{
    free(c->data);
    chunk_list_free(c->l);
    entry_free(&c->e);
}

START_TEST(restores_every_chunk_in_place)
{
    static const uint64_t sizes[] = {3 * 1048576 + 5, 2 * 1048576, 1};
    for (size_t k = 0; k < 3; k++) {
        Chunked t;
        chunked_open(&t, sizes[k], "out");
        atomic_uint_fast64_t done = 0;
        RestoreFileOptions opt = {.sync = true, .bytes_done = &done};
        RestoreFileResult res;
        PgpErr err = {0};
        ck_assert_msg(restore_file(st, &t.e, t.dest, &opt, &res, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(res.size, sizes[k]);
        ck_assert_uint_eq(atomic_load(&done), sizes[k]);
        ck_assert_uint_gt(res.stored_size, 0);
        FILE *f = fopen(t.dest, "rb");
        unsigned char *back = malloc(sizes[k] + 1);
        ck_assert_uint_eq(fread(back, 1, sizes[k] + 1, f), sizes[k]);
        fclose(f);
        ck_assert(memcmp(back, t.data, sizes[k]) == 0);
        struct stat sb;
        ck_assert_int_eq(stat(t.dest, &sb), 0);
        ck_assert_uint_eq(sb.st_mode & 07777, 0640);
        ck_assert_int_eq((long)sb.st_mtime, MTIME);
        ck_assert_int_eq(unlink(t.dest), 0);
        free(back);
        chunked_close(&t);
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
    char p[REPO_PATH_MAX + 64], obj[REPO_PATH_MAX];
    PgpErr err = {0};
    ck_assert_int_eq(chunk_list_object_path(l, 1, obj, &err), 0);
    fx_flip_bit(dir, obj, 20);   /* chunk 1 damaged */
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

/* ---- --delta ----------------------------------------------------------------------------- */

#define MIB 1048576u
#define DSIZE (3 * MIB + 5)     /* chunks 0..2 of 1 MiB, chunk 3 of 5 bytes */

static void write_live(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, 0600), 0);
}

/* dest holds exactly data (len bytes), mode 0640, mtime MTIME. */
static void assert_restored(const char *dest, const unsigned char *data, size_t len)
{
    struct stat sb;
    ck_assert_int_eq(lstat(dest, &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    ck_assert_uint_eq((uint64_t)sb.st_size, len);
    ck_assert_uint_eq(sb.st_mode & 07777, 0640);
    ck_assert_int_eq((long)sb.st_mtime, MTIME);
    unsigned char *back = malloc(len + 1);
    FILE *f = fopen(dest, "rb");
    ck_assert_uint_eq(fread(back, 1, len + 1, f), len);
    fclose(f);
    ck_assert(memcmp(back, data, len) == 0);
    free(back);
}

/* Removes the stored objects of every chunk of l whose bit in keep is clear. */
static void drop_chunks(const ChunkList *l, unsigned keep)
{
    for (size_t i = 0; i < l->n; i++) {
        char p[REPO_PATH_MAX + 64];
        chunk_file(l, i, p, sizeof p);
        if (!(keep & (1u << i)))
            ck_assert_int_eq(unlink(p), 0);
    }
}

/* Damages (a flipped last byte: any read fails) the stored objects of every chunk of l whose
 * bit in keep is clear: they still exist, as restore's plan requires (issue #14). */
static void damage_chunks(const ChunkList *l, unsigned keep)
{
    for (size_t i = 0; i < l->n; i++) {
        char path[REPO_PATH_MAX];
        PgpErr err = {0};
        ck_assert_int_eq(chunk_list_object_path(l, i, path, &err), 0);
        if (!(keep & (1u << i)))
            fx_flip_bit(dir, path, -1);
    }
}

typedef struct DeltaRun {
    RestoreFileResult res;
    bool kept;
    uint64_t progress;
} DeltaRun;

static DeltaRun delta(const ManifestEntry *e, const char *dest)
{
    atomic_uint_fast64_t done = 0;
    RestoreFileOptions opt = {.sync = true, .bytes_done = &done};
    DeltaRun r = {0};
    PgpErr err = {0};
    ck_assert_msg(restore_file_delta(st, e, dest, &opt, &r.res, &r.kept, &err) == 0, "%s",
                  err.msg);
    r.progress = atomic_load(&done);
    return r;
}

START_TEST(delta_identical_file_fetches_nothing)
{
    Chunked t;
    chunked_open(&t, DSIZE, "live");
    write_live(t.dest, t.data, DSIZE);  /* mode 0600, mtime now: both set from the entry */
    drop_chunks(t.l, 0);              /* any chunk read would fail */
    DeltaRun r = delta(&t.e, t.dest);
    ck_assert(r.kept);
    ck_assert_uint_eq(r.res.chunks_kept, 4);
    ck_assert_uint_eq(r.res.chunks_fetched, 0);
    ck_assert_uint_eq(r.res.size, 0);
    ck_assert_uint_eq(r.res.in_place, DSIZE);
    ck_assert_uint_eq(r.progress, DSIZE);
    assert_restored(t.dest, t.data, DSIZE);
    chunked_close(&t);
}
END_TEST

START_TEST(delta_fetches_only_the_chunk_that_differs)
{
    Chunked t;
    chunked_open(&t, DSIZE, "live");
    t.data[2 * MIB + 4096] ^= 0x01;   /* one bit of chunk 2 */
    write_live(t.dest, t.data, DSIZE);
    t.data[2 * MIB + 4096] ^= 0x01;
    struct stat before, after;
    ck_assert_int_eq(stat(t.dest, &before), 0);
    drop_chunks(t.l, 1u << 2);
    DeltaRun r = delta(&t.e, t.dest);
    ck_assert(!r.kept);
    ck_assert_uint_eq(r.res.chunks_fetched, 1);
    ck_assert_uint_eq(r.res.chunks_kept, 3);
    ck_assert_uint_eq(r.res.size, MIB);
    ck_assert_uint_eq(r.res.in_place, DSIZE - MIB);
    ck_assert_uint_eq(r.progress, DSIZE);
    assert_restored(t.dest, t.data, DSIZE);
    ck_assert_int_eq(stat(t.dest, &after), 0);
    ck_assert_uint_eq(after.st_ino, before.st_ino);     /* written in place */
    chunked_close(&t);
}
END_TEST

START_TEST(delta_truncates_a_longer_file)
{
    Chunked t;
    chunked_open(&t, DSIZE, "live");
    unsigned char *longer = calloc(1, DSIZE + 2 * MIB);
    memcpy(longer, t.data, DSIZE);    /* the short last chunk matches, then 2 MiB more */
    write_live(t.dest, longer, DSIZE + 2 * MIB);
    drop_chunks(t.l, 0);
    DeltaRun r = delta(&t.e, t.dest);
    ck_assert(!r.kept);             /* changed (truncated), though nothing was fetched */
    ck_assert_uint_eq(r.res.chunks_fetched, 0);
    ck_assert_uint_eq(r.res.chunks_kept, 4);
    ck_assert_uint_eq(r.res.size, 0);
    assert_restored(t.dest, t.data, DSIZE);
    free(longer);
    chunked_close(&t);
}
END_TEST

START_TEST(delta_fetches_the_tail_of_a_shorter_file)
{
    Chunked t;
    chunked_open(&t, DSIZE, "live");
    write_live(t.dest, t.data, 2 * MIB + 100);  /* chunk 2 only in part, chunk 3 not at all */
    drop_chunks(t.l, 1u << 2 | 1u << 3);
    DeltaRun r = delta(&t.e, t.dest);
    ck_assert(!r.kept);
    ck_assert_uint_eq(r.res.chunks_fetched, 2);
    ck_assert_uint_eq(r.res.chunks_kept, 2);
    ck_assert_uint_eq(r.res.size, MIB + 5);
    ck_assert_uint_eq(r.progress, DSIZE);
    assert_restored(t.dest, t.data, DSIZE);
    chunked_close(&t);
}
END_TEST

START_TEST(delta_without_a_live_file_restores_it_whole)
{
    Chunked t;
    chunked_open(&t, DSIZE, "live");
    DeltaRun r = delta(&t.e, t.dest);
    ck_assert(!r.kept);
    ck_assert_uint_eq(r.res.chunks_fetched, 4);
    ck_assert_uint_eq(r.res.chunks_kept, 0);
    ck_assert_uint_eq(r.res.size, DSIZE);
    assert_restored(t.dest, t.data, DSIZE);
    chunked_close(&t);
}
END_TEST

START_TEST(delta_with_a_damaged_chunk_fails_and_leaves_no_file)
{
    Chunked t;
    chunked_open(&t, DSIZE, "live");
    char obj[REPO_PATH_MAX];
    t.data[MIB + 10] ^= 0x40;         /* the live file differs in chunk 1 */
    write_live(t.dest, t.data, DSIZE);
    PgpErr err = {0};
    ck_assert_int_eq(chunk_list_object_path(t.l, 1, obj, &err), 0);
    fx_flip_bit(dir, obj, 20);        /* and chunk 1's object is damaged */
    RestoreFileResult res;
    bool kept = true;
    ck_assert_int_eq(restore_file_delta(st, &t.e, t.dest, NULL, &res, &kept, &err),
                     PGP_ERR_CORRUPT);
    ck_assert(!kept);
    const char *want[] = {t.dest, "base/5/16396", "chunk 1 (bytes 1048576..2097151)", obj};
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(strstr(err.msg, want[i]) != NULL, "\"%s\" lacks \"%s\"", err.msg, want[i]);
    struct stat sb;
    ck_assert_int_ne(lstat(t.dest, &sb), 0);  /* not left half rewritten under its name */
    ck_assert_int_eq(errno, ENOENT);
    chunked_close(&t);
}
END_TEST

/* A hard link's other name, or a symlink's target, must not change with the restore. */
START_TEST(delta_never_writes_through_a_link)
{
    Chunked t;
    chunked_open(&t, DSIZE, "live");
    char other[128];
    dest_path(other, sizeof other, "other");
    for (int symlinked = 0; symlinked < 2; symlinked++) {
        t.data[10] ^= 0x01;
        write_live(other, t.data, DSIZE);
        t.data[10] ^= 0x01;
        ck_assert_int_eq(symlinked ? symlink(other, t.dest) : link(other, t.dest), 0);
        DeltaRun r = delta(&t.e, t.dest);
        ck_assert(!r.kept);
        assert_restored(t.dest, t.data, DSIZE);
        struct stat sb;                 /* the other name: as it was */
        ck_assert_int_eq(stat(other, &sb), 0);
        ck_assert_uint_eq(sb.st_nlink, 1);
        ck_assert_uint_eq(sb.st_mode & 07777, 0600);
        FILE *f = fopen(other, "rb");
        ck_assert_int_eq(fgetc(f), t.data[0]);
        ck_assert_int_eq(fseek(f, 10, SEEK_SET), 0);
        ck_assert_int_eq(fgetc(f), t.data[10] ^ 0x01);
        fclose(f);
        ck_assert_int_eq(unlink(t.dest), 0);
        ck_assert_int_eq(unlink(other), 0);
    }
    /* a directory where the backup has the file: an error, nothing removed */
    ck_assert_int_eq(mkdir(t.dest, 0700), 0);
    RestoreFileResult res;
    bool kept;
    PgpErr err = {0};
    ck_assert_int_eq(restore_file_delta(st, &t.e, t.dest, NULL, &res, &kept, &err), PGP_ERR_USAGE);
    ck_assert_int_eq(rmdir(t.dest), 0);
    chunked_close(&t);
}
END_TEST

/* The pool's counts: a chunked file counts as kept only when no chunk was fetched, and
 * bytes are those written, not those left in place. */
START_TEST(delta_pool_counts_chunks)
{
    ManifestEntry e[2];
    ChunkList *l[2] = {NULL, NULL};
    unsigned char *data[2] = {chunked_file(DSIZE, &e[0], &l[0]),
                              chunked_file(2 * MIB, &e[1], &l[1])};
    free(e[1].path);
    e[1].path = strdup("base/5/16397");
    char dest[2][128];
    dest_path(dest[0], sizeof dest[0], "base/5/16396");
    dest_path(dest[1], sizeof dest[1], "base/5/16397");
    char d[128];
    dest_path(d, sizeof d, "base");
    ck_assert_int_eq(mkdir(d, 0700), 0);
    dest_path(d, sizeof d, "base/5");
    ck_assert_int_eq(mkdir(d, 0700), 0);
    write_live(dest[0], data[0], DSIZE);
    data[1][MIB] ^= 0x01;                                 /* chunk 1 of the second differs */
    write_live(dest[1], data[1], 2 * MIB);
    data[1][MIB] ^= 0x01;
    ManifestPack *pack = manifest_pack_new();
    PgpErr err = {0};
    ck_assert_int_eq(manifest_pack_add(pack, &e[0], &err), 0);
    ck_assert_int_eq(manifest_pack_add(pack, &e[1], &err), 0);
    RestoreJob jobs[2] = {{.item = manifest_pack_at(pack, 0), .base = dir},
                          {.item = manifest_pack_at(pack, 1), .base = dir}};
    RestorePoolOptions opt = {.workers = 2, .delta = true};
    RestorePoolResult res;
    ck_assert_msg(restore_pool_run(st, jobs, 2, &opt, &res, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(res.files, 2);
    ck_assert_uint_eq(res.kept, 1);
    ck_assert_uint_eq(res.kept_bytes, DSIZE);
    ck_assert_uint_eq(res.chunked, 2);
    ck_assert_uint_eq(res.chunks_fetched, 1);
    ck_assert_uint_eq(res.chunks_kept, 5);
    ck_assert_uint_eq(res.bytes, MIB);
    for (int k = 0; k < 2; k++) {
        assert_restored(dest[k], data[k], k == 0 ? DSIZE : 2 * MIB);
        free(data[k]);
        chunk_list_free(l[k]);
        entry_free(&e[k]);
    }
    manifest_pack_free(pack);
}
END_TEST

/* ---- the command: a backup with a chunked file, restored, then restored over with --delta -- */

/* A whole-file entry for content, its object stored. */
static void add_whole(BackupManifest *m, const char *path, const char *content)
{
    ManifestEntry e = {.path = (char *)path, .type = MANIFEST_FILE, .size = strlen(content),
                       .stored_size = 1, .mode = 0600, .mtime = MTIME};
    char obj[REPO_PATH_MAX];
    put(content, strlen(content), PIPE_CODEC_ZSTD, obj, e.sha256);
    e.object = obj;
    PgpErr err = {0};
    ck_assert_int_eq(manifest_add_entry(m, &e, &err), 0);
}

/* Binds the repository and saves backup B1 (dirs, two whole files and the chunked entry e),
 * its WAL segment archived. */
static void save_backup(const ManifestEntry *e)
{
    PgpErr err = {0};
    Repo *repo = NULL;
    ck_assert_int_eq(repo_open(st, &repo, &err), 0);
    RepoIdentity id = {.system_identifier = 7300000000000000001ULL, .pg_major = 15,
                       .wal_segsize = 16u << 20};
    ck_assert_int_eq(repo_bind(repo, &id, &err), 0);
    repo_free(repo);
    BackupManifest *m = manifest_new();
    m->label = strdup("B1");
    m->status = strdup("complete");
    m->compress = strdup("zstd");
    m->system_identifier = id.system_identifier;
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = 1;
    m->start_lsn = 0x5000000;
    m->stop_lsn = 0x5000100;
    m->start_time = MTIME - 2;
    m->stop_time = MTIME;
    static const char *const dirs[] = {"global", "base", "base/5", "pg_wal"};
    for (size_t i = 0; i < 4; i++) {
        ManifestEntry d = {.path = (char *)dirs[i], .type = MANIFEST_DIR, .mode = 0700,
                           .mtime = MTIME};
        ck_assert_int_eq(manifest_add_entry(m, &d, &err), 0);
    }
    add_whole(m, "PG_VERSION", "15\n");
    add_whole(m, "global/pg_control", "control");
    ck_assert_int_eq(manifest_add_entry(m, e, &err), 0);
    ck_assert_msg(manifest_save(st, NULL, "B1", m, &err) == 0, "%s", err.msg);
    manifest_free(m);
    char path[REPO_PATH_MAX], hex[PIPE_SHA256_HEX_LEN + 1];
    const char *wal = "000000010000000000000005";
    uint8_t digest[PIPE_SHA256_LEN];
    ck_assert_int_eq(pipe_sha256_buf(wal, strlen(wal), digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    ck_assert_int_eq(repo_archive_object_path(wal, hex, PIPE_CODEC_NONE, path, &err), 0);
    ck_assert_int_eq(storage_put_all(st, path, 0, wal, strlen(wal), &err), 0);
}

/* pgpitr restore --pgdata pgdata [--delta]: 0, and its report contains each of want. */
static void run_restore(const char *pgdata, bool delta, const char *const want[3])
{
    char out[128], report[8192] = "";
    dest_path(out, sizeof out, "report.txt");
    char *argv[] = {"restore", "--pgdata", (char *)pgdata, "--jobs", "2", "--delta", NULL};
    CmdGlobal g = {.repo = dir};
    setenv("PGPITR_CONFIG", "/dev/null", 1);
    ck_assert_ptr_nonnull(freopen(out, "w", stdout));
    PgpErr err = {0};
    int rc = cmd_restore.run(&g, delta ? 6 : 5, argv, &err);
    fflush(stdout);
    ck_assert_msg(rc == 0, "%s", err.msg);
    FILE *f = fopen(out, "r");
    ck_assert_uint_gt(fread(report, 1, sizeof report - 1, f), 0);
    fclose(f);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(strstr(report, want[i]) != NULL, "\"%s\" not in:\n%s", want[i], report);
}

START_TEST(delta_command_reports_chunks)
{
    Chunked t;
    chunked_open(&t, DSIZE, NULL);
    t.e.stored_size = 1;
    save_backup(&t.e);
    char pg[64], pgdata[128], file[192];
    fx_dir_make(pg, sizeof pg, "rchunks_pg");
    snprintf(pgdata, sizeof pgdata, "%s/t.data", pg);
    snprintf(file, sizeof file, "%s/base/5/16396", pgdata);
    run_restore(pgdata, false, (const char *const[]){
        "restored 3 files, 3.0 MiB", "chunks: 4 fetched, 0 already in place, in 1 file(s) "
        "stored as chunks", "archiving:"});
    assert_restored(file, t.data, DSIZE);
    /* the restored server changed a page of chunk 1; the other chunks' objects are damaged
     * (the plan checks they exist, a fetch would fail) */
    FILE *f = fopen(file, "r+b");
    ck_assert_int_eq(fseek(f, MIB + 8192, SEEK_SET), 0);
    fputc(t.data[MIB + 8192] ^ 0xff, f);
    fclose(f);
    damage_chunks(t.l, 1u << 1);
    /* written: chunk 1 and pg_control (removed first); kept: PG_VERSION only */
    run_restore(pgdata, true, (const char *const[]){
        "restored 2 files, 1.0 MiB", "chunks: 1 fetched, 3 already in place",
        "delta: kept 1 files (0.0 MiB) whose size and SHA-256 matched, rewrote 2,"});
    assert_restored(file, t.data, DSIZE);
    /* nothing differs: the chunked file counts as kept */
    run_restore(pgdata, true, (const char *const[]){
        "restored 1 files, 0.0 MiB", "chunks: 0 fetched, 4 already in place",
        "delta: kept 2 files (3.0 MiB) whose size and SHA-256 matched, rewrote 1,"});
    assert_restored(file, t.data, DSIZE);
    fx_dir_remove(pg);
    chunked_close(&t);
}
END_TEST

/* pgpitr restore [--delta]: refused (PGP_ERR_CORRUPT) with each of want in the message or
 * hint. */
static void run_restore_refused(const char *pgdata, bool delta, const char *const want[3])
{
    char *argv[] = {"restore", "--pgdata", (char *)pgdata, "--jobs", "2", "--delta", NULL};
    CmdGlobal g = {.repo = dir};
    setenv("PGPITR_CONFIG", "/dev/null", 1);
    PgpErr err = {0};
    ck_assert_int_eq(cmd_restore.run(&g, delta ? 6 : 5, argv, &err), PGP_ERR_CORRUPT);
    char all[PGP_ERR_MSG_MAX + PGP_ERR_HINT_MAX + 4];
    snprintf(all, sizeof all, "%s / %s", err.msg, err.hint);
    for (int i = 0; i < 3; i++)
        ck_assert_msg(strstr(all, want[i]) != NULL, "\"%s\" not in: %s", want[i], all);
}

/* Issue #14: a missing chunk is found by the plan, before anything is written: no data
 * directory created; with --delta, nothing of the existing one touched (pg_control, which a
 * delta removes before its first write, is still there, the chunked file unchanged). */
START_TEST(a_missing_chunk_is_refused_before_anything_is_written)
{
    Chunked t;
    chunked_open(&t, DSIZE, NULL);
    t.e.stored_size = 1;
    save_backup(&t.e);
    char pg[64], pgdata[128], file[192], control[192], obj[REPO_PATH_MAX];
    fx_dir_make(pg, sizeof pg, "rchunks_pg");
    snprintf(pgdata, sizeof pgdata, "%s/t.data", pg);
    snprintf(file, sizeof file, "%s/base/5/16396", pgdata);
    snprintf(control, sizeof control, "%s/global/pg_control", pgdata);
    PgpErr err = {0};
    ck_assert_int_eq(chunk_list_object_path(t.l, 2, obj, &err), 0);
    drop_chunks(t.l, ~(1u << 2));
    const char *const want[3] = {"backup \"B1\" is damaged: object", "(chunk 2, bytes "
                                 "2097152..3145727 of \"base/5/16396\", stored as chunks) is "
                                 "missing from the repository", "nothing was written"};
    run_restore_refused(pgdata, false, want);
    ck_assert_msg(access(pgdata, F_OK) != 0, "the restore created %s", pgdata);
    /* --delta over a restored copy whose chunk 2 changed: the chunk it would fetch */
    put(t.data + 2 * MIB, MIB, PIPE_CODEC_ZSTD, obj, (char[PIPE_SHA256_HEX_LEN + 1]){0});
    run_restore(pgdata, false, (const char *const[]){"restored 3 files", "chunks: 4 fetched",
                                                     "archiving:"});
    FILE *f = fopen(file, "r+b");
    ck_assert_int_eq(fseek(f, 2 * MIB + 8192, SEEK_SET), 0);
    fputc(t.data[2 * MIB + 8192] ^ 0xff, f);
    fclose(f);
    struct stat before, after;
    ck_assert_int_eq(stat(file, &before), 0);
    drop_chunks(t.l, ~(1u << 2));
    run_restore_refused(pgdata, true, want);
    ck_assert_int_eq(access(control, F_OK), 0);
    ck_assert_int_eq(stat(file, &after), 0);
    ck_assert_int_eq((long)after.st_mtime, (long)before.st_mtime);
    f = fopen(file, "rb");
    ck_assert_int_eq(fseek(f, 2 * MIB + 8192, SEEK_SET), 0);
    ck_assert_int_eq(fgetc(f), t.data[2 * MIB + 8192] ^ 0xff);   /* as it was */
    fclose(f);
    fx_dir_remove(pg);
    chunked_close(&t);
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
    tcase_add_test(tc, delta_identical_file_fetches_nothing);
    tcase_add_test(tc, delta_fetches_only_the_chunk_that_differs);
    tcase_add_test(tc, delta_truncates_a_longer_file);
    tcase_add_test(tc, delta_fetches_the_tail_of_a_shorter_file);
    tcase_add_test(tc, delta_without_a_live_file_restores_it_whole);
    tcase_add_test(tc, delta_with_a_damaged_chunk_fails_and_leaves_no_file);
    tcase_add_test(tc, delta_never_writes_through_a_link);
    tcase_add_test(tc, delta_pool_counts_chunks);
    tcase_add_test(tc, delta_command_reports_chunks);
    tcase_add_test(tc, a_missing_chunk_is_refused_before_anything_is_written);
    suite_add_tcase(s, tc);
    return s;
}
