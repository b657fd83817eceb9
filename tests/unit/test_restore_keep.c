/*
 * test_restore_keep.c - unit tests of --keep-old (restore_keep.c, restore_keep_undo.c,
 * restore_copy.c): which directories are refused, the copy of a fabricated data directory
 * and tablespace location (every entry with its type, mode, times, size and content), taking
 * over an interrupted copy, and the undo.sh it writes, run with sh: after the destination was
 * changed the way a delta restore and a server change it, after an interrupted undo, in the
 * state "copying", and while a server runs.
 */
#include "pgpitr/restore/restore_keep.h"
#include "pgpitr/restore/restore_keep_undo.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fx_err.h"

static char tdir[128];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/pgpitr_test_keep.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
}

static void teardown(void)
{
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tdir/rel in one of eight rotating static buffers */
static const char *at(const char *rel)
{
    static char bufs[8][512];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, sizeof bufs[0], "%s/%s", tdir, rel);
    return p;
}

static void put(const char *rel, const char *text, mode_t mode)
{
    int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 123}, {.tv_sec = 1000000000, .tv_nsec = 456}};
    ck_assert_int_eq(fchmod(fd, mode), 0);
    ck_assert_int_eq(futimens(fd, ts), 0);
    close(fd);
}

static void dir(const char *rel, mode_t mode)
{
    ck_assert_int_eq(mkdir(at(rel), mode), 0);
}

static bool exists(const char *rel)
{
    struct stat st;
    return lstat(at(rel), &st) == 0;
}

/* ---- the state of a tree: one sorted line per entry ------------------------------------------ */

static FILE *state_out;
static size_t state_skip;

static int state_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)flag;
    if (ftw->level == 0) {
        fprintf(state_out, "#root %o\n", (unsigned)(st->st_mode & 07777)); /* sorts first */
        return 0;
    }
    fprintf(state_out, "%s %o %lld.%09ld", p + state_skip, (unsigned)(st->st_mode & 0177777),
            (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
    char buf[256] = "";
    if (S_ISLNK(st->st_mode)) {
        ssize_t n = readlink(p, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
    } else if (S_ISREG(st->st_mode)) {
        int fd = open(p, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        buf[n > 0 ? n : 0] = '\0';
        if (fd >= 0)
            close(fd);
    }
    fprintf(state_out, " [%s]\n", buf);
    return 0;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every entry below rel (path, type and mode, mtime, link target or content), sorted. */
static char *tree(const char *rel)
{
    char *text = NULL, *lines[256];
    size_t len = 0, n = 0;
    state_out = open_memstream(&text, &len);
    state_skip = strlen(at(rel));
    ck_assert_int_eq(nftw(at(rel), state_one, 16, FTW_PHYS), 0);
    fclose(state_out);
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL && n < 256;
         l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    qsort(lines, n, sizeof *lines, line_cmp);
    char *out = NULL;
    size_t olen = 0;
    FILE *f = open_memstream(&out, &olen);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
    free(text);
    return out;
}

static void assert_tree(const char *rel, const char *want)
{
    char *now = tree(rel);
    ck_assert_str_eq(now, want);
    free(now);
}

/* ---- the fixture: a data directory and a tablespace location -------------------------------- */

static char *ent_paths[] = {"PG_15_x", "PG_15_x/1", "PG_15_x/1/16400", "PG_15_new"};
static ManifestEntry ents[4];
static ManifestPack *man;              /* ents, as restore holds them */
static RestoreTablespaceDest ts_dest;
static RestoreDest dest;

static void fixture(void)
{
    dir("data", 0750);
    dir("data/base", 0700);
    dir("data/base/5", 0700);
    dir("data/global", 0700);
    dir("data/pg_tblspc", 0700);
    dir("wal_elsewhere", 0700);
    put("data/PG_VERSION", "15\n", 0600);
    put("data/base/5/1259", "relation", 0600);
    put("data/global/pg_control", "control", 0600);
    put("data/postgresql.auto.conf", "# auto\n", 0640);
    put("data/it's a \"name\" $x", "odd name", 0600);
    put("data/.hidden", "dot", 0600);
    ck_assert_int_eq(symlink("../wal_elsewhere", at("data/pg_wal")), 0);
    ck_assert_int_eq(symlink(at("ts"), at("data/pg_tblspc/16385")), 0);
    dir("ts", 0700);
    dir("ts/PG_15_x", 0700);
    dir("ts/PG_15_x/1", 0700);
    put("ts/PG_15_x/1/16400", "ts relation", 0600);
    dir("ts/PG_99_other", 0700);
    put("ts/PG_99_other/f", "another cluster", 0600);
    for (size_t i = 0; i < 4; i++)
        ents[i] = (ManifestEntry){.path = ent_paths[i], .tablespace = 16385,
                                  .type = i == 2 ? MANIFEST_FILE : MANIFEST_DIR};
    PgpErr err = {0};
    manifest_pack_free(man);
    man = manifest_pack_new();
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(manifest_pack_add(man, &ents[i], &err), 0);
    ts_dest = (RestoreTablespaceDest){.oid = 16385, .path = strdup(at("ts"))};
    dest = (RestoreDest){.pgdata = strdup(at("data")), .ts = &ts_dest, .n_ts = 1};
}

static void fixture_free(void)
{
    free(dest.pgdata);
    free(ts_dest.path);
    manifest_pack_free(man);
    man = NULL;
}

/* restore_keep_open + restore_keep_copy into rel; the error code. */
static int keep(const char *rel, PgpErr *err)
{
    RestoreKeep *k = NULL;
    int rc = restore_keep_open(at(rel), &dest, man, &k, err);
    if (rc == 0) {
        rc = restore_keep_copy(k, NULL, err);
        if (rc == 0)
            restore_keep_finish(k);
    }
    restore_keep_free(k);
    return rc;
}

/* sh DIR/undo.sh, output into tdir/undo.out; its exit status. */
static int undo(const char *rel)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "sh '%s/undo.sh' >'%s' 2>&1", at(rel), at("undo.out"));
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *rel)
{
    static char buf[8192];
    int fd = open(at(rel), O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    buf[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    return buf;
}

/* What a delta restore and the restored server do to the destination. */
static void change_dest(void)
{
    ck_assert_int_eq(unlink(at("data/global/pg_control")), 0);
    ck_assert_int_eq(unlink(at("data/pg_wal")), 0);
    dir("data/pg_wal", 0700);
    put("data/pg_wal/000000010000000000000001", "wal", 0600);
    put("data/base/5/1259", "changed in place", 0600);
    ck_assert_int_eq(unlink(at("data/it's a \"name\" $x")), 0);
    ck_assert_int_eq(unlink(at("data/.hidden")), 0);
    put("data/recovery.signal", "", 0600);
    put("data/..odd", "", 0600);
    ck_assert_int_eq(chmod(at("data"), 0700), 0);
    put("ts/PG_15_x/1/16400", "rewritten", 0600);
    dir("ts/PG_15_new", 0700);
}

/* ---- tests ------------------------------------------------------------------------------------ */

START_TEST(sh_quote)
{
    char *q = restore_keep_sh_quote("");
    ck_assert_str_eq(q, "''");
    free(q);
    q = restore_keep_sh_quote("it's $HOME\n`x`");
    ck_assert_str_eq(q, "'it'\\''s $HOME\n`x`'");
    free(q);
}
END_TEST

START_TEST(copy_and_undo)
{
    fixture();
    char *data = tree("data"), *ts = tree("ts"), *ver = tree("ts/PG_15_x");
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(keep("keep", &err), 0);
    /* the copy: every entry as it was (the copy's own root is 0700) */
    char *copy = tree("keep/pgdata");
    ck_assert_str_eq(strchr(copy, '\n'), strchr(data, '\n'));
    free(copy);
    assert_tree("keep/tablespaces/16385/PG_15_x", ver);
    ck_assert(!exists("keep/tablespaces/16385/PG_99_other"));
    ck_assert_ptr_nonnull(strstr(slurp("keep/keep-old.json"), "\"state\": \"done\""));
    ck_assert_ptr_nonnull(strstr(slurp("keep/README"), "sh '"));
    struct stat st;
    ck_assert_int_eq(stat(at("keep"), &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0700);

    change_dest();
    ck_assert_int_eq(undo("keep"), 0);
    ck_assert_ptr_nonnull(strstr(slurp("undo.out"), "is back as it was"));
    assert_tree("data", data);
    assert_tree("ts", ts);
    ck_assert_ptr_nonnull(strstr(slurp("keep/keep-old.json"), "\"state\": \"undone\""));
    ck_assert_int_eq(undo("keep"), 0);
    ck_assert_ptr_nonnull(strstr(slurp("undo.out"), "already done"));
    /* a finished copy is not taken over */
    ck_assert_int_eq(keep("keep", &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "already holds the directory as it was before the restore");
    free(data);
    free(ts);
    free(ver);
    fixture_free();
}
END_TEST

/* An undo killed half way: some entries are back already. Run again, it finishes. */
START_TEST(undo_again)
{
    fixture();
    char *data = tree("data"), *ts = tree("ts");
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(keep("keep", &err), 0);
    change_dest();
    /* as put_back leaves it after moving "base" back and removing "global" */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s' && mv '%s' '%s'", at("data/base"),
             at("data/global"), at("keep/pgdata/base"), at("data/base"));
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(undo("keep"), 0);
    assert_tree("data", data);
    assert_tree("ts", ts);
    free(data);
    free(ts);
    fixture_free();
}
END_TEST

START_TEST(undo_refuses_running_server)
{
    fixture();
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(keep("keep", &err), 0);
    change_dest();
    char pid[32];
    snprintf(pid, sizeof pid, "%ld\n/data\n", (long)getpid());
    put("data/postmaster.pid", pid, 0600);
    char *data = tree("data");
    ck_assert_int_eq(undo("keep"), 1);
    ck_assert_ptr_nonnull(strstr(slurp("undo.out"), "a server is running in"));
    assert_tree("data", data);
    free(data);
    fixture_free();
}
END_TEST

START_TEST(refusals)
{
    fixture();
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(keep("data/keep", &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "overlaps the target directory");
    ck_assert(!exists("data/keep"));
    ck_assert_int_eq(keep("ts/PG_99_other/keep", &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "overlaps the tablespace 16385 location");
    /* the destination inside DIR, through a symlink */
    ck_assert_int_eq(symlink(tdir, at("data_parent")), 0);
    ck_assert_int_eq(keep("data_parent", &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "overlaps");
    dir("used", 0700);
    put("used/mine", "x", 0600);
    ck_assert_int_eq(keep("used", &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "is not empty (it contains \"mine\")");
    ck_assert(exists("used/mine"));
    put("afile", "x", 0600);
    ck_assert_int_eq(keep("afile", &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "is not a directory");
    ck_assert_int_eq(keep("no/such/parent", &err), PGP_ERR_IO);
    /* another destination's copy */
    dir("other", 0700);
    put("other/keep-old.json", "{\"format\": 1, \"state\": \"kept\", \"started\": \"x\", "
        "\"roots\": [{\"oid\": 0, \"path\": \"/elsewhere\"}]}", 0600);
    ck_assert_int_eq(keep("other", &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "holds the copy kept by another restore");
    put("other/keep-old.json", "not json", 0600);
    ck_assert_int_eq(keep("other", &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "cannot be read");
    /* a FIFO cannot be kept: refused before anything is written, DIR made for it removed */
    ck_assert_int_eq(mkfifo(at("data/fifo"), 0600), 0);
    ck_assert_int_eq(keep("keep", &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "not a regular file, directory or symbolic link");
    ck_assert_ptr_nonnull(strstr(err.hint, "nothing in the target was changed"));
    ck_assert(!exists("keep"));
    fixture_free();
}
END_TEST

/* A copy interrupted while "copying" is made again; one that is "kept" is used as it is. */
START_TEST(take_over)
{
    fixture();
    PgpErr err;
    pgp_err_clear(&err);
    RestoreKeep *k = NULL;
    ck_assert_int_eq(restore_keep_open(at("keep"), &dest, man, &k, &err), 0);
    ck_assert_int_eq(restore_keep_copy(k, NULL, &err), 0);
    restore_keep_free(k); /* never finished: "kept" */
    ck_assert_ptr_nonnull(strstr(slurp("keep/keep-old.json"), "\"state\": \"kept\""));
    put("data/new_since", "x", 0600);
    ck_assert_int_eq(keep("keep", &err), 0);
    ck_assert(!exists("keep/pgdata/new_since"));

    /* "copying": what is there is redone */
    char json[8192];
    const char *was = slurp("keep/keep-old.json"), *s = strstr(was, "\"done\"");
    ck_assert_ptr_nonnull(s);
    snprintf(json, sizeof json, "%.*s\"copying\"%s", (int)(s - was), was, s + 6);
    put("keep/keep-old.json", json, 0600);
    ck_assert_int_eq(undo("keep"), 0);
    ck_assert_ptr_nonnull(strstr(slurp("undo.out"), "nothing to undo"));
    ck_assert_int_eq(unlink(at("keep/pgdata/PG_VERSION")), 0);
    ck_assert_int_eq(keep("keep", &err), 0);
    ck_assert(exists("keep/pgdata/PG_VERSION") && exists("keep/pgdata/new_since"));
    fixture_free();
}
END_TEST

START_TEST(cancelled)
{
    fixture();
    PgpErr err;
    pgp_err_clear(&err);
    RestoreKeep *k = NULL;
    static volatile sig_atomic_t cancel = 15;
    RestoreKeepCopyOptions opt = {.quiet = true, .cancel = &cancel};
    ck_assert_int_eq(restore_keep_open(at("keep"), &dest, man, &k, &err), 0);
    ck_assert_int_eq(restore_keep_copy(k, &opt, &err), PGP_ERR_IO);
    fx_assert_printable_err(&err, "interrupted by signal 15");
    restore_keep_free(k);
    ck_assert(!exists("keep"));
    fixture_free();
}
END_TEST

Suite *suite_restore_keep(void)
{
    Suite *s = suite_create("restore_keep");
    TCase *tc = tcase_create("keep");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, sh_quote);
    tcase_add_test(tc, copy_and_undo);
    tcase_add_test(tc, undo_again);
    tcase_add_test(tc, undo_refuses_running_server);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, take_over);
    tcase_add_test(tc, cancelled);
    suite_add_tcase(s, tc);
    return s;
}
