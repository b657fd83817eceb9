/*
 * test_lease.c - recovery lease objects (src/repo/lease.c): names, the JSON round trip,
 * hostile content refused field by field, and the listing's judgement (live, stale,
 * unreadable) on a fabricated repository; plus what the position comes from
 * (src/pg/pgcontrol.c): pg_control with its CRC-32C, and backup_label's start.
 */
#include "pgpitr/repo/lease.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_pgwal.h"
#include "fx_repo.h"
#include "pgpitr/pg/pgcontrol.h"

#define T0 FX_T0

static Lease sample(void)
{
    Lease l;
    memset(&l, 0, sizeof l);
    snprintf(l.host, sizeof l.host, "db1.example");
    snprintf(l.datadir, sizeof l.datadir, "/var/lib/postgresql/15/restored");
    l.system_identifier = FX_SYSID;
    lease_set_position(&l, 2, 0x1A3, FX_SEGSIZE);
    snprintf(l.created_by, sizeof l.created_by, "restore");
    l.since = T0;
    l.renewed = T0 + 60;
    l.expires = T0 + 60 + LEASE_TTL_DEFAULT;
    return l;
}

static char *text_of(const Lease *l)
{
    char *text = NULL;
    PgpErr err = {0};
    ck_assert_msg(lease_to_json(l, &text, &err) == 0, "lease_to_json: %s", err.msg);
    return text;
}

/* The sample's text with `from` replaced by `to` (once; from must occur). */
static char *edited(const char *from, const char *to)
{
    Lease l = sample();
    char *text = text_of(&l), *at = strstr(text, from);
    ck_assert_msg(at != NULL, "\"%s\" not in %s", from, text);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    ck_assert_ptr_nonnull(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    free(text);
    return out;
}

START_TEST(path_names_one_object_per_data_directory)
{
    char a[REPO_PATH_MAX], b[REPO_PATH_MAX], c[REPO_PATH_MAX], d[REPO_PATH_MAX];
    ck_assert_int_eq(lease_path("db1", "/srv/a", a, NULL), 0);
    ck_assert_int_eq(lease_path("db1", "/srv/a", b, NULL), 0);
    ck_assert_int_eq(lease_path("db1", "/srv/b", c, NULL), 0);
    ck_assert_int_eq(lease_path("db2", "/srv/a", d, NULL), 0);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_str_ne(a, d);
    ck_assert_int_eq(strncmp(a, "leases/recovery-db1-", 20), 0);
    ck_assert_uint_eq(strlen(a), strlen("leases/recovery-db1-") + 16 + strlen(".json"));
    /* host bytes a name must not carry */
    ck_assert_int_eq(lease_path("../x y/\n", "/srv/a", a, NULL), 0);
    ck_assert_int_eq(strncmp(a, "leases/recovery-..-x-y--", 24), 0);
    ck_assert(storage_path_valid(a));
    /* host NUL datadir: moving a byte across the boundary changes the id */
    ck_assert_int_eq(lease_path("ab", "/c", a, NULL), 0);
    ck_assert_int_eq(lease_path("a", "b/c", b, NULL), 0);
    ck_assert_str_ne(strrchr(a, '-'), strrchr(b, '-'));
}
END_TEST

START_TEST(round_trip)
{
    Lease l = sample(), back;
    char *text = text_of(&l);
    PgpErr err = {0};
    ck_assert_msg(lease_parse(text, strlen(text), FX_SEGSIZE, &back, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(back.host, l.host);
    ck_assert_str_eq(back.datadir, l.datadir);
    ck_assert_uint_eq(back.system_identifier, FX_SYSID);
    ck_assert_str_eq(back.wal, "0000000200000001000000A3");
    ck_assert_uint_eq(back.tli, 2);
    ck_assert_uint_eq(back.segno, 0x1A3);
    ck_assert_str_eq(back.created_by, "restore");
    ck_assert_int_eq(back.since, l.since);
    ck_assert_int_eq(back.renewed, l.renewed);
    ck_assert_int_eq(back.expires, l.expires);
    ck_assert_ptr_nonnull(strstr(text, "\"ttl_s\": 86400"));
    free(text);
    /* what lease_parse would refuse is never written */
    l.expires = l.renewed - 1;
    ck_assert_int_eq(lease_to_json(&l, &text, &err), PGP_ERR_INTERNAL);
    l = sample();
    snprintf(l.datadir, sizeof l.datadir, "relative/dir");
    ck_assert_int_eq(lease_to_json(&l, &text, &err), PGP_ERR_INTERNAL);
}
END_TEST

START_TEST(hostile_content_is_refused)
{
    static const struct { const char *from, *to, *field; } cases[] = {
        {"\"format\": 1", "\"format\": 2", "format"},
        {"\"format\": 1", "\"format\": \"1\"", "format"},
        {"\"db1.example\"", "\"\"", "host"},
        {"\"db1.example\"", "\"db1\\u0000evil\"", "host"},
        {"\"db1.example\"", "\"db1\\nevil\"", "host"},
        {"\"db1.example\"", "17", "host"},
        {"\"/var/lib/postgresql/15/restored\"", "\"var/lib\"", "data_directory"},
        {"\"7300000000000000001\"", "\"-1\"", "system_identifier"},
        {"\"7300000000000000001\"", "\"99999999999999999999999\"", "system_identifier"},
        {"\"7300000000000000001\"", "\"12x\"", "system_identifier"},
        {"\"7300000000000000001\"", "7300000000000000001", "system_identifier"},
        {"\"0000000200000001000000A3\"", "\"../../etc/passwd\"", "wal"},
        {"\"0000000200000001000000A3\"", "\"00000002.history\"", "wal"},
        {"\"0000000200000001000000A3\"", "\"0000000200000001000000a3\"", "wal"},
        {"\"0000000200000001000000A3\"", "\"000000020000000100000100\"", "wal"},
        {"\"timeline\": 2", "\"timeline\": 3", "timeline"},
        {"\"timeline\": 2", "\"timeline\": 2.0", "timeline"},
        {"\"restore\"", "null", "created_by"},
        {"\"2026-11-22T03:00:00Z\"", "\"2026-11-22T05:00:00Z\"", "since"},   /* since > renewed */
        {"\"2026-11-22T03:00:00Z\"", "\"2026-02-30T03:00:00Z\"", "since"},
        {"\"2026-11-22T03:00:00Z\"", "1795316400", "since"},
        {"\"2026-11-23T03:01:00Z\"", "\"2099-01-01T00:00:00Z\"", "expires"}, /* ttl too long */
        {"\"2026-11-23T03:01:00Z\"", "\"2026-11-22T03:00:30Z\"", "expires"}, /* before renewed */
        {"\"ttl_s\": 86400", "\"ttl_s\": 86400, \"host\": \"dup\"", "duplicate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = edited(cases[i].from, cases[i].to);
        Lease back;
        PgpErr err = {0};
        int rc = lease_parse(text, strlen(text), FX_SEGSIZE, &back, &err);
        ck_assert_msg(rc == PGP_ERR_CORRUPT, "case %zu (%s): rc %d for %s", i, cases[i].field, rc,
                      text);
        free(text);
    }
    static const char *const junk[] = {"", "[]", "null", "{", "{\"format\": 1}", "\"x\""};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        Lease back;
        ck_assert_int_eq(lease_parse(junk[i], strlen(junk[i]), FX_SEGSIZE, &back, NULL),
                         PGP_ERR_CORRUPT);
    }
    /* bounded size, whatever the content */
    size_t big = LEASE_MAX_BYTES + 1;
    char *text = malloc(big);
    ck_assert_ptr_nonnull(text);
    memset(text, ' ', big);
    Lease back;
    ck_assert_int_eq(lease_parse(text, big, FX_SEGSIZE, &back, NULL), PGP_ERR_CORRUPT);
    free(text);
}
END_TEST

START_TEST(list_judges_every_object)
{
    FxRepo fx;
    fx_repo_init(&fx, "lease");
    Lease live = sample(), stale = sample();
    snprintf(stale.datadir, sizeof stale.datadir, "/srv/old");
    stale.renewed = stale.since;
    stale.expires = T0 + 600;
    PgpErr err = {0};
    ck_assert_int_eq(lease_write(fx.st, &live, &err), 0);
    ck_assert_int_eq(lease_write(fx.st, &stale, &err), 0);
    ck_assert_int_eq(lease_write(fx.st, &live, &err), 0);     /* a renewal replaces */
    fx_put_raw(&fx, "leases/recovery-junk-0000000000000000.json", "{\"format\": 1");
    fx_put_raw(&fx, "leases/recovery-old-0000000000000000.json", "not json");
    fx_set_mtime(&fx, "leases/recovery-old-0000000000000000.json", T0 - 2 * 86400);
    fx_put_raw(&fx, "leases/README", "not a lease");
    LeaseEntry *v = NULL;
    size_t n = 0;
    int64_t now = T0 + 3600;
    ck_assert_int_eq(lease_list(fx.st, FX_SEGSIZE, now, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 4);
    char lp[REPO_PATH_MAX], sp[REPO_PATH_MAX];
    ck_assert_int_eq(lease_path(live.host, live.datadir, lp, NULL), 0);
    ck_assert_int_eq(lease_path(stale.host, stale.datadir, sp, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].path, lp) == 0) {
            ck_assert(v[i].parsed);
            ck_assert_int_eq(v[i].state, LEASE_LIVE);
            ck_assert_uint_eq(v[i].lease.segno, 0x1A3);
        } else if (strcmp(v[i].path, sp) == 0) {
            ck_assert_int_eq(v[i].state, LEASE_STALE);
        } else if (strstr(v[i].path, "junk") != NULL) {
            ck_assert(!v[i].parsed);
            ck_assert_int_eq(v[i].state, LEASE_UNREADABLE);  /* written just now */
            ck_assert_str_eq(v[i].error, "recovery lease: not a JSON object");
        } else {
            ck_assert_ptr_nonnull(strstr(v[i].path, "recovery-old"));
            ck_assert_int_eq(v[i].state, LEASE_STALE);       /* unreadable for two days */
        }
        if (i > 0)
            ck_assert_int_lt(strcmp(v[i - 1].path, v[i].path), 0);
    }
    free(v);
    /* removal, also of what is already gone */
    ck_assert_int_eq(lease_remove(fx.st, lp, &err), 0);
    ck_assert_int_eq(lease_remove(fx.st, lp, &err), 0);
    Lease back;
    ck_assert_int_eq(lease_read(fx.st, lp, FX_SEGSIZE, &back, &err), PGP_ERR_NOT_FOUND);
    fx_repo_free(&fx);
}
END_TEST

/* ---- pg_control and backup_label ---------------------------------------------------------- */

static void control(uint8_t buf[PG_CONTROL_READ_MAX], uint32_t version)
{
    fx_pg_control(buf, FX_SYSID, version, UINT64_C(0x0000000A12000060),
                  UINT64_C(0x0000000A11000028), 3);
}

START_TEST(pg_control_parse_checks_version_and_crc)
{
    ck_assert_uint_eq(pg_crc32c("123456789", 9), 0xE3069283u);   /* the check value */
    uint8_t buf[PG_CONTROL_READ_MAX];
    PgControl pc;
    PgpErr err = {0};
    control(buf, PG_CONTROL_VERSION_13);
    ck_assert_msg(pg_control_parse(buf, sizeof buf, &pc, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(pc.system_identifier, FX_SYSID);
    ck_assert_uint_eq(pc.redo_lsn, UINT64_C(0x0000000A11000028));
    ck_assert_uint_eq(pc.checkpoint_lsn, UINT64_C(0x0000000A12000060));
    ck_assert_uint_eq(pc.redo_tli, 3);
    buf[41] ^= 1;                                         /* torn or damaged */
    ck_assert_int_eq(pg_control_parse(buf, sizeof buf, &pc, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "CRC"));
    control(buf, 1700);                                   /* a layout not known */
    ck_assert_int_eq(pg_control_parse(buf, sizeof buf, &pc, &err), PGP_ERR_CORRUPT);
    control(buf, PG_CONTROL_VERSION_13);
    ck_assert_int_eq(pg_control_parse(buf, 291, &pc, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(pg_control_read("/nonexistent-pgpitr-dir", &pc, &err), PGP_ERR_NOT_FOUND);
}
END_TEST

START_TEST(backup_label_start)
{
    const char *label = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
                        "CHECKPOINT LOCATION: 0/2000060\n"
                        "BACKUP METHOD: streamed\n"
                        "BACKUP FROM: primary\n"
                        "START TIME: 2026-11-22 03:00:00 UTC\n"
                        "LABEL: pgpitr b1\n"
                        "START TIMELINE: 2\n";
    uint64_t lsn = 0;
    uint32_t tli = 0;
    ck_assert(pg_backup_label_start(label, &lsn, &tli));
    ck_assert_uint_eq(lsn, 0x2000028);
    ck_assert_uint_eq(tli, 2);
    ck_assert(!pg_backup_label_start("START WAL LOCATION: 0/2000028 (file x)\n", &lsn, &tli));
    ck_assert(!pg_backup_label_start("START WAL LOCATION: zz (file x)\nSTART TIMELINE: 1\n",
                                     &lsn, &tli));
    ck_assert(!pg_backup_label_start("START WAL LOCATION: 0/1 (f)\nSTART TIMELINE: 0\n", &lsn,
                                     &tli));
    ck_assert(!pg_backup_label_start("START WAL LOCATION: 0/1 (f)\nSTART TIMELINE: 1x\n", &lsn,
                                     &tli));
    ck_assert(!pg_backup_label_start("", &lsn, &tli));
}
END_TEST

Suite *suite_lease(void)
{
    Suite *s = suite_create("lease");
    TCase *tc = tcase_create("lease");
    tcase_add_test(tc, path_names_one_object_per_data_directory);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, hostile_content_is_refused);
    tcase_add_test(tc, list_judges_every_object);
    tcase_add_test(tc, pg_control_parse_checks_version_and_crc);
    tcase_add_test(tc, backup_label_start);
    suite_add_tcase(s, tc);
    return s;
}
