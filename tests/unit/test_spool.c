/*
 * test_spool.c - the archive-get prefetch spool (src/archive/spool.c): size parsing and the bound,
 * spool file names, which spooled files are obsolete, the prefetch window, settings (the
 * default size following the segment size, a size below one segment turning prefetching off),
 * the checks of the directory (symlink, owner, mode) and the directory operations (identity
 * check and wipe, take, the request file) in a mkdtemp directory. The checks of one file are
 * in test_spool_file.c; the prefetcher process is exercised by the integration tests.
 */
#include "pgpitr/archive/spool.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_err.h"
#include "fx_pgwal.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/archive/spool_file.h"
#include "pgpitr/pg/walname.h"

#define MIB (UINT64_C(1) << 20)
#define SEG16 (UINT32_C(16) << 20)

static char tdir[128];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void setup(void)
{
    snprintf(tdir, sizeof tdir, "/tmp/pgpitr_test_spool.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
}

static void teardown(void)
{
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put_file(const char *dir, const char *name, const char *content)
{
    char p[PATH_MAX];
    ck_assert(spool_join(p, dir, name));
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
}

static bool exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    struct stat sb;
    return spool_join(p, dir, name) && stat(p, &sb) == 0;
}

static void read_all(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* ---- pure helpers ----------------------------------------------------------------------------- */

START_TEST(parse_size)
{
    uint64_t v = 1;
    PgpErr err;
    ck_assert_int_eq(spool_parse_size("0", &v, &err), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(spool_parse_size("1048576", &v, &err), 0);
    ck_assert_uint_eq(v, MIB);
    ck_assert_int_eq(spool_parse_size("512MiB", &v, &err), 0);
    ck_assert_uint_eq(v, 512 * MIB);
    ck_assert_int_eq(spool_parse_size("512MB", &v, &err), 0);
    ck_assert_uint_eq(v, 512 * MIB);
    ck_assert_int_eq(spool_parse_size("48m", &v, &err), 0);
    ck_assert_uint_eq(v, 48 * MIB);
    ck_assert_int_eq(spool_parse_size("2 GiB", &v, &err), 0);
    ck_assert_uint_eq(v, 2048 * MIB);
    ck_assert_int_eq(spool_parse_size("64kB", &v, &err), 0);
    ck_assert_uint_eq(v, 64 * 1024);
    const char *bad[] = {"", "-1", "MiB", "12 apples", "1.5GiB", "99999999999999999999",
                         "20000000TiB", " 5", "5MiBs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        pgp_err_clear(&err);
        ck_assert_msg(spool_parse_size(bad[i], &v, &err) == PGP_ERR_CONFIG, "accepted \"%s\"", bad[i]);
        ck_assert_uint_eq(v, 7);
        ck_assert_ptr_nonnull(strstr(err.msg, "spool-size"));
    }
}
END_TEST

/* The text reaches the message quoted: a newline or an escape sequence in a setting cannot
 * make the one-line error two lines or drive the terminal (found by tests/fuzz/fuzz_size). */
START_TEST(size_error_quoted)
{
    const char *bad[] = {"5\nMiB", "1\x1b[2J", "\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 7;
        PgpErr err;
        ck_assert_int_eq(spool_parse_size(bad[i], &v, &err), PGP_ERR_CONFIG);
        fx_assert_printable_err(&err, "invalid spool-size");
    }
}
END_TEST

START_TEST(bound_arithmetic)
{
    ck_assert_uint_eq(spool_max_segments(512 * MIB, SEG16), 32);
    ck_assert_uint_eq(spool_max_segments(48 * MIB, SEG16), 3);
    ck_assert_uint_eq(spool_max_segments(48 * MIB - 1, SEG16), 2);   /* floor */
    ck_assert_uint_eq(spool_max_segments(16 * MIB, SEG16), 1);       /* the minimum */
    ck_assert_uint_eq(spool_max_segments(16 * MIB - 1, SEG16), 0);   /* below one segment */
    ck_assert_uint_eq(spool_max_segments(0, SEG16), 0);
    ck_assert_uint_eq(spool_max_segments(512 * MIB, 0), 0);
    ck_assert_uint_eq(spool_max_segments(512 * MIB, (uint32_t)MIB), 512);
    ck_assert_uint_eq(spool_max_segments(UINT64_MAX, (uint32_t)MIB), 1u << 20);   /* capped */
    /* the default: 512 MiB, or (jobs + 1) segments when that is more */
    ck_assert_uint_eq(spool_default_size(2, SEG16), 512 * MIB);
    ck_assert_uint_eq(spool_default_size(30, SEG16), 512 * MIB);
    ck_assert_uint_eq(spool_default_size(32, SEG16), 33 * 16 * MIB);
    ck_assert_uint_eq(spool_default_size(2, 256 * MIB), 768 * MIB);
    ck_assert_uint_eq(spool_default_size(2, 1024 * MIB), 3072 * MIB);
    ck_assert_uint_eq(spool_default_size(32, 1024 * MIB), 33 * 1024 * MIB);
    ck_assert_uint_eq(spool_max_segments(spool_default_size(2, 1024 * MIB), 1024 * MIB), 3);
}
END_TEST

START_TEST(file_kinds)
{
    ck_assert_int_eq(spool_file_kind("000000010000000A000000FF"), SPOOL_FILE_SEGMENT);
    ck_assert_int_eq(spool_file_kind("000000010000000a000000ff"), SPOOL_FILE_OTHER);
    ck_assert_int_eq(spool_file_kind("000000010000000A000000F"), SPOOL_FILE_OTHER);
    ck_assert_int_eq(spool_file_kind("000000010000000A000000FF.partial"), SPOOL_FILE_OTHER);
    ck_assert_int_eq(spool_file_kind("00000002.history"), SPOOL_FILE_OTHER);
    ck_assert_int_eq(spool_file_kind("RECOVERYXLOG"), SPOOL_FILE_OTHER);
    ck_assert_int_eq(spool_file_kind(".identity"), SPOOL_FILE_CONTROL);
    ck_assert_int_eq(spool_file_kind(".requested"), SPOOL_FILE_CONTROL);
    ck_assert_int_eq(spool_file_kind(".requested.1234"), SPOOL_FILE_CONTROL);
    ck_assert_int_eq(spool_file_kind(".prefetch.lock"), SPOOL_FILE_CONTROL);
    ck_assert_int_eq(spool_file_kind(".prefetch.log"), SPOOL_FILE_CONTROL);
    ck_assert_int_eq(spool_file_kind(".fetch.000000010000000A000000FF"), SPOOL_FILE_WORK);
    ck_assert_int_eq(spool_file_kind("..fetch.000000010000000A000000FF.pgpitr-tmp.77"),
                     SPOOL_FILE_WORK);
    ck_assert_int_eq(spool_file_kind(".inflight.000000010000000A000000FF"), SPOOL_FILE_WORK);
    ck_assert_int_eq(spool_file_kind(".sha256.000000010000000A000000FF"), SPOOL_FILE_RECORD);
    ck_assert_int_eq(spool_file_kind("."), SPOOL_FILE_OTHER);
    ck_assert_int_eq(spool_file_kind(".."), SPOOL_FILE_OTHER);

    char p[PATH_MAX];
    spool_inflight_name(p, "000000010000000A000000FF");
    ck_assert_str_eq(p, ".inflight.000000010000000A000000FF");
    ck_assert(spool_record_name(p, "000000010000000A000000FF"));
    ck_assert_str_eq(p, ".sha256.000000010000000A000000FF");
    char longdir[PATH_MAX];
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = '\0';
    ck_assert(!spool_join(p, longdir, "x"));
    ck_assert_str_eq(p, "");
}
END_TEST

START_TEST(obsolete_names)
{
    /* last request: timeline 2, segment 0x0A00000010 (16 MiB: 256 segments per log id) */
    uint64_t req = UINT64_C(0x0A) * 256 + 0x10;
    ck_assert(!spool_file_obsolete("000000020000000A00000011", SEG16, 2, req));   /* ahead */
    ck_assert(!spool_file_obsolete("000000020000000B00000000", SEG16, 2, req));   /* next log */
    ck_assert(!spool_file_obsolete("000000020000000A00000010", SEG16, 2, req));   /* same */
    ck_assert(spool_file_obsolete("000000020000000A0000000F", SEG16, 2, req));    /* older */
    ck_assert(spool_file_obsolete("0000000200000009000000FF", SEG16, 2, req));    /* older log */
    ck_assert(spool_file_obsolete("000000010000000A00000011", SEG16, 2, req));    /* other tli */
    ck_assert(spool_file_obsolete("000000030000000A00000011", SEG16, 2, req));
    ck_assert(spool_file_obsolete("000000020000000A00000100", SEG16, 2, req));    /* seg > 255 */
    ck_assert(!spool_file_obsolete(".identity", SEG16, 2, req));
    ck_assert(!spool_file_obsolete("00000002.history", SEG16, 2, req));
    ck_assert(!spool_file_obsolete("000000020000000A00000009.partial", SEG16, 2, req));
}
END_TEST

/* "have" for the window tests: a small set of segnos. */
typedef struct Held { uint64_t s[8]; unsigned n; } Held;
static bool held_has(void *ud, uint64_t segno)
{
    Held *h = ud;
    for (unsigned i = 0; i < h->n; i++)
        if (h->s[i] == segno)
            return true;
    return false;
}

START_TEST(window)
{
    Held h = {{0}, 0};
    uint64_t s = 0;
    SpoolWindow w = {.base = 100, .next = 101, .max = 3, .held = 0, .stop = UINT64_MAX,
                     .last = 1000};
    ck_assert(spool_window_next(&w, held_has, &h, &s));
    ck_assert_uint_eq(s, 101);
    /* 101 and 102 held: 103 next; at the bound nothing */
    h = (Held){{101, 102}, 2};
    w.held = 2;
    w.next = 103;
    ck_assert(spool_window_next(&w, held_has, &h, &s));
    ck_assert_uint_eq(s, 103);
    w.held = 3;
    ck_assert(!spool_window_next(&w, held_has, &h, &s));
    /* never beyond base + max, even with room (held counts files elsewhere) */
    h = (Held){{101, 102, 103}, 3};
    w.held = 2;
    w.next = 104;
    ck_assert(!spool_window_next(&w, held_has, &h, &s));
    /* 101 was taken by archive-get before .requested moved: not fetched again (next) */
    h = (Held){{102}, 1};
    w = (SpoolWindow){.base = 100, .next = 103, .max = 3, .held = 1, .stop = UINT64_MAX,
                      .last = 1000};
    ck_assert(spool_window_next(&w, held_has, &h, &s));
    ck_assert_uint_eq(s, 103);
    /* PostgreSQL moved on: the window follows, next below base is ignored */
    h = (Held){{0}, 0};
    w = (SpoolWindow){.base = 200, .next = 150, .max = 2, .held = 0, .stop = UINT64_MAX,
                      .last = 1000};
    ck_assert(spool_window_next(&w, held_has, &h, &s));
    ck_assert_uint_eq(s, 201);
    /* stop (end of archive or a failed segment) and the last segment */
    w = (SpoolWindow){.base = 100, .next = 101, .max = 5, .held = 0, .stop = 102, .last = 1000};
    ck_assert(spool_window_next(&w, held_has, &h, &s));
    ck_assert_uint_eq(s, 101);
    w.next = 102;
    ck_assert(!spool_window_next(&w, held_has, &h, &s));
    w = (SpoolWindow){.base = 999, .next = 1000, .max = 5, .held = 0, .stop = UINT64_MAX,
                      .last = 1000};
    ck_assert(spool_window_next(&w, held_has, &h, &s));
    ck_assert_uint_eq(s, 1000);
    w.next = 1001;
    ck_assert(!spool_window_next(&w, held_has, &h, &s));
}
END_TEST

/* ---- settings --------------------------------------------------------------------------------- */

static int resolve_seg(const char *size, const char *path, uint32_t segsize, SpoolSettings *st,
                       bool *enabled, PgpErr *err)
{
    CmdSettings s = {.config = NULL, .repo_path = tdir};
    /* looked up as archive-get does (flag > environment > config) */
    SpoolRequest r = {
        .path = cmd_setting(&s, path, "PGPITR_SPOOL_PATH", "spool-path"),
        .size = cmd_setting(&s, size, "PGPITR_SPOOL_SIZE", "spool-size"),
        .jobs = cmd_setting(&s, NULL, "PGPITR_PREFETCH_JOBS", "prefetch-jobs"),
        .idle_timeout = getenv("PGPITR_PREFETCH_IDLE_TIMEOUT"),
        .repo_path = s.repo_path,
    };
    RepoIdentity id = {.system_identifier = 7345, .pg_major = 15, .wal_segsize = segsize};
    return spool_settings_resolve(&r, &id, st, enabled, err);
}

static int resolve(const char *size, const char *path, SpoolSettings *st, bool *enabled, PgpErr *err)
{
    return resolve_seg(size, path, SEG16, st, enabled, err);
}

START_TEST(settings)
{
    static SpoolSettings st;
    bool enabled = true;
    PgpErr err;
    unsetenv("PGPITR_SPOOL_PATH");
    unsetenv("PGPITR_SPOOL_SIZE");
    unsetenv("PGPITR_PREFETCH_JOBS");
    unsetenv("PGPITR_PREFETCH_IDLE_TIMEOUT");
    ck_assert_int_eq(chdir(tdir), 0);
    /* not a data directory in recovery, no path given: off */
    ck_assert_int_eq(resolve(NULL, NULL, &st, &enabled, &err), 0);
    ck_assert(!enabled);
    /* in recovery: the default path in pg_wal, the defaults */
    put_file(tdir, "PG_VERSION", "15\n");
    put_file(tdir, "recovery.signal", "");
    ck_assert_int_eq(resolve(NULL, NULL, &st, &enabled, &err), 0);
    ck_assert(enabled);
    char want[PATH_MAX];
    snprintf(want, sizeof want, "%s/pg_wal/pgpitr_spool", tdir);
    ck_assert_str_eq(st.path, want);
    ck_assert(st.is_default_path);
    ck_assert_str_eq(st.datadir, tdir);
    ck_assert_uint_eq(st.max_segments, 32);
    ck_assert_uint_eq(st.jobs, SPOOL_DEFAULT_JOBS);
    ck_assert_uint_eq(st.idle_timeout_s, SPOOL_DEFAULT_IDLE_S);
    ck_assert_ptr_nonnull(strstr(st.identity, "system-identifier 7345\n"));
    ck_assert_ptr_nonnull(strstr(st.identity, tdir));
    /* size 0: off; a relative path is made absolute; the environment */
    ck_assert_int_eq(resolve("0", NULL, &st, &enabled, &err), 0);
    ck_assert(!enabled);
    setenv("PGPITR_PREFETCH_JOBS", "5", 1);
    ck_assert_int_eq(resolve("48MiB", "spool", &st, &enabled, &err), 0);
    ck_assert(enabled && !st.is_default_path);
    snprintf(want, sizeof want, "%s/spool", tdir);
    ck_assert_str_eq(st.path, want);
    ck_assert_uint_eq(st.max_segments, 3);
    ck_assert_uint_eq(st.jobs, 5);
    /* below one segment: off (with a warning), never an error that would stop recovery */
    ck_assert_int_eq(resolve("15MiB", NULL, &st, &enabled, &err), 0);
    ck_assert(!enabled);
    /* 1 GiB segments: the default size follows (jobs + 1 segments); an explicit 512MiB is
     * below one segment: off, not an error */
    ck_assert_int_eq(resolve_seg(NULL, NULL, 1024 * (uint32_t)MIB, &st, &enabled, &err), 0);
    ck_assert(enabled);
    ck_assert_uint_eq(st.size, 6 * 1024 * MIB);   /* PGPITR_PREFETCH_JOBS=5 from above */
    ck_assert_uint_eq(st.max_segments, 6);
    ck_assert_int_eq(resolve_seg("512MiB", NULL, 1024 * (uint32_t)MIB, &st, &enabled, &err), 0);
    ck_assert(!enabled);
    unsetenv("PGPITR_PREFETCH_JOBS");
    ck_assert_int_eq(resolve_seg(NULL, NULL, 1024 * (uint32_t)MIB, &st, &enabled, &err), 0);
    ck_assert(enabled);
    ck_assert_uint_eq(st.max_segments, 3);
    ck_assert_int_eq(resolve_seg(NULL, NULL, 64 * (uint32_t)MIB, &st, &enabled, &err), 0);
    ck_assert_uint_eq(st.max_segments, 8);   /* 512 MiB */
    /* errors: a size or a job count that does not parse */
    ck_assert_int_eq(resolve("lots", NULL, &st, &enabled, &err), PGP_ERR_CONFIG);
    ck_assert(!enabled);
    setenv("PGPITR_PREFETCH_JOBS", "0", 1);
    ck_assert_int_eq(resolve(NULL, NULL, &st, &enabled, &err), PGP_ERR_CONFIG);
    ck_assert(!enabled);
    unsetenv("PGPITR_PREFETCH_JOBS");
}
END_TEST

/* archive-get's hit without the repository: only a spool whose identity this call would write
 * (repository, boot, the data directory's cluster, recorded segment size) is opened, and
 * nothing is created, wiped or rewritten on the way. */
static void put_control(uint64_t sysid)
{
    uint8_t buf[PG_CONTROL_READ_MAX];
    fx_pg_control(buf, sysid, PG_CONTROL_VERSION_13, 0x5000060, 0x5000028, 1);
    char p[PATH_MAX];
    ck_assert(spool_join(p, tdir, "global"));
    mkdir(p, 0700);
    ck_assert(spool_join(p, tdir, "global/pg_control"));
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, sizeof buf, f), sizeof buf);
    fclose(f);
}

static Spool *open_cached(const char *repo_path, SpoolSettings *st)
{
    SpoolRequest r = {.repo_path = repo_path};
    Spool *sp = NULL;
    PgpErr err;
    ck_assert_int_eq(spool_open_cached(&r, st, &sp, &err), 0);
    return sp;
}

START_TEST(open_cached_needs_the_same_identity)
{
    static SpoolSettings st, cached;
    bool enabled = false;
    PgpErr err;
    char ident[PATH_MAX], before[SPOOL_IDENTITY_MAX], after[SPOOL_IDENTITY_MAX];
    unsetenv("PGPITR_SPOOL_PATH");
    unsetenv("PGPITR_SPOOL_SIZE");
    unsetenv("PGPITR_PREFETCH_JOBS");
    ck_assert_int_eq(chdir(tdir), 0);
    put_file(tdir, "PG_VERSION", "15\n");
    put_file(tdir, "recovery.signal", "");
    char wal[PATH_MAX];
    ck_assert(spool_join(wal, tdir, "pg_wal"));
    ck_assert_int_eq(mkdir(wal, 0700), 0);
    put_control(7345);
    /* no spool yet: nothing, and nothing made */
    ck_assert_ptr_null(open_cached(tdir, &cached));
    ck_assert(!exists(tdir, "pg_wal/pgpitr_spool"));
    /* the usual way sets it up (identity from repo.json: system 7345, 16 MiB segments) */
    ck_assert_int_eq(resolve(NULL, NULL, &st, &enabled, &err), 0);
    ck_assert(enabled);
    Spool *sp = NULL;
    ck_assert_int_eq(spool_open(&st, &sp, &err), 0);
    spool_close(sp);
    ck_assert_ptr_nonnull(strstr(st.identity, "wal-segment-size 16777216\n"));
    ck_assert(spool_join(ident, st.path, ".identity"));
    read_all(ident, before, sizeof before);
    /* now without the repository: the same spool and settings */
    sp = open_cached(tdir, &cached);
    ck_assert_ptr_nonnull(sp);
    ck_assert_str_eq(cached.identity, st.identity);
    ck_assert_str_eq(cached.path, st.path);
    ck_assert_uint_eq(cached.segsize, 16 * MIB);
    ck_assert_uint_eq(cached.max_segments, st.max_segments);
    ck_assert_uint_eq(cached.jobs, st.jobs);
    spool_close(sp);
    /* another repository, another cluster in pg_control, a damaged pg_control, no
     * recovery: not opened, and the spool left as it was */
    ck_assert_ptr_null(open_cached(wal, &cached));
    put_control(7346);
    ck_assert_ptr_null(open_cached(tdir, &cached));
    put_file(tdir, "global/pg_control", "torn");
    ck_assert_ptr_null(open_cached(tdir, &cached));
    put_control(7345);
    unlink("recovery.signal");
    ck_assert_ptr_null(open_cached(tdir, &cached));
    put_file(tdir, "standby.signal", "");
    ck_assert_ptr_nonnull((sp = open_cached(tdir, &cached)));
    spool_close(sp);
    read_all(ident, after, sizeof after);
    ck_assert_str_eq(after, before);
    /* written before this boot (or by a version without the segment size): not opened */
    char *boot = strstr(before, "boot-id ");
    ck_assert_ptr_nonnull(boot);
    boot[8] = boot[8] == 'x' ? 'y' : 'x';
    put_file(st.path, ".identity", before);
    ck_assert_ptr_null(open_cached(tdir, &cached));
    put_file(st.path, ".identity", "pgpitr-spool 1\nrepo /r\nsystem-identifier 7345\nboot-id x\n");
    ck_assert_ptr_null(open_cached(tdir, &cached));
    read_all(ident, after, sizeof after);
    ck_assert_str_eq(after, "pgpitr-spool 1\nrepo /r\nsystem-identifier 7345\nboot-id x\n");
}
END_TEST

START_TEST(identity_segment_size)
{
    char t[SPOOL_IDENTITY_MAX];
    uint32_t seg = 0;
    spool_identity_text("/r", 1, 16 * MIB, "b", t);
    ck_assert(spool_identity_segsize(t, &seg));
    ck_assert_uint_eq(seg, 16 * MIB);
    spool_identity_text("/r", 1, 1024 * MIB, "b", t);
    ck_assert(spool_identity_segsize(t, &seg));
    ck_assert_uint_eq(seg, 1024 * MIB);
    spool_identity_text("/r", 1, 3 * MIB, "b", t);          /* not a power of two */
    ck_assert(!spool_identity_segsize(t, &seg));
    spool_identity_text("/r", 1, 512 * 1024, "b", t);       /* below 1 MiB */
    ck_assert(!spool_identity_segsize(t, &seg));
    ck_assert(!spool_identity_segsize("pgpitr-spool 1\nrepo /r\nwal-segment-size 16777216\n", &seg));
    ck_assert(!spool_identity_segsize("pgpitr-spool 2\nrepo /r\nwal-segment-size 16777216x\n", &seg));
    ck_assert(!spool_identity_segsize("pgpitr-spool 2\nrepo /r\n", &seg));
}
END_TEST

/* ---- the directory ---------------------------------------------------------------------------- */

#define TSEG 4096u   /* the segment size of the directory tests: small files */

static void settings_for(SpoolSettings *st, const char *identity)
{
    memset(st, 0, sizeof *st);
    ck_assert(spool_join(st->path, tdir, "spool"));
    st->segsize = TSEG;
    st->max_segments = 3;
    snprintf(st->identity, sizeof st->identity, "%s", identity);
}

static int dir_of(const char *path)
{
    int dfd = -1;
    PgpErr err;
    ck_assert_msg(spool_dir_open(path, false, &dfd, &err) == 0, "%s", err.msg);
    return dfd;
}

/* What the prefetcher does with a verified fetch: a work file, then publish with its record. */
static void put_segment(const char *dir, const char *name, char fill)
{
    static char buf[TSEG];
    memset(buf, fill, sizeof buf);
    char work[64], p[PATH_MAX], hex[PIPE_SHA256_HEX_LEN + 1];
    uint8_t digest[PIPE_SHA256_LEN];
    snprintf(work, sizeof work, ".fetch.%s", name);
    ck_assert(spool_join(p, dir, work));
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, sizeof buf, f), sizeof buf);
    fclose(f);
    ck_assert_int_eq(pipe_sha256_buf(buf, sizeof buf, digest, NULL), 0);
    pipe_hex(digest, sizeof digest, hex);
    int dfd = dir_of(dir);
    PgpErr err;
    ck_assert_int_eq(spool_file_publish(dfd, work, name, hex, TSEG, &err), 0);
    close(dfd);
}

START_TEST(directory_checks)
{
    char p[PATH_MAX], q[PATH_MAX];
    int dfd = -1;
    PgpErr err;
    /* created with 0700 whatever the umask, and usable */
    ck_assert(spool_join(p, tdir, "fresh"));
    mode_t old = umask(0277);
    ck_assert_int_eq(spool_dir_open(p, true, &dfd, &err), 0);
    umask(old);
    struct stat sb;
    ck_assert_int_eq(fstat(dfd, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0700);
    close(dfd);
    /* without create: a missing directory is an error */
    ck_assert(spool_join(q, tdir, "missing"));
    ck_assert_int_ne(spool_dir_open(q, false, &dfd, &err), 0);
    ck_assert_int_eq(dfd, -1);
    /* a symbolic link to a good directory: refused, even with create */
    ck_assert(spool_join(q, tdir, "link"));
    ck_assert_int_eq(symlink(p, q), 0);
    ck_assert_int_eq(spool_dir_open(q, true, &dfd, &err), PGP_ERR_CONFIG);
    ck_assert_int_eq(dfd, -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "symbolic link"));
    ck_assert_ptr_nonnull(strstr(err.hint, "0700"));
    /* a file */
    put_file(tdir, "plain", "x");
    ck_assert(spool_join(q, tdir, "plain"));
    ck_assert_int_eq(spool_dir_open(q, true, &dfd, &err), PGP_ERR_CONFIG);
    /* ours but others may write (or read) it: refused, and nothing in it is touched */
    ck_assert_int_eq(chmod(p, 0777), 0);
    put_file(p, "000000010000000000000001", "planted");
    ck_assert_int_eq(spool_dir_open(p, true, &dfd, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "has mode 0777, not 0700"));
    ck_assert_int_eq(chmod(p, 0750), 0);
    ck_assert_int_eq(spool_dir_open(p, true, &dfd, &err), PGP_ERR_CONFIG);
    ck_assert(exists(p, "000000010000000000000001"));
    /* another user's directory (needs root to make one) */
    if (geteuid() == 0) {
        ck_assert_int_eq(chmod(p, 0700), 0);
        ck_assert_int_eq(chown(p, 65534, 65534), 0);
        ck_assert_int_eq(spool_dir_open(p, true, &dfd, &err), PGP_ERR_CONFIG);
        ck_assert_ptr_nonnull(strstr(err.msg, "belongs to uid 65534"));
        /* spool_open refuses it too, writing nothing into it */
        static SpoolSettings st;
        settings_for(&st, "pgpitr-spool 1\nrepo /r\nsystem-identifier 1\nboot-id x\n");
        snprintf(st.path, sizeof st.path, "%s", p);
        Spool *sp = NULL;
        ck_assert_int_eq(spool_open(&st, &sp, &err), PGP_ERR_CONFIG);
        ck_assert_ptr_null(sp);
        ck_assert(!exists(p, ".identity"));
        ck_assert(exists(p, "000000010000000000000001"));
    }
}
END_TEST

START_TEST(identity_mismatch_wipes)
{
    static SpoolSettings a, b;
    settings_for(&a, "pgpitr-spool 1\nrepo /r1\nsystem-identifier 1\nboot-id x\n");
    settings_for(&b, "pgpitr-spool 1\nrepo /r2\nsystem-identifier 1\nboot-id x\n");
    Spool *sp = NULL;
    PgpErr err;
    ck_assert_int_eq(spool_open(&a, &sp, &err), 0);
    put_segment(a.path, "000000010000000000000005", '5');
    put_file(a.path, ".fetch.000000010000000000000006", "six");
    put_file(a.path, "..fetch.000000010000000000000007.pgpitr-tmp.1", "seven");
    ck_assert_int_eq(spool_note_request(sp, "000000010000000000000004", &err), 0);
    put_file(a.path, "keep-me", "not ours");
    spool_close(sp);
    ck_assert(exists(a.path, ".sha256.000000010000000000000005"));
    /* same identity: kept */
    ck_assert_int_eq(spool_open(&a, &sp, &err), 0);
    spool_close(sp);
    ck_assert(exists(a.path, "000000010000000000000005"));
    /* another repository: segments, records, work files and the request go, the identity is
     * rewritten */
    ck_assert_int_eq(spool_open(&b, &sp, &err), 0);
    spool_close(sp);
    ck_assert(!exists(a.path, "000000010000000000000005"));
    ck_assert(!exists(a.path, ".sha256.000000010000000000000005"));
    ck_assert(!exists(a.path, ".fetch.000000010000000000000006"));
    ck_assert(!exists(a.path, "..fetch.000000010000000000000007.pgpitr-tmp.1"));
    ck_assert(!exists(a.path, ".requested"));
    ck_assert(exists(a.path, "keep-me"));
    char p[PATH_MAX], buf[SPOOL_IDENTITY_MAX];
    ck_assert(spool_join(p, a.path, ".identity"));
    read_all(p, buf, sizeof buf);
    ck_assert_str_eq(buf, b.identity);
    int dfd = dir_of(a.path), fd = -1;
    ck_assert(!spool_identity_lock(dfd, a.identity, &fd));
    ck_assert(spool_identity_lock(dfd, b.identity, &fd));
    spool_identity_unlock(fd);
    close(dfd);
    /* identity text: repository, system identifier and boot id all count */
    char t1[SPOOL_IDENTITY_MAX], t2[SPOOL_IDENTITY_MAX];
    spool_identity_text("/r", 1, 16 * MIB, "boot-a", t1);
    spool_identity_text("/r", 1, 16 * MIB, "boot-b", t2);
    ck_assert_str_ne(t1, t2);
    spool_identity_text("/r", 2, 16 * MIB, "boot-a", t2);
    ck_assert_str_ne(t1, t2);
    spool_identity_text("/r", 1, 64 * MIB, "boot-a", t2);
    ck_assert_str_ne(t1, t2);
}
END_TEST

START_TEST(take_and_request)
{
    static SpoolSettings st;
    settings_for(&st, "pgpitr-spool 1\nrepo /r\nsystem-identifier 1\nboot-id x\n");
    Spool *sp = NULL;
    PgpErr err;
    ck_assert_int_eq(spool_open(&st, &sp, &err), 0);
    put_segment(st.path, "000000010000000000000009", '9');
    char dest[PATH_MAX], buf[TSEG + 1];
    ck_assert(spool_join(dest, tdir, "RECOVERYXLOG"));
    bool hit = false;
    unsigned waited = 99;
    ck_assert_int_eq(spool_take(sp, "000000010000000000000009", dest, &hit, &waited, &err), 0);
    ck_assert(hit);
    ck_assert_uint_eq(waited, 0);
    read_all(dest, buf, sizeof buf);
    ck_assert_uint_eq(strspn(buf, "9"), TSEG);
    ck_assert(!exists(st.path, "000000010000000000000009"));
    /* a miss: nothing there and nothing in flight */
    hit = true;
    ck_assert_int_eq(spool_take(sp, "00000001000000000000000A", dest, &hit, &waited, &err), 0);
    ck_assert(!hit);
    read_all(dest, buf, sizeof buf);
    ck_assert_uint_eq(strspn(buf, "9"), TSEG);   /* dest untouched by a miss */
    /* in flight but no prefetcher alive: no endless wait */
    put_file(st.path, ".inflight.00000001000000000000000A", "");
    ck_assert_int_eq(spool_take(sp, "00000001000000000000000A", dest, &hit, &waited, &err), 0);
    ck_assert(!hit);
    ck_assert_uint_lt(waited, 1000);
    /* a file that fails its checks is a miss (the caller fetches), dest gets nothing */
    put_segment(st.path, "00000001000000000000000B", 'b');
    put_file(st.path, "00000001000000000000000B", "rewritten after it was verified");
    unlink(dest);
    hit = true;
    ck_assert_int_eq(spool_take(sp, "00000001000000000000000B", dest, &hit, &waited, &err), 0);
    ck_assert(!hit);
    ck_assert(access(dest, F_OK) != 0);

    char name[32];
    int dfd = dir_of(st.path);
    ck_assert(!spool_read_request(dfd, name));
    ck_assert_int_eq(spool_note_request(sp, "000000010000000000000009", &err), 0);
    ck_assert(spool_read_request(dfd, name));
    ck_assert_str_eq(name, "000000010000000000000009");
    put_file(st.path, ".requested", "../../etc/passwd00000000\n");
    ck_assert(!spool_read_request(dfd, name));
    spool_close(sp);

    /* wipe: data, records and the request always, control files only when asked */
    put_segment(st.path, "00000001000000000000000C", 'c');
    spool_wipe(dfd, false);
    ck_assert(!exists(st.path, "00000001000000000000000C"));
    ck_assert(!exists(st.path, ".sha256.00000001000000000000000C"));
    ck_assert(!exists(st.path, ".inflight.00000001000000000000000A"));
    ck_assert(!exists(st.path, ".requested"));
    ck_assert(exists(st.path, ".identity"));
    spool_wipe(dfd, true);
    ck_assert(!exists(st.path, ".identity"));
    close(dfd);
}
END_TEST

Suite *suite_spool(void)
{
    Suite *s = suite_create("spool");
    TCase *tc = tcase_create("pure");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, parse_size);
    tcase_add_test(tc, size_error_quoted);
    tcase_add_test(tc, bound_arithmetic);
    tcase_add_test(tc, file_kinds);
    tcase_add_test(tc, obsolete_names);
    tcase_add_test(tc, window);
    tcase_add_test(tc, identity_segment_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("directory");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, settings);
    tcase_add_test(tc, directory_checks);
    tcase_add_test(tc, identity_mismatch_wipes);
    tcase_add_test(tc, take_and_request);
    tcase_add_test(tc, open_cached_needs_the_same_identity);
    suite_add_tcase(s, tc);
    return s;
}
