/*
 * test_verify_chunks.c - verify on files stored as chunks (src/repo/verify_chunks.c and
 * verify_chunk_report.c), on a fabricated repository (fx_repo.h) whose chunk objects and
 * chunk lists are real (zstd, content-addressed, written with object_io_write) and whose
 * manifests are format 3. The chunks and lists are really read; the whole-file and WAL
 * objects are marked ok at the module seam, as in test_verify_check.c.
 *
 *   file X "base/5/16396": 3 MiB + 5 bytes, chunks X0 X1 X2 X3, list LX
 *   file Y "base/5/16397": 2 MiB, chunks X1 (shared with X) and Y1, list LY
 *   B1  tli 1  0/2000028 - 0/2000100  X
 *   B2  tli 1  0/3000028 - 0/3000100  X (the same list), Y
 *   WAL tli 1: segments 2..4
 * Distinct: 2 lists, 5 chunks (X1 named by both lists, LX by both backups).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_dir.h"
#include "fx_repo.h"
#include "pgpitr/repo/chunk_list.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/verify_check.h"

#define MIB 1048576u
#define X_SIZE (3 * MIB + 5)
#define Y_SIZE (2 * MIB)

static FxRepo fx;
/* The set of distinct chunks spills to a file beyond this many (0: verify's default, all of
 * the fixture's in memory; the "spilled" cases run every test again with 2). */
static size_t in_memory;
static char x_chunk[4][REPO_PATH_MAX], y_chunk[2][REPO_PATH_MAX];
static ManifestEntry ex, ey;     /* the chunked entries (path, chunk_list malloc'd) */

/* Stores len bytes (zstd) under their content address unless there; path and hex out. */
static void put(const void *data, size_t len, char path[REPO_PATH_MAX],
                char hex[PIPE_SHA256_HEX_LEN + 1])
{
    uint8_t digest[PIPE_SHA256_LEN];
    PgpErr err = {0};
    ck_assert_int_eq(pipe_sha256_buf(data, len, digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    ck_assert_int_eq(repo_object_path(hex, PIPE_CODEC_ZSTD, path, &err), 0);
    StorageInfo info;
    if (storage_stat(fx.st, path, &info, &err) == 0)
        return;
    ObjectWriteOptions o = {.codec = PIPE_CODEC_ZSTD, .level = 1};
    ObjectWriteResult res;
    ck_assert_msg(object_io_write(fx.st, path, &o, data, len, NULL, NULL, &res, &err) == 0,
                  "%s", err.msg);
}

/* Cuts data into 1 MiB chunks, stores them and the list: the entry naming them. */
static void chunked(const char *name, const unsigned char *data, uint64_t size,
                    char paths[][REPO_PATH_MAX], ManifestEntry *e)
{
    ChunkList *l = NULL;
    PgpErr err = {0};
    ck_assert_int_eq(chunk_list_new(size, MIB, PIPE_CODEC_ZSTD, &l, &err), 0);
    for (size_t i = 0; i < l->n; i++) {
        uint64_t off, len;
        char hex[PIPE_SHA256_HEX_LEN + 1];
        chunk_list_extent(l, i, &off, &len);
        put(data + off, len, paths[i], hex);
        ck_assert_int_eq(pipe_sha256_buf(data + off, len, l->digests[i], NULL), 0);
    }
    char *text = NULL, lpath[REPO_PATH_MAX], lsha[PIPE_SHA256_HEX_LEN + 1];
    size_t tlen = 0;
    ck_assert_int_eq(chunk_list_to_json(l, &text, &tlen, &err), 0);
    put(text, tlen, lpath, lsha);
    free(text);
    chunk_list_free(l);
    *e = (ManifestEntry){.path = strdup(name), .type = MANIFEST_FILE, .size = size,
                         .mode = 0600, .mtime = FX_T0, .chunk_shift = 20,
                         .chunk_list = strdup(lpath), .stored_size = 1234};
    memcpy(e->sha256, lsha, sizeof lsha);
}

static void save(const char *label, uint64_t start, const ManifestEntry *const *es, size_t n)
{
    BackupManifest *m = manifest_new();
    m->label = strdup(label);
    m->status = strdup(MANIFEST_STATUS_COMPLETE);
    m->compress = strdup("zstd");
    m->system_identifier = FX_SYSID;
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = 1;
    m->start_lsn = start;
    m->stop_lsn = start + 0xd8;
    m->start_time = FX_T0 + (int64_t)start / 1000 - 2;
    m->stop_time = FX_T0 + (int64_t)start / 1000;
    PgpErr err = {0};
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(manifest_add_entry(m, es[i], &err) == 0, "%s", err.msg);
    ck_assert_msg(manifest_save(fx.st, NULL, label, m, &err) == 0, "%s", err.msg);
    manifest_free(m);
}

static void setup(void)
{
    in_memory = 0;
    fx_repo_init(&fx, "vchunks");
    unsigned char *x = malloc(X_SIZE), *y = malloc(Y_SIZE);
    for (size_t i = 0; i < X_SIZE; i++)
        x[i] = (unsigned char)(i * 7 + i / 4096 + (i >> 20) * 13);   /* chunks differ */
    memcpy(y, x + MIB, MIB);                                         /* Y0 = X1 */
    for (size_t i = MIB; i < Y_SIZE; i++)
        y[i] = (unsigned char)(i * 11 + 3);
    chunked("base/5/16396", x, X_SIZE, x_chunk, &ex);
    chunked("base/5/16397", y, Y_SIZE, y_chunk, &ey);
    ck_assert_str_eq(y_chunk[0], x_chunk[1]);
    free(x);
    free(y);
    save("B1", 0x2000028, (const ManifestEntry *[]){&ex}, 1);
    save("B2", 0x3000028, (const ManifestEntry *[]){&ex, &ey}, 2);
    for (uint64_t s = 2; s <= 4; s++)
        fx_put_wal(&fx, 1, s, NULL, FX_T0 + 10000 + (int64_t)s, NULL);
}

static void teardown(void)
{
    free(ex.path), free(ex.chunk_list), free(ey.path), free(ey.chunk_list);
    fx_repo_free(&fx);
}

/* ---- the run ---------------------------------------------------------------------------- */

typedef struct Run {
    Catalog c;
    VerifyPlan plan;
    VerifyReport r;
} Run;

static void setup_spilled(void)
{
    setup();
    in_memory = 2;
}

static void run(Run *x, const char *only, int jobs)
{
    PgpErr err = {0};
    int rc = catalog_load(fx.repo, CATALOG_LOAD_BACKUPS | CATALOG_LOAD_WAL, &x->c, &err);
    ck_assert_msg(rc == 0, "catalog_load: %s", err.msg);
    const CatalogBackup *b = NULL;
    for (size_t i = 0; i < x->c.n_backups; i++) {
        ck_assert_int_eq(catalog_load_files(fx.repo, &x->c.backups[i], &err), 0);
        if (only != NULL && strcmp(x->c.backups[i].label, only) == 0)
            b = &x->c.backups[i];
    }
    ck_assert_int_eq(verify_plan_build(&x->c, b, &x->plan, &err), 0);
    VerifyPlan *p = &x->plan;
    ck_assert_uint_eq(p->n_file_objs, 0);    /* chunked entries are not whole-file objects */
    for (size_t i = 0; i < p->n_objs; i++) {  /* WAL: marked good at the seam */
        const CatalogWal *w = &x->c.wal[p->wal_index[i]];
        p->objs[i].status = VERIFY_OK;
        fx_good_wal_header(&p->objs[i], w->tli, w->segno, FX_SYSID);
    }
    VerifyPoolOptions po = {.workers = jobs};
    p->chunks.in_memory = in_memory;
    rc = verify_chunks_run(fx.st, &p->chunks, &po, &err);
    ck_assert(in_memory == 0 || p->chunks.n_chunks <= in_memory ||
              extsort_spilled_runs(p->chunks.set) > 0);
    ck_assert_msg(rc == 0, "verify_chunks_run: %s", err.msg);
    rc = verify_analyze(fx.st, p, &x->r, &err);
    ck_assert_msg(rc == 0, "verify_analyze: %s", err.msg);
}

static void done(Run *x)
{
    verify_report_free(&x->r);
    verify_plan_free(&x->plan);
    catalog_free(&x->c);
}

/* The only problem of this kind (asserts there is exactly one). */
static const VerifyProblem *only_problem(const Run *x, const char *kind)
{
    const VerifyProblem *found = NULL;
    for (size_t i = 0; i < x->r.n_problems; i++)
        if (strcmp(x->r.problems[i].kind, kind) == 0) {
            ck_assert_msg(found == NULL, "two %s problems", kind);
            found = &x->r.problems[i];
        }
    ck_assert_msg(found != NULL, "no %s problem", kind);
    return found;
}

static const char *broken(const VerifyProblem *p)
{
    static char out[256];
    out[0] = '\0';
    for (size_t i = 0; i < p->n_backups; i++) {
        size_t len = strlen(out);
        snprintf(out + len, sizeof out - len, "%s%s", i ? "," : "", p->backups[i]);
    }
    return out;
}

/* "base/5/16396:0 chunk 1 @1048576+1048576 B1,B2": one file a problem breaks. */
static const char *file_of(const VerifyProblem *p, size_t i)
{
    static char out[256];
    ck_assert_uint_lt(i, p->n_files);
    const VerifyProblemFile *f = &p->files[i];
    int n = snprintf(out, sizeof out, "%s:%u", f->path, f->tablespace);
    if (f->has_chunk)
        n += snprintf(out + n, sizeof out - (size_t)n, " chunk %llu @%llu+%llu",
                      (unsigned long long)f->chunk, (unsigned long long)f->offset,
                      (unsigned long long)f->length);
    for (size_t b = 0; b < f->n_backups; b++)
        n += snprintf(out + n, sizeof out - (size_t)n, "%s%s", b ? "," : " ", f->backups[b]);
    return out;
}

static bool restorable(const Run *x, const char *label)
{
    for (size_t i = 0; i < x->c.n_backups; i++)
        if (strcmp(x->c.backups[i].label, label) == 0)
            return x->r.restorable[i];
    ck_abort_msg("no backup %s", label);
    return false;
}

#define contains(hay, needle)                                                                  \
    do {                                                                                       \
        const char *h_ = (hay);                                                                \
        ck_assert_msg(h_ != NULL && strstr(h_, (needle)) != NULL, "\"%s\" not in \"%s\"",      \
                      (needle), h_ != NULL ? h_ : "(null)");                                   \
    } while (0)

static void object_file(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", fx.root, path);
}

static void remove_object(const char *path)
{
    char f[512];
    object_file(path, f, sizeof f);
    ck_assert_int_eq(unlink(f), 0);
}

/* ---- tests ------------------------------------------------------------------------------ */

START_TEST(intact_chunks_each_read_once)
{
    Run x;
    run(&x, NULL, 2);
    const VerifyChunks *v = &x.plan.chunks;
    for (size_t i = 0; i < x.r.n_problems; i++)
        ck_assert_msg(!x.r.problems[i].error, "%s", x.r.problems[i].message);
    ck_assert_uint_eq(v->n_refs, 3);            /* X in B1 and B2, Y in B2 */
    ck_assert_uint_eq(v->n_lists, 2);
    ck_assert_uint_eq(v->list_reads, 2);        /* LX once, though two backups use it */
    ck_assert_uint_eq(v->n_chunks, 5);          /* X1 once, though both lists name it */
    ck_assert_uint_eq(v->pool.objects, 5);
    ck_assert_uint_eq(v->pool.bad, 0);
    ck_assert_uint_eq(v->pool.bytes_original, X_SIZE + MIB);   /* X whole, Y1 */
    ck_assert_uint_gt(v->pool.bytes_read, 0);
    ck_assert(restorable(&x, "B1") && restorable(&x, "B2"));
    done(&x);
    run(&x, "B1", 1);                           /* --backup B1: only X's list and chunks */
    ck_assert_uint_eq(x.plan.chunks.n_lists, 1);
    ck_assert_uint_eq(x.plan.chunks.pool.objects, 4);
    ck_assert_uint_eq(x.r.n_errors, 0);
    done(&x);
}
END_TEST

START_TEST(flipped_bit_in_a_shared_chunk_names_every_file_and_backup)
{
    fx_flip_bit(fx.root, x_chunk[1], FX_FLIP_MIDDLE);
    Run x;
    run(&x, NULL, 2);
    const VerifyProblem *p = only_problem(&x, "backup_chunk");
    ck_assert(p->error);
    ck_assert_str_eq(p->subject, x_chunk[1]);
    contains(p->message, x_chunk[1]);
    contains(p->message, "is corrupt");
    contains(p->breaks, "chunk 1 (bytes 1048576..2097151) of file \"base/5/16396\" "
                        "(tablespace 0) in backups \"B1\", \"B2\"");
    contains(p->breaks, "chunk 0 (bytes 0..1048575) of file \"base/5/16397\" (tablespace 0) "
                        "in backup \"B2\"");
    contains(p->breaks, "can no longer be restored");
    ck_assert_str_eq(broken(p), "B1,B2");
    ck_assert_uint_eq(p->n_files, 2);
    ck_assert_str_eq(file_of(p, 0), "base/5/16396:0 chunk 1 @1048576+1048576 B1,B2");
    ck_assert_str_eq(file_of(p, 1), "base/5/16397:0 chunk 0 @0+1048576 B2");
    ck_assert(!restorable(&x, "B1") && !restorable(&x, "B2"));
    ck_assert_uint_eq(x.r.n_errors, 1);
    ck_assert_uint_eq(x.plan.chunks.pool.objects, 5);   /* still read once */
    ck_assert_uint_eq(x.plan.chunks.pool.bad, 1);
    done(&x);
}
END_TEST

START_TEST(missing_chunk_is_backup_chunk)
{
    remove_object(x_chunk[3]);
    Run x;
    run(&x, NULL, 1);
    const VerifyProblem *p = only_problem(&x, "backup_chunk");
    ck_assert_str_eq(p->subject, x_chunk[3]);
    contains(p->message, "is missing");
    ck_assert_str_eq(p->breaks, "chunk 3 (bytes 3145728..3145732) of file \"base/5/16396\" "
                                "(tablespace 0) in backups \"B1\", \"B2\" can no longer be "
                                "restored");
    ck_assert_str_eq(broken(p), "B1,B2");
    ck_assert_uint_eq(p->n_files, 1);
    ck_assert_str_eq(file_of(p, 0), "base/5/16396:0 chunk 3 @3145728+5 B1,B2");
    ck_assert_uint_eq(x.r.n_errors, 1);
    done(&x);
}
END_TEST

START_TEST(damaged_list_breaks_its_file_in_every_backup)
{
    fx_flip_bit(fx.root, ex.chunk_list, FX_FLIP_MIDDLE);
    Run x;
    run(&x, NULL, 2);
    const VerifyProblem *p = only_problem(&x, "backup_chunk_list");
    ck_assert_str_eq(p->subject, ex.chunk_list);
    contains(p->message, ex.chunk_list);
    ck_assert_str_eq(p->breaks, "file \"base/5/16396\" (tablespace 0) in backups \"B1\", "
                                "\"B2\" can no longer be restored (its chunks were not "
                                "checked)");
    ck_assert_str_eq(broken(p), "B1,B2");
    ck_assert_uint_eq(p->n_files, 1);
    ck_assert_str_eq(file_of(p, 0), "base/5/16396:0 B1,B2");
    ck_assert_uint_eq(x.r.n_errors, 1);
    ck_assert_uint_eq(x.plan.chunks.pool.objects, 2);   /* only Y's chunks */
    done(&x);
}
END_TEST

START_TEST(missing_list_breaks_only_the_backups_using_it)
{
    remove_object(ey.chunk_list);
    Run x;
    run(&x, NULL, 2);
    const VerifyProblem *p = only_problem(&x, "backup_chunk_list");
    ck_assert_str_eq(p->subject, ey.chunk_list);
    contains(p->message, "missing");
    contains(p->breaks, "file \"base/5/16397\" (tablespace 0) in backup \"B2\" can no longer");
    ck_assert_str_eq(broken(p), "B2");
    ck_assert(restorable(&x, "B1"));
    ck_assert(!restorable(&x, "B2"));
    ck_assert_uint_eq(x.r.n_errors, 1);
    ck_assert_uint_eq(x.plan.chunks.pool.objects, 4);
    done(&x);
}
END_TEST

/* A list that is sound but does not describe one entry (another size): that file of that
 * backup only. */
START_TEST(list_not_describing_an_entry_breaks_that_file)
{
    ManifestEntry odd = ex;
    odd.path = "base/5/99999";
    odd.size = X_SIZE + MIB;     /* 5 chunks: the list has 4 */
    save("B3", 0x4000028, (const ManifestEntry *[]){&ex, &odd}, 2);
    Run x;
    run(&x, NULL, 2);
    const VerifyProblem *p = only_problem(&x, "backup_chunk_list");
    contains(p->message, "backup \"B3\": file \"base/5/99999\"");
    contains(p->message, "does not describe it");
    ck_assert_str_eq(broken(p), "B3");
    ck_assert_str_eq(file_of(p, 0), "base/5/99999:0 B3");
    ck_assert(restorable(&x, "B1") && restorable(&x, "B2"));
    done(&x);
}
END_TEST

/* A chunk used by many files: the breaks line names 16 and counts the rest; "files" and
 * "backups" are complete. */
START_TEST(many_files_on_one_chunk_are_counted_past_sixteen)
{
    enum { N = 20 };
    ManifestEntry many[N];
    char paths[N][32];
    const ManifestEntry *es[N];
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof paths[i], "base/7/%d", 100 + i);
        many[i] = ex;
        many[i].path = paths[i];
        es[i] = &many[i];
    }
    save("B3", 0x4000028, es, N);
    fx_flip_bit(fx.root, x_chunk[0], FX_FLIP_MIDDLE);
    Run x;
    run(&x, NULL, 2);
    const VerifyProblem *p = only_problem(&x, "backup_chunk");
    /* 20 files of B3 and base/5/16396 of B1 and B2: 21 files, 16 named, 5 more */
    contains(p->breaks, "in backup \"B3\" (and 5 more files) can no longer be restored");
    ck_assert_uint_eq(p->n_files, 21);
    ck_assert_str_eq(broken(p), "B1,B2,B3");
    ck_assert_uint_eq(x.plan.chunks.n_lists, 2);          /* still two distinct lists */
    ck_assert_uint_eq(x.plan.chunks.list_reads, 4);      /* and the second pass */
    done(&x);
}
END_TEST

/* Every case, with the set of distinct chunks in memory or spilled to a file. */
static TCase *cases(const char *name, void (*fixture)(void))
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, fixture, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, intact_chunks_each_read_once);
    tcase_add_test(tc, flipped_bit_in_a_shared_chunk_names_every_file_and_backup);
    tcase_add_test(tc, missing_chunk_is_backup_chunk);
    tcase_add_test(tc, damaged_list_breaks_its_file_in_every_backup);
    tcase_add_test(tc, missing_list_breaks_only_the_backups_using_it);
    tcase_add_test(tc, list_not_describing_an_entry_breaks_that_file);
    tcase_add_test(tc, many_files_on_one_chunk_are_counted_past_sixteen);
    return tc;
}

Suite *suite_verify_chunks(void)
{
    Suite *s = suite_create("verify_chunks");
    suite_add_tcase(s, cases("verify_chunks", setup));
    suite_add_tcase(s, cases("spilled", setup_spilled));
    return s;
}
