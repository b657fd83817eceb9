/*
 * test_manifest_stream.c - the streaming manifest reader (manifest_read, manifest_stream,
 * src/repo/manifest_stream.c): the same manifest whatever the window and however the bytes
 * arrive (every cut point of a small manifest, values split across window ends), every proper
 * prefix refused, other layouts accepted, duplicates (keys and paths) refused with and without
 * kept entries, the "entries last" rule, the entry callback, a value larger than the window,
 * and memory that does not grow with the entries when none are kept (a generous bound), nor
 * beyond ~111 bytes an entry when they are packed as restore keeps them.
 */
#include <check.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_textsrc.h"
#include "fx_tool.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/manifest_pack.h"

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* ---- sources ---------------------------------------------------------------------------- */

static int read_text(const char *text, size_t len, size_t chunk, size_t window, bool keep,
                     BackupManifest **out, PgpErr *err)
{
    FxTextSrc t = {.text = text, .len = len, .chunk = chunk};
    ManifestReadOpts o = {.keep_entries = keep, .window = window};
    pgp_err_clear(err);
    return manifest_read(fx_text_read, &t, &o, out, err);
}

/* ---- a small manifest ------------------------------------------------------------------- */

static void add(BackupManifest *m, ManifestEntry e)
{
    PgpErr err;
    ck_assert_int_eq(manifest_add_entry(m, &e, &err), 0);
}

static BackupManifest *sample(void)
{
    BackupManifest *m = manifest_new();
    m->label = strdup("20261122T030000Z");
    m->status = strdup(MANIFEST_STATUS_COMPLETE);
    m->compress = strdup("zstd");
    m->system_identifier = UINT64_C(7300000000000000001);
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = 1;
    m->start_lsn = 0x2000028;
    m->stop_lsn = 0x2000100;
    m->start_time = 1795316400;
    m->stop_time = 1795316707;
    m->size = 123456789;
    m->stored_size = 1234567;
    PgpErr err;
    ck_assert_int_eq(manifest_add_tablespace(m, 16385, "/srv/ts1", &err), 0);
    add(m, (ManifestEntry){.path = "base", .type = MANIFEST_DIR, .mode = 0700, .mtime = 17});
    ManifestEntry f = {.path = "base/1/1259", .type = MANIFEST_FILE, .size = 98765432101,
                       .mode = 0600, .mtime = 1795316400, .object = "objects/01/0123.zst",
                       .stored_size = 4321};
    snprintf(f.sha256, sizeof f.sha256, "%s", SHA_A);
    add(m, f);
    f.path = "PG_15_202209061/5/16386";
    f.tablespace = 16385;
    add(m, f);
    add(m, (ManifestEntry){.path = "pg_tblspc/16385", .type = MANIFEST_SYMLINK, .mode = 0777,
                           .mtime = -1, .link_target = "/srv/ts1"});
    add(m, (ManifestEntry){.path = "extra_\xff", .type = MANIFEST_DIR, .mode = 0700});
    return m;
}

static char *to_json(const BackupManifest *m, size_t *len)
{
    char *text = NULL;
    PgpErr err;
    ck_assert_int_eq(manifest_to_json(m, &text, len, &err), 0);
    return text;
}

static void assert_same(const BackupManifest *a, const BackupManifest *b)
{
    size_t la, lb;
    char *ta = to_json(a, &la), *tb = to_json(b, &lb);
    ck_assert_uint_eq(la, lb);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* Every window size and read size from 1 byte up: every value is cut somewhere (numbers
 * too: a size cut after "98765" must not read as 98765). */
START_TEST(any_window_same_manifest)
{
    BackupManifest *m = sample(), *back = NULL;
    size_t len;
    char *text = to_json(m, &len);
    PgpErr err;
    for (size_t window = 1; window <= 64; window += fx_cut_step(5)) {
        for (size_t chunk = 1; chunk <= 9; chunk += 4) {
            int rc = read_text(text, len, chunk, window, true, &back, &err);
            ck_assert_msg(rc == 0, "window %zu chunk %zu: %s", window, chunk, err.msg);
            assert_same(m, back);
            ck_assert_uint_eq(back->n_listed, 5);
            manifest_free(back);
        }
    }
    free(text);
    manifest_free(m);
}
END_TEST

/* Every proper prefix (cut at every byte) is refused as truncated, in every mode. */
START_TEST(every_prefix_refused)
{
    BackupManifest *m = sample(), *back = (BackupManifest *)&back;
    size_t len;
    char *text = to_json(m, &len);
    PgpErr err;
    for (size_t n = 0; n + 1 < len; n += fx_cut_step(7)) {
        for (int keep = 0; keep < 2; keep++) {
            int rc = read_text(text, n, 5, 7, keep, &back, &err);
            ck_assert_msg(rc == PGP_ERR_CORRUPT, "prefix %zu: %d", n, rc);
            ck_assert_ptr_null(back);
            ck_assert_msg(strstr(err.msg, "not valid json") != NULL, "prefix %zu: %s", n,
                          err.msg);
        }
    }
    ck_assert_int_eq(read_text(text, len - 1, 5, 7, false, &back, &err), 0);  /* no newline */
    manifest_free(back);
    free(text);
    manifest_free(m);
}
END_TEST

/* Layout does not matter: one line, or indented by jansson, read through tiny windows. */
START_TEST(other_layouts)
{
    BackupManifest *m = sample(), *back = NULL;
    size_t len;
    char *text = to_json(m, &len);
    json_t *tree = json_loadb(text, len, 0, NULL);
    ck_assert_ptr_nonnull(tree);
    size_t flags[] = {JSON_COMPACT | JSON_PRESERVE_ORDER, JSON_INDENT(3) | JSON_PRESERVE_ORDER};
    PgpErr err;
    for (size_t i = 0; i < 2; i++) {
        char *t = json_dumps(tree, flags[i]);
        ck_assert_int_eq(read_text(t, strlen(t), 3, 5, true, &back, &err), 0);
        assert_same(m, back);
        manifest_free(back);
        free(t);
    }
    json_decref(tree);
    free(text);
    manifest_free(m);
}
END_TEST

static char *replace_once(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    ck_assert_msg(p != NULL, "\"%s\" not in the sample", from);
    size_t a = (size_t)(p - text), fl = strlen(from), tl = strlen(to);
    char *out = malloc(strlen(text) - fl + tl + 1);
    memcpy(out, text, a);
    memcpy(out + a, to, tl);
    strcpy(out + a + tl, p + fl);
    return out;
}

static void expect_refused(const char *from, const char *to, const char *fragment)
{
    BackupManifest *m = sample(), *back = NULL;
    size_t len;
    char *text = to_json(m, &len), *bad = replace_once(text, from, to);
    PgpErr err;
    for (int keep = 0; keep < 2; keep++) {
        for (size_t window = 2; window <= 4096; window *= 8) {
            int rc = read_text(bad, strlen(bad), 4096, window, keep, &back, &err);
            ck_assert_msg(rc == PGP_ERR_CORRUPT, "%s: %d", fragment, rc);
            ck_assert_msg(strstr(err.msg, fragment) != NULL, "\"%s\" lacks \"%s\"", err.msg,
                          fragment);
            ck_assert_ptr_null(back);
        }
    }
    free(bad);
    free(text);
    manifest_free(m);
}

START_TEST(malformed)
{
    /* duplicate keys: top level (read by the walker), inside an entry (by jansson) */
    expect_refused("  \"status\"", "  \"label\": \"x\",\n  \"status\"", "duplicate object key");
    expect_refused("\"entries\": [", "\"entries\": [], \"entries\": [", "duplicate object key");
    expect_refused("{\"path\":\"base\",", "{\"path\":\"base\",\"path\":\"x\",", "duplicate");
    /* duplicate paths, found by the hash set (not kept) and the sort (kept) */
    expect_refused("\"path\":\"base\",", "\"path\":\"base/1/1259\",",
                   "duplicate entry \"base/1/1259\" in tablespace 0");
    /* structure */
    expect_refused("\n}\n", "\n}\n{}", "end of file expected");
    expect_refused("\n}\n", "\n,}\n", "not valid json");
    expect_refused("  \"status\"", "  \"status\" 1,", "':' expected");
    expect_refused("\"format\": 1,", "\"format\": 1", "',' or '}' expected");
    expect_refused("},\n    {\"path\":\"base/1", "}\n    {\"path\":\"base/1", "',' or ']'");
    expect_refused("\"entries\": [", "\"entries\": [,", "not valid json");
    expect_refused("\"compress\": \"zstd\"", "\"compress\": \"zs\x01td\"", "not valid json");
    expect_refused("\"size\": 123456789", "\"size\": 12345678x", "not valid json");
    expect_refused("\n}\n", "}\n}\n", "end of file expected");
    /* order and fields */
    expect_refused("\n  ]\n}", "\n  ],\n  \"x\": 1\n}", "field \"x\" follows \"entries\"");
    expect_refused("\"entries\": [", "\"entries\": 5, \"e\": [", "\"entries\" must be an array");
    expect_refused("\"format\": 1", "\"format\": 4", "format 4 is not supported");
    expect_refused("\"mode\":\"0700\"", "\"mode\":\"0800\"", "entry 0 (\"base\"): field \"mode\"");
}
END_TEST

typedef struct Seen {
    size_t n;
    char paths[8][64];
    size_t stop_at;
} Seen;

static int on_entry(void *ud, const BackupManifest *m, const ManifestEntry *e, size_t i,
                    PgpErr *err)
{
    Seen *s = ud;
    ck_assert_str_eq(m->label, "20261122T030000Z");     /* the header comes first */
    ck_assert_uint_eq(m->n_tablespaces, 1);
    ck_assert_uint_eq(i, s->n);
    snprintf(s->paths[s->n++], sizeof s->paths[0], "%s", e->path);
    if (s->n == s->stop_at)
        return PGP_FAIL(err, PGP_ERR_CONFLICT, "stop at %zu", i);
    return 0;
}

START_TEST(callback_and_header_only)
{
    BackupManifest *m = sample(), *back = NULL;
    size_t len;
    char *text = to_json(m, &len);
    Seen seen = {0};
    FxTextSrc t = {.text = text, .len = len, .chunk = 11};
    ManifestReadOpts o = {.fn = on_entry, .ud = &seen, .window = 16};
    PgpErr err;
    ck_assert_int_eq(manifest_read(fx_text_read, &t, &o, &back, &err), 0);
    ck_assert_uint_eq(seen.n, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(seen.paths[i], m->entries[i].path);
    ck_assert_ptr_null(back->entries);
    ck_assert_uint_eq(back->n_entries, 0);
    ck_assert_uint_eq(back->n_listed, 5);
    ck_assert_uint_eq(back->size, m->size);
    manifest_free(back);
    /* the callback's error stops the read and comes back as it is */
    seen = (Seen){.stop_at = 2};
    t.pos = 0;
    ck_assert_int_eq(manifest_read(fx_text_read, &t, &o, &back, &err), PGP_ERR_CONFLICT);
    ck_assert_ptr_null(back);
    ck_assert_str_eq(err.msg, "stop at 1");
    free(text);
    manifest_free(m);
}
END_TEST

/* A value far larger than the window widens it (a symlink target of 300 kB). */
START_TEST(value_larger_than_window)
{
    BackupManifest *m = sample(), *back = NULL;
    size_t big = fx_under_memory_tool() ? 30 * 1000 : 300 * 1000;  /* far above the window */
    char *target = malloc(big + 2);
    target[0] = '/';
    memset(target + 1, 'x', big);
    target[big + 1] = '\0';
    m->entries[3].link_target = target;      /* arena strings are never freed one by one */
    size_t len;
    char *text = to_json(m, &len);
    PgpErr err;
    ck_assert_int_eq(read_text(text, len, 1000, 64, true, &back, &err), 0);
    ck_assert_str_eq(back->entries[3].link_target, target);
    manifest_free(back);
    free(text);
    free(target);
    manifest_free(m);
}
END_TEST

/* A generated manifest of n files, produced as it is read: the text is never in memory. */
typedef struct GenSrc {
    size_t n, i;
    int part;               /* 0 header, 1 entries, 2 end, 3 done */
    char pend[512];
    size_t pend_len, pend_pos;
} GenSrc;

static void gen_next(GenSrc *g)
{
    g->pend_pos = 0;
    if (g->part == 0) {
        g->pend_len = (size_t)snprintf(g->pend, sizeof g->pend,
            "{\"format\":1,\"label\":\"big\",\"status\":\"complete\",\"system_identifier\":"
            "\"7300000000000000001\",\"pg_version_num\":150004,\"pg_major\":15,\"timeline\":1,"
            "\"start_lsn\":\"0/2000028\",\"stop_lsn\":\"0/2000100\",\"start_time\":"
            "\"2026-11-22T03:00:00Z\",\"stop_time\":\"2026-11-22T03:05:07Z\",\"compress\":"
            "\"zstd\",\"pg_manifest_object\":null,\"size\":0,\"stored_size\":0,"
            "\"new_stored_size\":0,\"tablespaces\":[],\"entries\":[");
        g->part = g->n > 0 ? 1 : 2;
    } else if (g->part == 1) {
        g->pend_len = (size_t)snprintf(g->pend, sizeof g->pend,
            "%s{\"path\":\"base/16384/%zu\",\"tablespace\":0,\"type\":\"file\",\"size\":8192,"
            "\"mode\":\"0600\",\"mtime\":1795316400,\"sha256\":\"%064zx\",\"object\":"
            "\"objects/00/%064zx.zst\",\"stored_size\":100}\n", g->i > 0 ? "," : "",
            g->i + 10000, g->i, g->i);
        if (++g->i == g->n)
            g->part = 2;
    } else if (g->part == 2) {
        g->pend_len = (size_t)snprintf(g->pend, sizeof g->pend, "]}\n");
        g->part = 3;
    } else {
        g->pend_len = 0;
    }
}

static int gen_read(void *ud, void *buf, size_t len, size_t *got, PgpErr *err)
{
    (void)err;
    GenSrc *g = ud;
    *got = 0;
    while (*got < len) {
        if (g->pend_pos == g->pend_len) {
            gen_next(g);
            if (g->pend_len == 0)
                break;
        }
        size_t n = g->pend_len - g->pend_pos;
        if (n > len - *got)
            n = len - *got;
        memcpy((char *)buf + *got, g->pend + g->pend_pos, n);
        g->pend_pos += n;
        *got += n;
    }
    return 0;
}

/* Peak RSS growth in bytes an entry, reading n generated entries (each test runs in its own
 * process, so the peak is this read's). */
static long grew_per_entry(size_t n, bool keep, BackupManifest **out)
{
    GenSrc g = {.n = n};
    ManifestReadOpts o = {.keep_entries = keep};
    PgpErr err;
    long before = fx_peak_rss_kib();
    int rc = manifest_read(gen_read, &g, &o, out, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq((*out)->n_listed, n);
    return (fx_peak_rss_kib() - before) * 1024 / (long)n;
}

/* Peak RSS means nothing under a sanitizer or valgrind (shadow memory, quarantine, red
 * zones: ASan measured 1229 bytes an entry here): there the bounds are not asserted, the
 * reads still are. */
static bool rss_is_meaningful(void)
{
    return !fx_under_memory_tool();
}

/* 400,000 entries where the peak RSS is asserted; 5,000 elsewhere, where only the reading
 * is checked (valgrind would take minutes over 400,000). */
static size_t big_n(void)
{
    return rss_is_meaningful() ? 400000 : 5000;
}

/* 400,000 entries without keeping them: memory is the duplicate set (~40 bytes an entry), not
 * the 2.3 KiB an entry of a jansson tree of the whole document. Measured 66 bytes (the set just grown); a generous bound: 200. */
START_TEST(big_header_only_bounded)
{
    BackupManifest *m = NULL;
    long per = grew_per_entry(big_n(), false, &m);
    ck_assert_ptr_null(m->entries);
    manifest_free(m);
    ck_assert_msg(per < 200 || !rss_is_meaningful(), "%ld bytes an entry", per);
}
END_TEST

/* Kept: the entries themselves (~136 bytes each plus their strings), well under the old cost: measured 253 bytes, bound 400. */
START_TEST(big_kept_bounded)
{
    BackupManifest *m = NULL;
    size_t n = big_n();
    long per = grew_per_entry(n, true, &m);
    ck_assert_uint_eq(m->n_entries, n);
    char last[64];
    snprintf(last, sizeof last, "base/16384/%zu", 10000 + n - 1);
    ck_assert_str_eq(m->entries[n - 1].path, last);
    manifest_free(m);
    ck_assert_msg(per < 400 || !rss_is_meaningful(), "%ld bytes an entry", per);
}
END_TEST

static int pack_one(void *ud, const BackupManifest *m, const ManifestEntry *e, size_t i,
                    PgpErr *err)
{
    (void)m, (void)i;
    return manifest_pack_add(ud, e, err);
}

/* Kept as restore keeps them (manifest_load_packed: a pack, duplicates found by sorting it
 * afterwards instead of the hash set): records of ~84 bytes (66 + the path) and 8 of index,
 * the sort's copy of the index after reading. Measured 111 bytes, bound 160 (the kept
 * ManifestEntry list above: 253). */
START_TEST(big_packed_bounded)
{
    size_t n = big_n();
    GenSrc g = {.n = n};
    ManifestPack *p = manifest_pack_new();
    ManifestReadOpts o = {.fn = pack_one, .ud = p, .caller_checks_dups = true};
    BackupManifest *m = NULL;
    PgpErr err;
    long before = fx_peak_rss_kib();
    int rc = manifest_read(gen_read, &g, &o, &m, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_int_eq(manifest_pack_check_duplicates(p, &err), 0);
    long per = (fx_peak_rss_kib() - before) * 1024 / (long)n;
    ck_assert_ptr_null(m->entries);
    ck_assert_uint_eq(manifest_pack_count(p), n);
    ManifestUnpacked u;
    manifest_pack_unpack(manifest_pack_at(p, n - 1), &u);
    char last[64];
    snprintf(last, sizeof last, "base/16384/%zu", 10000 + n - 1);
    ck_assert_str_eq(u.e.path, last);
    ck_assert_str_eq(u.e.object + strlen(u.e.object) - 4, ".zst");
    manifest_pack_free(p);
    manifest_free(m);
    ck_assert_msg(per < 160 || !rss_is_meaningful(), "%ld bytes an entry", per);
}
END_TEST

Suite *suite_manifest_stream(void)
{
    Suite *s = suite_create("manifest_stream");
    TCase *tc = tcase_create("manifest_stream");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, any_window_same_manifest);
    tcase_add_test(tc, every_prefix_refused);
    tcase_add_test(tc, other_layouts);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, callback_and_header_only);
    tcase_add_test(tc, value_larger_than_window);
    tcase_add_test(tc, big_header_only_bounded);
    tcase_add_test(tc, big_kept_bounded);
    tcase_add_test(tc, big_packed_bounded);
    suite_add_tcase(s, tc);
    return s;
}
