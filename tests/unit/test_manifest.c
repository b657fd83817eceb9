/*
 * test_manifest.c - pgpitr's backup manifest (src/repo/manifest.c): JSON round trips, every
 * strictness rule on read and on write, labels, and save/load through a real posix Storage
 * in a mkdtemp directory.
 *
 * The rejection tests start from the JSON that manifest_to_json() writes for sample() and
 * change one piece of text, so each proves one rule (the unchanged text is parsed first).
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_tool.h"
#include "fx_err.h"
#include "pgpitr/repo/manifest.h"

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define T_START INT64_C(1795316400)     /* 2026-11-22T03:00:00Z */
#define T_STOP INT64_C(1795316707)      /* 2026-11-22T03:05:07Z */

static void add(BackupManifest *m, ManifestEntry e)
{
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(manifest_add_entry(m, &e, &err), 0);
}

static ManifestEntry file_entry(const char *path, uint32_t tbs, uint64_t size, const char *sha,
                                const char *object)
{
    ManifestEntry e = {.path = (char *)path, .tablespace = tbs, .type = MANIFEST_FILE,
                       .size = size, .mode = 0600, .mtime = T_START - 60,
                       .object = (char *)object, .stored_size = size / 3};
    snprintf(e.sha256, sizeof e.sha256, "%s", sha);
    return e;
}

/* A manifest using every feature: tablespaces, dirs, symlinks, non-UTF-8 names, big values. */
static BackupManifest *sample(void)
{
    BackupManifest *m = manifest_new();
    ck_assert_ptr_nonnull(m);
    m->label = strdup("20261122T030000Z");
    m->status = strdup(MANIFEST_STATUS_COMPLETE);
    m->compress = strdup("zstd");
    m->pg_manifest_object = strdup("backup/20261122T030000Z/backup_manifest.zst");
    m->system_identifier = UINT64_C(7300000000000000001);     /* above 2^53 */
    m->pg_version_num = 150004;
    m->pg_major = 15;
    m->timeline = 3;
    m->start_lsn = UINT64_C(0x16B374D848);
    m->stop_lsn = UINT64_C(0x16B4000100);
    m->start_time = T_START;
    m->stop_time = T_STOP;
    m->size = INT64_MAX;
    m->stored_size = UINT64_C(1) << 40;
    m->new_stored_size = 12345;
    PgpErr err;
    ck_assert_int_eq(manifest_add_tablespace(m, 16385, "/srv/ts1", &err), 0);
    ck_assert_int_eq(manifest_add_tablespace(m, 16390, "/srv/\xe9t\xe9", &err), 0); /* latin-1 */
    add(m, (ManifestEntry){.path = "base", .type = MANIFEST_DIR, .mode = 0700, .mtime = T_START});
    add(m, file_entry("base/1/1259", 0, INT64_MAX, SHA_A, "data/01/0123.zst"));
    add(m, file_entry("global/pg_control", 0, 8192, SHA_B, "data/fe/fedc.zst"));
    add(m, (ManifestEntry){.path = "pg_tblspc/16385", .type = MANIFEST_SYMLINK, .mode = 0777,
                           .mtime = -1, .link_target = "/srv/ts1"});
    add(m, (ManifestEntry){.path = "pg_tblspc/16390", .type = MANIFEST_SYMLINK, .mode = 0777,
                           .mtime = INT64_MIN, .link_target = "/srv/\xe9t\xe9"});
    add(m, file_entry("PG_15_202209061/5/16386", 16385, 0, SHA_A, "data/01/0123.zst"));
    add(m, file_entry("base/1/1259", 16390, 1, SHA_A, "data/01/0123.zst"));  /* other tbs */
    add(m, file_entry("extra_\xff.dat", 0, 3, SHA_A, "data/01/0123.zst"));
    return m;
}

static void assert_str_eq_opt(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        ck_assert_ptr_eq(a, b);
    else
        ck_assert_str_eq(a, b);
}

static void assert_manifest_eq(const BackupManifest *a, const BackupManifest *b)
{
    ck_assert_int_eq(a->format, b->format);
    ck_assert_str_eq(a->label, b->label);
    ck_assert_str_eq(a->status, b->status);
    ck_assert_uint_eq(a->system_identifier, b->system_identifier);
    ck_assert_int_eq(a->pg_version_num, b->pg_version_num);
    ck_assert_int_eq(a->pg_major, b->pg_major);
    ck_assert_uint_eq(a->timeline, b->timeline);
    ck_assert_uint_eq(a->start_lsn, b->start_lsn);
    ck_assert_uint_eq(a->stop_lsn, b->stop_lsn);
    ck_assert_int_eq(a->start_time, b->start_time);
    ck_assert_int_eq(a->stop_time, b->stop_time);
    ck_assert_str_eq(a->compress, b->compress);
    assert_str_eq_opt(a->pg_manifest_object, b->pg_manifest_object);
    ck_assert_uint_eq(a->size, b->size);
    ck_assert_uint_eq(a->stored_size, b->stored_size);
    ck_assert_uint_eq(a->new_stored_size, b->new_stored_size);
    ck_assert_uint_eq(a->n_tablespaces, b->n_tablespaces);
    for (size_t i = 0; i < a->n_tablespaces; i++) {
        ck_assert_uint_eq(a->tablespaces[i].oid, b->tablespaces[i].oid);
        ck_assert_str_eq(a->tablespaces[i].location, b->tablespaces[i].location);
    }
    ck_assert_uint_eq(a->n_entries, b->n_entries);
    for (size_t i = 0; i < a->n_entries; i++) {
        const ManifestEntry *x = &a->entries[i], *y = &b->entries[i];
        ck_assert_str_eq(x->path, y->path);
        ck_assert_uint_eq(x->tablespace, y->tablespace);
        ck_assert_int_eq(x->type, y->type);
        ck_assert_uint_eq(x->size, y->size);
        ck_assert_uint_eq(x->mode, y->mode);
        ck_assert_int_eq(x->mtime, y->mtime);
        ck_assert_str_eq(x->sha256, y->sha256);
        assert_str_eq_opt(x->object, y->object);
        ck_assert_uint_eq(x->stored_size, y->stored_size);
        assert_str_eq_opt(x->link_target, y->link_target);   /* chunk_list too: a union */
        ck_assert_uint_eq(x->chunk_shift, y->chunk_shift);
    }
}

static char *to_json(const BackupManifest *m, size_t *len)
{
    char *text = NULL;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = manifest_to_json(m, &text, len, &err);
    ck_assert_msg(rc == 0, "to_json: %s", err.msg);
    ck_assert_uint_eq(strlen(text), *len);
    ck_assert_int_eq(text[*len - 1], '\n');
    return text;
}

static BackupManifest *from_json(const char *text)
{
    BackupManifest *m = NULL;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = manifest_from_json(text, strlen(text), &m, &err);
    ck_assert_msg(rc == 0, "from_json: %s", err.msg);
    return m;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

START_TEST(round_trip)
{
    BackupManifest *m = sample();
    size_t len;
    char *text = to_json(m, &len);
    BackupManifest *back = from_json(text);
    assert_manifest_eq(m, back);
    ck_assert_ptr_nonnull(strstr(back->entries[7].path, "\xff"));
    /* Same text again (deterministic), and the documented textual forms. */
    size_t len2;
    char *text2 = to_json(back, &len2);
    ck_assert_str_eq(text, text2);
    ck_assert_ptr_nonnull(strstr(text, "  \"system_identifier\": \"7300000000000000001\",\n"));
    ck_assert_ptr_nonnull(strstr(text, "  \"start_lsn\": \"16/B374D848\",\n"));
    ck_assert_ptr_nonnull(strstr(text, "  \"start_time\": \"2026-11-22T03:00:00Z\",\n"));
    ck_assert_ptr_nonnull(strstr(text, "  \"stop_time\": \"2026-11-22T03:05:07Z\",\n"));
    ck_assert_ptr_nonnull(strstr(text, "  \"size\": 9223372036854775807,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"size\":9223372036854775807,\"mode\":\"0600\""));
    ck_assert_ptr_nonnull(strstr(text, "\"path_hex\":\"65787472615fff2e646174\""));
    ck_assert_ptr_nonnull(strstr(text, "\"location_hex\":\"2f7372762fe974e9\""));
    ck_assert_ptr_nonnull(strstr(text, "\"link_target_hex\":\"2f7372762fe974e9\""));
    ck_assert_ptr_null(strstr(text, "\xff"));
    /* One line per top-level field (16), tablespace and entry, plus the two braces and the
     * opening and closing lines of the two lists. */
    ck_assert_int_eq(count_lines(text), 16 + 2 + 4 + (int)m->n_tablespaces + (int)m->n_entries);
    free(text);
    free(text2);
    manifest_free(back);
    manifest_free(m);
}
END_TEST

START_TEST(round_trip_minimal)
{
    BackupManifest *m = sample();
    /* the entries' strings stay in the arena until manifest_free */
    for (size_t i = 0; i < m->n_tablespaces; i++)
        free(m->tablespaces[i].location);
    m->n_entries = m->n_tablespaces = 0;
    free(m->pg_manifest_object);
    m->pg_manifest_object = NULL;
    m->system_identifier = UINT64_MAX;
    m->start_lsn = m->stop_lsn = UINT64_MAX;
    m->start_time = 0;
    m->stop_time = INT64_C(253402300799);
    m->size = m->stored_size = m->new_stored_size = 0;
    size_t len;
    char *text = to_json(m, &len);
    ck_assert_ptr_nonnull(strstr(text, "\"pg_manifest_object\": null,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"tablespaces\": [],\n  \"entries\": []\n}\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"system_identifier\": \"18446744073709551615\""));
    ck_assert_ptr_nonnull(strstr(text, "\"stop_lsn\": \"FFFFFFFF/FFFFFFFF\""));
    ck_assert_ptr_nonnull(strstr(text, "\"start_time\": \"1970-01-01T00:00:00Z\""));
    ck_assert_ptr_nonnull(strstr(text, "\"stop_time\": \"9999-12-31T23:59:59Z\""));
    BackupManifest *back = from_json(text);
    assert_manifest_eq(m, back);
    ck_assert_ptr_null(back->pg_manifest_object);
    free(text);
    manifest_free(back);
    manifest_free(m);
    manifest_free(NULL);
}
END_TEST

START_TEST(add_entry_deep_copy)
{
    BackupManifest *m = manifest_new();
    char path[] = "base/1/2", object[] = "data/ab", target[] = "/x";
    add(m, file_entry(path, 0, 1, SHA_A, object));
    add(m, (ManifestEntry){.path = "l", .type = MANIFEST_SYMLINK, .link_target = target});
    path[0] = object[0] = target[1] = 'Z';
    ck_assert_str_eq(m->entries[0].path, "base/1/2");
    ck_assert_str_eq(m->entries[0].object, "data/ab");
    ck_assert_str_eq(m->entries[0].sha256, SHA_A);
    ck_assert_str_eq(m->entries[1].link_target, "/x");
    ck_assert_ptr_null(m->entries[1].object);
    for (int i = 0; i < 1000; i++)     /* growth keeps earlier entries */
        add(m, (ManifestEntry){.path = "d", .type = MANIFEST_DIR});
    ck_assert_uint_eq(m->n_entries, 1002);
    ck_assert_uint_ge(m->cap_entries, 1002);
    ck_assert_str_eq(m->entries[0].path, "base/1/2");
    manifest_free(m);
}
END_TEST

/* ---- strict reading ----------------------------------------------------------------- */

typedef struct Mutation {
    const char *from, *to, *fragment;
} Mutation;

#define E0 "{\"path\":\"base\",\"tablespace\":0,\"type\":\"dir\",\"mode\":\"0700\"," \
           "\"mtime\":1795316400}"
#define TBS_BLOCK "\"tablespaces\": [\n    {\"oid\":16385,\"location\":\"/srv/ts1\"},\n" \
                  "    {\"oid\":16390,\"location_hex\":\"2f7372762fe974e9\"}\n  ],\n"
#define CTRL_OBJ "\"object\":\"data/fe/fedc.zst\",\"stored_size\":2730"

static const Mutation mutations[] = {
    /* top level */
    {"\"format\": 1,", "\"format\": 4,", "format 4 is not supported (expected 1 to 3)"},
    {"\"format\": 1,", "\"format\": 0,", "format 0 is not supported (expected 1 to 3)"},
    {"\"format\": 1,", "\"format\": 2,", "format 2 must record a \"source\""},
    {"  \"format\": 1,\n", "  \"format\": 1,\n  \"source\": {\"role\":\"standby\",\"server\":"
     "\"a:1\",\"primary\":\"b:2\"},\n", "format 1 cannot record a \"source\""},
    {"\"format\": 1,", "\"format\": \"1\",", "field \"format\" must be an integer"},
    {"  \"format\": 1,\n", "", "top level: missing field \"format\""},
    {"  \"label\": \"20261122T030000Z\",\n", "", "missing field \"label\""},
    {"\"20261122T030000Z\",", "\"../x\",", "\"label\" \"../x\" is not a valid backup label"},
    {"\"20261122T030000Z\",", "5,", "field \"label\" must be a string"},
    {"\"status\": \"complete\"", "\"status\": \"\"", "\"status\" must be"},
    {"\"status\": \"complete\"", "\"status\": \"Complete\"", "\"status\" must be"},
    {"\"7300000000000000001\"", "7300000000000000001", "\"system_identifier\" must be a string"},
    {"\"7300000000000000001\"", "\"18446744073709551616\"", "decimal string below 2^64"},
    {"\"7300000000000000001\"", "\"07300000000000000001\"", "decimal string below 2^64"},
    {"\"7300000000000000001\"", "\" 7300000000000000001\"", "decimal string below 2^64"},
    {"\"7300000000000000001\"", "\"-1\"", "decimal string below 2^64"},
    {"\"7300000000000000001\"", "\"\"", "decimal string below 2^64"},
    {"\"7300000000000000001\"", "\"0\"", "\"system_identifier\" must not be 0"},
    {"\"pg_version_num\": 150004", "\"pg_version_num\": 0", "must be positive"},
    {"\"pg_major\": 15,", "\"pg_major\": 15.0,", "\"pg_major\" must be an integer"},
    {"\"timeline\": 3,", "\"timeline\": 0,", "\"timeline\" must be at least 1"},
    {"\"timeline\": 3,", "\"timeline\": 4294967296,", "\"timeline\" is out of range"},
    {"\"timeline\": 3,", "\"timeline\": -1,", "\"timeline\" is out of range"},
    {"\"16/B374D848\"", "\"16/b374d848\"", "\"start_lsn\" must be an LSN"},
    {"\"16/B374D848\"", "\"16/0B374D848\"", "\"start_lsn\" must be an LSN"},
    {"\"16/B374D848\"", "\"16B374D848\"", "\"start_lsn\" must be an LSN"},
    {"\"16/B374D848\"", "\"0x16/B374D848\"", "\"start_lsn\" must be an LSN"},
    {"\"16/B374D848\"", "\"100000000/0\"", "\"start_lsn\" must be an LSN"},
    {"\"16/B374D848\"", "\"16/B374D848 \"", "\"start_lsn\" must be an LSN"},
    {"\"16/B374D848\"", "\"17/0\"", "\"start_lsn\" is after \"stop_lsn\""},
    {"\"2026-11-22T03:00:00Z\"", "\"2026-02-30T03:00:00Z\"", "\"start_time\" must be a UTC"},
    {"\"2026-11-22T03:00:00Z\"", "\"2026-11-22 03:00:00Z\"", "\"start_time\" must be a UTC"},
    {"\"2026-11-22T03:00:00Z\"", "\"2026-11-22T03:00:00\"", "\"start_time\" must be a UTC"},
    {"\"2026-11-22T03:00:00Z\"", "\"2026-11-22T03:00:00+01:00\"", "\"start_time\" must be"},
    {"\"2026-11-22T03:00:00Z\"", "\"2026-11-22T24:00:00Z\"", "\"start_time\" must be a UTC"},
    {"\"2026-11-22T03:00:00Z\"", "\"2026-11-22T3:00:00Z\"", "\"start_time\" must be a UTC"},
    {"\"2026-11-22T03:00:00Z\"", "\"1969-12-31T23:59:59Z\"", "\"start_time\" must be a UTC"},
    {"\"2026-11-22T03:00:00Z\"", "1795316400", "\"start_time\" must be a string"},
    {"\"compress\": \"zstd\"", "\"compress\": \"gzip\"", "\"compress\" \"gzip\" is not a known"},
    {"\"backup/20261122T030000Z/backup_manifest.zst\"", "\"../x\"",
     "\"pg_manifest_object\" is not a valid repository path"},
    {"\"backup/20261122T030000Z/backup_manifest.zst\"", "\"/abs/x\"", "not a valid repository"},
    {"\"backup/20261122T030000Z/backup_manifest.zst\"", "5", "must be a string"},
    {"\"new_stored_size\": 12345", "\"new_stored_size\": -1", "\"new_stored_size\" is out of"},
    {"\"new_stored_size\": 12345", "\"new_stored_size\": \"1\"", "\"new_stored_size\" must be"},
    {"\"new_stored_size\": 12345", "\"new_stored_size\": 9223372036854775808", "not valid json"},
    {"  \"format\": 1,\n", "  \"format\": 1,\n  \"extra\": true,\n",
     "top level: unexpected field \"extra\" for a manifest"},
    {"  \"format\": 1,\n", "  \"format\": 1,\n  \"label\": \"x\",\n", "not valid json"},
    /* tablespaces */
    {TBS_BLOCK, "", "missing field \"tablespaces\""},
    {TBS_BLOCK, "\"tablespaces\": {},\n", "field \"tablespaces\" must be an array"},
    {"{\"oid\":16385,", "{\"oid\":0,", "tablespace 0: oid 0 is not valid"},
    {"{\"oid\":16385,", "{\"oid\":-1,", "tablespace 0: field \"oid\" is out of range"},
    {"{\"oid\":16390,", "{\"oid\":16385,", "tablespace 16385 is listed twice"},
    {"\"location\":\"/srv/ts1\"", "\"location\":\"srv/ts1\"", "location must be an absolute"},
    {"\"location\":\"/srv/ts1\"", "\"location\":null", "\"location\" must be a string"},
    {"{\"oid\":16385,", "{\"oid\":16385,\"size\":1,", "unexpected field \"size\" for a tablesp"},
    {"{\"oid\":16385,\"location\":\"/srv/ts1\"}", "[]", "tablespace 0: not an object"},
    /* entries: paths */
    {"{\"path\":\"base\",", "{\"path\":\"/base\",", "entry 0 (\"/base\"): path must be relative"},
    {"{\"path\":\"base\",", "{\"path\":\"../base\",", "path must be relative"},
    {"{\"path\":\"base\",", "{\"path\":\"a/../base\",", "path must be relative"},
    {"{\"path\":\"base\",", "{\"path\":\"a//base\",", "path must be relative"},
    {"{\"path\":\"base\",", "{\"path\":\"base/\",", "path must be relative"},
    {"{\"path\":\"base\",", "{\"path\":\"./base\",", "path must be relative"},
    {"{\"path\":\"base\",", "{\"path\":\"\",", "path must be relative"},
    {"{\"path\":\"base\",", "{\"path_hex\":\"2e2e\",", "entry 0 (\"..\"): path must be relative"},
    {"{\"path\":\"base\",", "{\"path_hex\":\"6100\",", "field \"path_hex\" holds a NUL byte"},
    {"{\"path\":\"base\",", "{\"path_hex\":\"6G\",", "field \"path_hex\" must be lowercase hex"},
    {"{\"path\":\"base\",", "{\"path_hex\":\"6\",", "field \"path_hex\" must be lowercase hex"},
    {"{\"path\":\"base\",", "{\"path_hex\":\"\",", "field \"path_hex\" must be lowercase hex"},
    {"{\"path\":\"base\",", "{\"path_hex\":\"6A\",", "field \"path_hex\" must be lowercase hex"},
    {"{\"path\":\"base\",", "{\"path\":\"base\",\"path_hex\":\"62\",", "both \"path\" and"},
    {"{\"path\":\"base\",", "{\"path\":7,", "entry 0: field \"path\" must be a string"},
    {"{\"path\":\"base\",", "{", "entry 0: missing field \"path\""},
    {E0, "[]", "entry 0: not an object"},
    /* entries: type and fields by type */
    {"\"type\":\"dir\"", "\"type\":\"fifo\"", "entry 0 (\"base\"): unknown type \"fifo\""},
    {"\"tablespace\":0,\"type\":\"dir\",", "\"tablespace\":0,", "missing field \"type\""},
    {"\"type\":\"dir\",", "\"type\":\"dir\",\"sha256\":\"" SHA_A "\",",
     "entry 0 (\"base\"): unexpected field \"sha256\" for a dir"},
    {"\"type\":\"dir\",", "\"type\":\"dir\",\"size\":0,", "unexpected field \"size\" for a dir"},
    {"\"type\":\"dir\",", "\"type\":\"dir\",\"link_target\":\"/x\",", "\"link_target\" for a dir"},
    {"\"type\":\"dir\"", "\"type\":\"symlink\"", "missing field \"link_target\""},
    {"\"type\":\"dir\"", "\"type\":\"file\"", "missing field \"size\""},
    {"\"type\":\"dir\"", "\"type\":\"DIR\"", "unknown type \"DIR\""},
    {"\"mode\":\"0700\"", "\"mode\":\"700\"", "field \"mode\" must be 4 octal digits"},
    {"\"mode\":\"0700\"", "\"mode\":\"0800\"", "field \"mode\" must be 4 octal digits"},
    {"\"mode\":\"0700\"", "\"mode\":\"07000\"", "field \"mode\" must be 4 octal digits"},
    {"\"mode\":\"0700\"", "\"mode\":448", "field \"mode\" must be a string"},
    {"\"mtime\":1795316400}", "\"mtime\":\"x\"}", "field \"mtime\" must be an integer"},
    {"\"tablespace\":0,\"type\":\"dir\"", "\"tablespace\":99,\"type\":\"dir\"",
     "entry 0 (\"base\"): tablespace 99 is not listed"},
    {"\"tablespace\":0,\"type\":\"dir\"", "\"tablespace\":4294967296,\"type\":\"dir\"",
     "\"tablespace\" is out of range"},
    /* entries: files */
    {"\"sha256\":\"" SHA_B "\"", "\"sha256\":\"FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210"
     "FEDCBA9876543210\"", "entry 2 (\"global/pg_control\"): \"sha256\" must be 64 lowercase"},
    {"\"sha256\":\"" SHA_B "\"", "\"sha256\":\"fedcba\"", "\"sha256\" must be 64 lowercase"},
    {"\"sha256\":\"" SHA_B "\"", "\"sha256\":\"" SHA_B "0\"", "\"sha256\" must be 64 lowercase"},
    {"\"sha256\":\"" SHA_B "\",", "", "entry 2 (\"global/pg_control\"): missing field \"sha256\""},
    {CTRL_OBJ, "\"object\":\"../fedc\",\"stored_size\":2730", "\"object\" is not a valid repos"},
    {CTRL_OBJ, "\"object\":null,\"stored_size\":2730", "\"object\" must be a string"},
    {CTRL_OBJ, "\"stored_size\":2730", "missing field \"object\""},
    {CTRL_OBJ, "\"object\":\"data/fe/fedc.zst\",\"stored_size\":-5", "\"stored_size\" is out"},
    {CTRL_OBJ, "\"object\":\"data/fe/fedc.zst\"", "missing field \"stored_size\""},
    {"\"size\":8192,", "\"size\":-8192,", "\"size\" is out of range"},
    {"\"size\":8192,", "\"size\":8192,\"link_target\":\"/x\",", "\"link_target\" for a file"},
    /* entries: symlinks and duplicates */
    {"\"link_target\":\"/srv/ts1\"", "\"link_target\":\"\"", "a symlink needs a \"link_target\""},
    {",\"link_target\":\"/srv/ts1\"", "", "entry 3 (\"pg_tblspc/16385\"): missing field \"link"},
    {"{\"path\":\"global/pg_control\",", "{\"path\":\"base/1/1259\",",
     "duplicate entry \"base/1/1259\" in tablespace 0"},
    /* whole document */
    {"\n}\n", "\n}\n{}", "not valid json"},
    {"\n}\n", "\n", "not valid json"},
};

static char *replace_once(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    ck_assert_msg(p != NULL, "\"%s\" not in the sample manifest", from);
    ck_assert_msg(strstr(p + 1, from) == NULL, "\"%s\" is not unique", from);
    size_t a = (size_t)(p - text), fl = strlen(from), tl = strlen(to), rest = strlen(p + fl);
    char *out = malloc(a + tl + rest + 1);
    memcpy(out, text, a);
    memcpy(out + a, to, tl);
    memcpy(out + a + tl, p + fl, rest + 1);
    return out;
}

static void expect_corrupt(const char *text, size_t len, const char *fragment)
{
    BackupManifest *m = (BackupManifest *)&m;   /* must be reset to NULL */
    PgpErr err;
    pgp_err_clear(&err);
    int rc = manifest_from_json(text, len, &m, &err);
    ck_assert_msg(rc == PGP_ERR_CORRUPT, "expected CORRUPT for \"%s\", got %d (%s)", fragment,
                  rc, err.msg);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(err.msg, fragment) != NULL, "message \"%s\" lacks \"%s\"", err.msg,
                  fragment);
    ck_assert_ptr_nonnull(strstr(err.msg, "invalid backup manifest: "));
    ck_assert_ptr_null(strchr(err.msg, '\n'));
}

START_TEST(reject_mutation)
{
    BackupManifest *m = sample();
    size_t len;
    char *text = to_json(m, &len);
    manifest_free(from_json(text));   /* the base text itself is accepted */
    const Mutation *mu = &mutations[_i];
    char *bad = replace_once(text, mu->from, mu->to);
    expect_corrupt(bad, strlen(bad), mu->fragment);
    free(bad);
    free(text);
    manifest_free(m);
}
END_TEST

START_TEST(reject_documents)
{
    expect_corrupt("", 0, "not valid json");
    expect_corrupt("[]", 2, "top level is not an object");
    expect_corrupt("{}", 2, "missing field \"format\"");
    expect_corrupt("{\"format\": 1}", 13, "missing field \"label\"");
    BackupManifest *m = sample();
    size_t len;
    char *text = to_json(m, &len);
    /* Every proper prefix is refused (and read within bounds: the copy has no NUL). */
    for (size_t n = 0; n < len - 1; n += fx_cut_step(7)) {
        char *copy = malloc(n + 1);
        memcpy(copy, text, n);
        expect_corrupt(copy, n, "not valid json");
        free(copy);
    }
    /* Entries must be an array (on a manifest without entries, to build the text simply). */
    /* the entries' strings stay in the arena until manifest_free */
    m->n_entries = 0;
    free(text);
    text = to_json(m, &len);
    char *bad = replace_once(text, "\"entries\": []", "\"entries\": {}");
    expect_corrupt(bad, strlen(bad), "field \"entries\" must be an array");
    free(bad);
    bad = replace_once(text, ",\n  \"entries\": []", "");
    expect_corrupt(bad, strlen(bad), "missing field \"entries\"");
    free(bad);
    free(text);
    manifest_free(m);
}
END_TEST

/* ---- strict writing ----------------------------------------------------------------- */

static void set_str(char **field, const char *value)
{
    free(*field);
    *field = value != NULL ? strdup(value) : NULL;
}

/* An entry's strings belong to the manifest's arena: point them elsewhere, never free them. */
static void set_ent(char **field, const char *value)
{
    *field = (char *)value;
}

/* Breaks sample() in way number i; returns the expected message fragment (NULL: no more). */
static const char *break_sample(BackupManifest *m, int i)
{
    ManifestEntry *e = m->entries;     /* 0 dir, 1-2 files, 3-4 symlinks, 5-7 files */
    switch (i) {
    case 0: set_ent(&e[1].path, "../x"); return "entry 1 (\"../x\"): path must be relative";
    case 1: set_ent(&e[1].path, "/abs"); return "path must be relative";
    case 2: set_ent(&e[1].object, NULL); return "\"object\" is not a valid repository path";
    case 3: set_ent(&e[1].object, "a//b"); return "\"object\" is not a valid repository path";
    case 4: e[1].sha256[0] = 'A'; return "\"sha256\" must be 64 lowercase hex";
    case 5: e[1].sha256[0] = '\0'; return "\"sha256\" must be 64 lowercase hex";
    case 6: strcpy(e[0].sha256, SHA_A); return "entry 0 (\"base\"): a dir has no size, sha256";
    case 7: e[0].size = 1; return "a dir has no size, sha256 or object";
    case 8: set_ent(&e[3].object, "data/x"); return "a symlink has no size, sha256 or object";
    case 9: set_ent(&e[3].link_target, NULL); return "a symlink needs a \"link_target\"";
    case 10: set_ent(&e[1].link_target, "/x"); return "only a symlink has a \"link_target\"";
    case 11: e[5].tablespace = 99; return "tablespace 99 is not listed in \"tablespaces\"";
    case 12: e[1].size = (uint64_t)INT64_MAX + 1; return "size out of range";
    case 13: e[1].stored_size = UINT64_MAX; return "size out of range";
    case 14: e[1].mode = 010000; return "mode 10000 has more than permission bits";
    case 15: e[0].type = (ManifestEntryType)7; return "unknown type 7";
    case 16: set_ent(&e[2].path, "base/1/1259"); return "duplicate entry \"base/1/1259\"";
    case 17: m->size = UINT64_MAX; return "must be below 2^63";
    case 18: m->stop_time = INT64_C(253402300800); return "must lie in years 1970 to 9999";
    case 19: m->start_time = -1; return "must lie in years 1970 to 9999";
    case 20: set_str(&m->label, "bad/label"); return "\"label\" \"bad/label\" is not a valid";
    case 21: set_str(&m->label, NULL); return "is not a valid backup label";
    case 22: set_str(&m->compress, "gzip"); return "\"compress\" \"gzip\" is not a known codec";
    case 23: set_str(&m->status, NULL); return "\"status\" must be";
    case 24: m->format = 4; return "format 4 is not supported";
    case 25: m->tablespaces[1].oid = 16385; return "tablespace 16385 is listed twice";
    case 26: m->tablespaces[0].oid = 0; return "oid 0 is not valid";
    case 27: set_str(&m->tablespaces[0].location, "rel"); return "location must be an absolute";
    case 28: m->timeline = 0; return "\"timeline\" must be at least 1";
    case 29: m->start_lsn = m->stop_lsn + 1; return "\"start_lsn\" is after \"stop_lsn\"";
    case 30: m->system_identifier = 0; return "\"system_identifier\" must not be 0";
    case 31: m->pg_major = 0; return "must be positive";
    case 32: set_str(&m->pg_manifest_object, "../m"); return "\"pg_manifest_object\" is not";
    case 33: m->format = MANIFEST_FORMAT_STANDBY; return "format 2 must record a \"source\"";
    default: return NULL;
    }
}

START_TEST(reject_on_write)
{
    for (int i = 0;; i++) {
        BackupManifest *m = sample();
        const char *fragment = break_sample(m, i);
        if (fragment == NULL) {
            manifest_free(m);
            ck_assert_int_eq(i, 34);
            break;
        }
        char *text = (char *)&text;
        size_t len = 99;
        PgpErr err;
        pgp_err_clear(&err);
        int rc = manifest_to_json(m, &text, &len, &err);
        ck_assert_msg(rc == PGP_ERR_CORRUPT, "case %d (%s): rc %d", i, fragment, rc);
        ck_assert_ptr_null(text);
        ck_assert_uint_eq(len, 0);
        ck_assert_msg(strstr(err.msg, fragment) != NULL, "case %d: \"%s\" lacks \"%s\"", i,
                      err.msg, fragment);
        pgp_err_clear(&err);
        ck_assert_int_eq(manifest_validate(m, &err), PGP_ERR_CORRUPT);
        manifest_free(m);
    }
}
END_TEST

/* ---- format 2: a backup taken on a standby ------------------------------------------ */

static BackupManifest *standby_sample(const char *server)
{
    BackupManifest *m = sample();
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(manifest_set_standby_source(m, server, "db1:5432", &err), 0);
    ck_assert_int_eq(m->format, MANIFEST_FORMAT_STANDBY);
    return m;
}

START_TEST(standby_source)
{
    /* format 1 stays what a primary's backup writes */
    BackupManifest *m = sample();
    size_t len;
    char *text = to_json(m, &len);
    ck_assert_ptr_nonnull(strstr(text, "\n  \"format\": 1,\n"));
    ck_assert_ptr_null(strstr(text, "source"));
    free(text);
    manifest_free(m);
    /* format 2 round trip, one line for the source; a non-UTF-8 host goes as hex */
    static const char *const servers[] = {"/var/run/postgresql:5433", "h\xe9te:5433"};
    static const char *const lines[] = {
        "\n  \"source\": {\"role\":\"standby\",\"server\":\"/var/run/postgresql:5433\","
        "\"primary\":\"db1:5432\"},\n",
        "\n  \"source\": {\"role\":\"standby\",\"server_hex\":\"68e974653a35343333\","
        "\"primary\":\"db1:5432\"},\n"};
    for (int i = 0; i < 2; i++) {
        m = standby_sample(servers[i]);
        text = to_json(m, &len);
        ck_assert_ptr_nonnull(strstr(text, "\n  \"format\": 2,\n"));
        ck_assert_msg(strstr(text, lines[i]) != NULL, "%s", text);
        BackupManifest *back = from_json(text);
        assert_manifest_eq(m, back);
        ck_assert_ptr_nonnull(back->source);
        ck_assert_str_eq(back->source->server, servers[i]);
        ck_assert_str_eq(back->source->primary, "db1:5432");
        manifest_free(back);
        manifest_free(m);
        free(text);
    }
}
END_TEST

/* ---- format 3: files stored as chunks ------------------------------------------------ */

#define CHUNKED_LINE "{\"path\":\"base/5/16396\",\"tablespace\":0,\"type\":\"file\"," \
    "\"size\":3145733,\"mode\":\"0600\",\"mtime\":1795316340,\"chunk_list\":" \
    "\"objects/fe/" SHA_B ".zst\",\"chunk_list_sha256\":\"" SHA_B "\",\"chunk_size\":1048576," \
    "\"chunks\":4,\"stored_size\":4242}"

/* sample() plus a file of 3 MiB + 5 bytes in 1 MiB chunks (4 of them). */
static BackupManifest *chunked_sample(void)
{
    BackupManifest *m = sample();
    ck_assert_int_eq(m->format, MANIFEST_FORMAT);
    ManifestEntry e = file_entry("base/5/16396", 0, 3 * 1048576 + 5, SHA_B, NULL);
    e.chunk_shift = 20;
    e.chunk_list = "objects/fe/" SHA_B ".zst";
    e.stored_size = 4242;
    add(m, e);
    ck_assert_int_eq(m->format, MANIFEST_FORMAT_CHUNKED);   /* made so by the entry */
    return m;
}

START_TEST(chunked_round_trip)
{
    BackupManifest *m = chunked_sample();
    size_t len;
    char *text = to_json(m, &len);
    ck_assert_ptr_nonnull(strstr(text, "\n  \"format\": 3,\n"));
    ck_assert_msg(strstr(text, CHUNKED_LINE) != NULL, "%s", text);
    BackupManifest *back = from_json(text);
    assert_manifest_eq(m, back);
    const ManifestEntry *e = &back->entries[back->n_entries - 1];
    ck_assert(manifest_entry_chunked(e));
    ck_assert_ptr_null(e->object);
    ck_assert_str_eq(e->chunk_list, "objects/fe/" SHA_B ".zst");
    ck_assert_str_eq(e->sha256, SHA_B);
    ck_assert_uint_eq(e->chunk_shift, 20);
    ck_assert(!manifest_entry_chunked(&back->entries[1]));
    manifest_free(back);
    free(text);
    /* a standby's chunked backup stays format 3, with its source */
    PgpErr err = {0};
    ck_assert_int_eq(manifest_set_standby_source(m, "db2:5432", "db1:5432", &err), 0);
    ck_assert_int_eq(m->format, MANIFEST_FORMAT_CHUNKED);
    text = to_json(m, &len);
    back = from_json(text);
    assert_manifest_eq(m, back);
    ck_assert_str_eq(back->source->server, "db2:5432");
    manifest_free(back);
    free(text);
    manifest_free(m);
}
END_TEST

static const Mutation chunked_mutations[] = {
    {"\"chunks\":4,", "\"chunks\":5,", "\"chunks\" is 5, but 3145733 bytes in chunks of 1048576 make 4"},
    {"\"chunks\":4,", "\"chunks\":0,", "field \"chunks\""},
    {"\"chunk_size\":1048576,", "\"chunk_size\":1048577,", "is not a power of two"},
    {"\"chunk_size\":1048576,", "\"chunk_size\":4096,", "is not a power of two"},
    {"\"chunk_size\":1048576,", "\"chunk_size\":33554432,", "field \"chunk_size\""},
    {"\"chunk_size\":1048576,", "", "missing field \"chunk_size\""},
    {"\"chunks\":4,", "\"chunks\":4,\"object\":\"x\",", "has no \"object\""},
    {"\"chunks\":4,", "\"chunks\":4,\"sha256\":\"" SHA_A "\",", "has no \"sha256\""},
    {"\"chunk_list_sha256\":\"" SHA_B "\",", "", "missing field \"chunk_list_sha256\""},
    {"\"chunk_list_sha256\":\"" SHA_B "\"", "\"chunk_list_sha256\":\"ab\"",
     "\"chunk_list_sha256\" must be 64 lowercase hex digits"},
    {"\"chunk_list\":\"objects/fe/", "\"chunk_list\":\"../fe/", "\"chunk_list\" is not a valid"},
    {"\"size\":3145733,", "\"size\":0,", "\"chunks\" is 4, but 0 bytes"},
    {"\"format\": 3,", "\"format\": 1,", "a file stored as chunks needs format 3 (this is format 1)"},
    {"\"type\":\"file\",\"size\":3145733,", "\"type\":\"dir\",\"size\":3145733,",
     "unexpected field \"size\" for a dir"},
    /* chunk fields in a whole file's entry */
    {"\"sha256\":\"" SHA_B "\",\"object\":\"data/fe/fedc.zst\"",
     "\"sha256\":\"" SHA_B "\",\"chunks\":1,\"object\":\"data/fe/fedc.zst\"",
     "\"chunks\" without \"chunk_list\""},
};

START_TEST(chunked_rejected)
{
    BackupManifest *m = chunked_sample();
    size_t len;
    char *text = to_json(m, &len);
    const Mutation *mu = &chunked_mutations[_i];
    char *bad = replace_once(text, mu->from, mu->to);
    expect_corrupt(bad, strlen(bad), mu->fragment);
    free(bad);
    free(text);
    manifest_free(m);
}
END_TEST

/* What a writer refuses: the rules hold before anything is written too. */
START_TEST(chunked_rejected_on_write)
{
    static const struct {
        uint8_t shift;
        const char *list, *object;
        uint64_t size;
        const char *fragment;
    } cases[] = {
        {12, "objects/fe/l.zst", NULL, 100, "chunk size 2^12 is not a power of two from"},
        {25, "objects/fe/l.zst", NULL, 100, "chunk size 2^25"},
        {20, NULL, NULL, 100, "\"chunk_list\" is not a valid repository path"},
        {20, "objects/fe/l.zst", "objects/fe/o.zst", 100, "has no \"object\""},
        {20, "objects/fe/l.zst", NULL, 0, "has 1 to"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        BackupManifest *m = sample();
        ManifestEntry e = file_entry("base/5/1", 0, cases[i].size, SHA_B, cases[i].object);
        e.chunk_shift = cases[i].shift;
        e.chunk_list = (char *)cases[i].list;
        add(m, e);
        char *text = NULL;
        size_t len;
        PgpErr err = {0};
        ck_assert_int_eq(manifest_to_json(m, &text, &len, &err), PGP_ERR_CORRUPT);
        ck_assert_msg(strstr(err.msg, cases[i].fragment) != NULL, "%zu: %s", i, err.msg);
        ck_assert_ptr_null(text);
        manifest_free(m);
    }
    /* chunk_shift on a directory */
    BackupManifest *m = sample();
    add(m, (ManifestEntry){.path = "base/9", .type = MANIFEST_DIR, .mode = 0700,
                           .chunk_shift = 20});
    char *text = NULL;
    size_t len;
    PgpErr err = {0};
    ck_assert_int_eq(manifest_to_json(m, &text, &len, &err), PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, "only a file is stored as chunks") != NULL, "%s", err.msg);
    manifest_free(m);
}
END_TEST

/* Every rule of "source", on read and on write. */
START_TEST(standby_source_rejected)
{
    static const Mutation bad[] = {
        {"\"format\": 2,", "\"format\": 1,", "format 1 cannot record a \"source\""},
        {"\"role\":\"standby\"", "\"role\":\"primary\"", "\"source\": \"role\" must be \"standby\""},
        {"\"role\":\"standby\",", "", "\"source\": missing field \"role\""},
        {"\"role\":\"standby\"", "\"role\":1", "\"source\": field \"role\" must be a string"},
        {"\"role\":\"standby\",", "\"role\":\"standby\",\"x\":1,",
         "unexpected field \"x\" for a source"},
        {",\"primary\":\"db1:5432\"", "", "\"source\": missing field \"primary\""},
        {"\"server\":\"db2:5433\"", "\"server\":\"\"", "\"server\" and \"primary\" must be 1 to"},
        {"\"server\":\"db2:5433\"", "\"server\":\"db2\\n:5433\"", "without control characters"},
        {"\"server\":\"db2:5433\"", "\"server\":null", "field \"server\" must be a string"},
        {"{\"role\":\"standby\",\"server\":\"db2:5433\",\"primary\":\"db1:5432\"}", "\"standby\"",
         "field \"source\" must be an object"},
    };
    BackupManifest *m = standby_sample("db2:5433");
    size_t len;
    char *text = to_json(m, &len);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = replace_once(text, bad[i].from, bad[i].to);
        expect_corrupt(t, strlen(t), bad[i].fragment);
        free(t);
    }
    free(text);
    /* on write: what would not read back */
    char long_server[MANIFEST_SERVER_MAX + 1];
    memset(long_server, 'h', MANIFEST_SERVER_MAX);
    long_server[MANIFEST_SERVER_MAX] = '\0';
    const char *servers[] = {"", "db2\n:5433", long_server};
    for (size_t i = 0; i < 3; i++) {
        set_str(&m->source->server, servers[i]);
        char *out = NULL;
        PgpErr err;
        pgp_err_clear(&err);
        ck_assert_int_eq(manifest_to_json(m, &out, &len, &err), PGP_ERR_CORRUPT);
        ck_assert_ptr_null(out);
        ck_assert_ptr_nonnull(strstr(err.msg, "must be 1 to 1023 bytes"));
    }
    long_server[MANIFEST_SERVER_MAX - 1] = '\0';   /* the longest accepted */
    set_str(&m->source->server, long_server);
    text = to_json(m, &len);
    manifest_free(from_json(text));
    free(text);
    manifest_free(m);
}
END_TEST

#define L64 "x234567890123456789012345678901234567890123456789012345678901234"

START_TEST(labels)
{
    static const char *const good[] = {"20261122T030000Z", "a", "A.b_c-d", "0", "a..b", L64};
    static const char *const bad[] = {"", ".", "..", ".hidden", "a/b", "a b", "a\n", "\xc3\xa9",
                                      "a:b", "a\\b", "-\x01",
                                      L64 "5"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(manifest_label_valid(good[i]), "\"%s\" refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!manifest_label_valid(bad[i]), "\"%s\" accepted", bad[i]);
    ck_assert(!manifest_label_valid(NULL));
    ck_assert_uint_eq(strlen(good[5]), MANIFEST_LABEL_MAX);
    char path[REPO_PATH_MAX];
    manifest_path("20261122T030000Z", path, NULL);
    ck_assert_str_eq(path, "backup/20261122T030000Z/manifest.json");
}
END_TEST

/* 20,000 entries round trip (2,000 under a memory tool, where each of the ~10 checks per entry
 * costs a message to Check's parent and the test took 70 s under valgrind). */
START_TEST(many_entries)
{
    BackupManifest *m = sample();
    char path[64];
    int n = fx_under_memory_tool() ? 2000 : 20000;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "base/16384/%d", 100000 + i);
        add(m, file_entry(path, 0, (uint64_t)i * 8192, SHA_B, "data/fe/fedc.zst"));
    }
    size_t len;
    char *text = to_json(m, &len);
    BackupManifest *back = from_json(text);
    assert_manifest_eq(m, back);
    free(text);
    manifest_free(back);
    manifest_free(m);
}
END_TEST

/* ---- storage ------------------------------------------------------------------------ */

static char base_dir[64];   /* per test case, made and removed by the parent: gone even if a
                              * test fails */
static char tdir[96];       /* per test, inside base_dir */
static Storage *st;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void base_setup(void)
{
    snprintf(base_dir, sizeof base_dir, "/tmp/pgpitr_test_manifest.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base_dir));
}

static void base_teardown(void)
{
    nftw(base_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void storage_setup(void)
{
    snprintf(tdir, sizeof tdir, "%s/t.XXXXXX", base_dir);
    ck_assert_ptr_nonnull(mkdtemp(tdir));
    PgpErr err;
    pgp_err_clear(&err);
    st = NULL;
    ck_assert_int_eq(storage_posix_new(tdir, false, &st, &err), 0);
}

static void storage_teardown(void)
{
    storage_free(st);
    st = NULL;
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool file_exists(const char *rel)
{
    char p[256];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", tdir, rel);
    return stat(p, &sb) == 0;
}

START_TEST(save_load)
{
    BackupManifest *m = sample(), *back = NULL;
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(manifest_save(st, NULL, "20261122T030000Z", m, &err), 0);
    ck_assert(file_exists("backup/20261122T030000Z/manifest.json"));
    ck_assert_int_eq(manifest_load(st, NULL, "20261122T030000Z", &back, &err), 0);
    assert_manifest_eq(m, back);
    manifest_free(back);
    /* Never replaced. */
    ck_assert_int_eq(manifest_save(st, NULL, "20261122T030000Z", m, &err), PGP_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "backup/20261122T030000Z/manifest.json"));
    /* Missing backup. */
    back = (BackupManifest *)&back;
    pgp_err_clear(&err);
    ck_assert_int_eq(manifest_load(st, NULL, "20261122T040000Z", &back, &err), PGP_ERR_NOT_FOUND);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(err.msg, "backup \"20261122T040000Z\" not found"));
    /* Bad labels never reach storage. */
    ck_assert_int_eq(manifest_load(st, NULL, "../x", &back, &err), PGP_ERR_INVALID_NAME);
    ck_assert_ptr_nonnull(strstr(err.msg, "invalid backup label \"../x\""));
    ck_assert_int_eq(manifest_load(st, NULL, NULL, &back, &err), PGP_ERR_INVALID_NAME);
    ck_assert_int_eq(manifest_save(st, NULL, ".x", m, &err), PGP_ERR_INVALID_NAME);
    /* The label argument must be the manifest's own. */
    ck_assert_int_eq(manifest_save(st, NULL, "20261122T050000Z", m, &err), PGP_ERR_INTERNAL);
    ck_assert(!file_exists("backup/20261122T050000Z"));
    /* An invalid manifest is refused before anything is written. */
    set_str(&m->label, "20261122T060000Z");
    set_ent(&m->entries[1].path, "../../etc/passwd");
    ck_assert_int_eq(manifest_save(st, NULL, "20261122T060000Z", m, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "path must be relative"));
    ck_assert(!file_exists("backup/20261122T060000Z"));
    manifest_free(m);
}
END_TEST

START_TEST(load_corrupt)
{
    PgpErr err;
    pgp_err_clear(&err);
    BackupManifest *m = sample(), *back = NULL;
    size_t len;
    char *text = to_json(m, &len);
    /* A valid manifest stored under another label is not that backup's manifest. */
    ck_assert_int_eq(storage_put_all(st, "backup/other/manifest.json", 0, text, len, &err), 0);
    ck_assert_int_eq(manifest_load(st, NULL, "other", &back, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(err.msg, "is the manifest of backup \"20261122T030000Z\""));
    /* Garbage and truncation name the file. */
    ck_assert_int_eq(storage_put_all(st, "backup/junk/manifest.json", 0, "{\"format\": 1,", 13,
                                     &err), 0);
    ck_assert_int_eq(manifest_load(st, NULL, "junk", &back, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"backup/junk/manifest.json\": invalid backup"));
    ck_assert_int_eq(storage_put_all(st, "backup/half/manifest.json", 0, text, len / 2, &err), 0);
    ck_assert_int_eq(manifest_load(st, NULL, "half", &back, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_null(back);
    free(text);
    manifest_free(m);
}
END_TEST

/* jansson's error text quotes the bytes it stopped at, raw: they reach the message quoted
 * (found by tests/fuzz/fuzz_manifest). */
START_TEST(json_error_quoted)
{
    static const char *const docs[] = {"\x01", "{\"format\": \x0a\x01}", "{\"a\"\x1b[2J: 1}"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        BackupManifest *m = NULL;
        PgpErr err;
        ck_assert_int_eq(manifest_from_json(docs[i], strlen(docs[i]), &m, &err), PGP_ERR_CORRUPT);
        ck_assert_ptr_null(m);
        fx_assert_printable_err(&err, "not valid json");
    }
}
END_TEST

Suite *suite_manifest(void)
{
    Suite *s = suite_create("manifest");
    TCase *tc = tcase_create("manifest");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, round_trip_minimal);
    tcase_add_test(tc, add_entry_deep_copy);
    tcase_add_loop_test(tc, reject_mutation, 0, (int)(sizeof mutations / sizeof mutations[0]));
    tcase_add_test(tc, reject_documents);
    tcase_add_test(tc, reject_on_write);
    tcase_add_test(tc, standby_source);
    tcase_add_test(tc, standby_source_rejected);
    tcase_add_test(tc, chunked_round_trip);
    tcase_add_loop_test(tc, chunked_rejected, 0,
                        (int)(sizeof chunked_mutations / sizeof chunked_mutations[0]));
    tcase_add_test(tc, chunked_rejected_on_write);
    tcase_add_test(tc, labels);
    tcase_add_test(tc, many_entries);
    tcase_add_test(tc, json_error_quoted);
    suite_add_tcase(s, tc);
    tc = tcase_create("manifest_storage");
    tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
    tcase_add_checked_fixture(tc, storage_setup, storage_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, load_corrupt);
    suite_add_tcase(s, tc);
    return s;
}
