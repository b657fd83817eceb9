/*
 * test_walname.c - WAL file names, segment numbers, next segment and LSNs (src/pg/walname.c).
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "pgpitr/pg/walname.h"

#define MIB (UINT32_C(1) << 20)
#define GIB (UINT32_C(1) << 30)

/* Parse `name`, expect failure with INVALID_NAME, and check the message quotes it safely. */
static void expect_invalid(const char *name)
{
    PgpErr err;
    pgp_err_clear(&err);
    PgWalName n = {.kind = PG_WALFILE_HISTORY, .tli = 77};
    int rc = pg_walname_parse(name, &n, &err);
    ck_assert_msg(rc == PGP_ERR_INVALID_NAME, "\"%s\" accepted (rc %d)", name, rc);
    ck_assert_int_eq(err.code, PGP_ERR_INVALID_NAME);
    ck_assert_ptr_nonnull(strstr(err.msg, "invalid WAL file name \""));
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    ck_assert_uint_eq(n.tli, 77); /* out untouched on failure */
}

static PgWalName expect_valid(const char *name, PgWalFileKind kind)
{
    PgpErr err;
    pgp_err_clear(&err);
    PgWalName n;
    memset(&n, 0xAB, sizeof n);
    int rc = pg_walname_parse(name, &n, &err);
    ck_assert_msg(rc == 0, "\"%s\" rejected: %s", name, err.msg);
    ck_assert_int_eq(n.kind, kind);
    return n;
}

START_TEST(parse_segment)
{
    PgWalName n = expect_valid("0000000A000000FF0000003C", PG_WALFILE_SEGMENT);
    ck_assert_uint_eq(n.tli, 10);
    ck_assert_uint_eq(n.log, 0xFF);
    ck_assert_uint_eq(n.seg, 0x3C);
    n = expect_valid("FFFFFFFFFFFFFFFFFFFFFFFF", PG_WALFILE_SEGMENT);
    ck_assert_uint_eq(n.tli, 0xFFFFFFFFu);
    ck_assert_uint_eq(n.log, 0xFFFFFFFFu);
    ck_assert_uint_eq(n.seg, 0xFFFFFFFFu);
    ck_assert_str_eq(pg_walfile_kind_name(n.kind), "segment");
    /* Validation only. */
    ck_assert_int_eq(pg_walname_parse("000000010000000000000001", NULL, NULL), 0);
}
END_TEST

START_TEST(parse_partial)
{
    PgWalName n = expect_valid("000000020000000100000002.partial", PG_WALFILE_PARTIAL);
    ck_assert_uint_eq(n.tli, 2);
    ck_assert_uint_eq(n.log, 1);
    ck_assert_uint_eq(n.seg, 2);
    ck_assert_str_eq(pg_walfile_kind_name(n.kind), "partial");
}
END_TEST

START_TEST(parse_backup)
{
    PgWalName n = expect_valid("000000010000000000000002.00000028.backup", PG_WALFILE_BACKUP);
    ck_assert_uint_eq(n.tli, 1);
    ck_assert_uint_eq(n.log, 0);
    ck_assert_uint_eq(n.seg, 2);
    ck_assert_uint_eq(n.backup_offset, 0x28);
    n = expect_valid("00000003000000AB000000CD.00FEDC98.backup", PG_WALFILE_BACKUP);
    ck_assert_uint_eq(n.backup_offset, 0x00FEDC98);
    ck_assert_uint_eq(n.log, 0xAB);
    ck_assert_str_eq(pg_walfile_kind_name(n.kind), "backup");
}
END_TEST

START_TEST(parse_history)
{
    PgWalName n = expect_valid("0000001F.history", PG_WALFILE_HISTORY);
    ck_assert_uint_eq(n.tli, 0x1F);
    ck_assert_str_eq(pg_walfile_kind_name(n.kind), "history");
}
END_TEST

START_TEST(parse_rejects)
{
    static const char *const bad[] = {
        "../x",
        "",
        "garbage",
        "00000001000000000000001",            /* 23 */
        "0000000100000000000000011",          /* 25 */
        "00000001000000000000000a",           /* lowercase hex */
        "0000000a.history",
        "000000000000000000000001",           /* timeline 0 */
        "00000000.history",
        "000000000000000000000001.partial",
        "00000000000000000000000100.00000028.backup",
        "00000001.history.x",
        "000000010000000000000001.partial.x",
        "000000010000000000000001.0000028.backup",   /* offset 7 hex */
        "000000010000000000000001.000000028.backup", /* offset 9 hex */
        "000000010000000000000001.0000002a.backup",  /* lowercase offset */
        "000000010000000000000001.00000028.backup.x",
        "000000010000000000000001.00000028",
        "000000010000000000000001.backup",
        "000000010000000000000001.partia",
        "000000010000000000000001.PARTIAL",
        "../000000010000000000000001",
        "000000010000000000000001/",
        "pg_wal/000000010000000000000001",
        "/000000010000000000000001",
        " 000000010000000000000001",
        "000000010000000000000001 ",
        "000000010000000000000001\n",
        "00000001",
        ".history",
        "0000001.history",
        "000000001.history",
        "000000010000000000000001.history",
        "000000010000000000000001.00000028.backup\x01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_invalid(bad[i]);
    ck_assert_int_eq(pg_walname_parse(NULL, NULL, NULL), PGP_ERR_INVALID_NAME);
}
END_TEST

START_TEST(parse_message_escaped_and_bounded)
{
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(pg_walname_parse("../x", NULL, &err), PGP_ERR_INVALID_NAME);
    ck_assert_ptr_nonnull(strstr(err.msg, "\"../x\""));
    ck_assert_str_ne(err.hint, "");

    ck_assert_int_eq(pg_walname_parse("000000000000000000000001", NULL, &err),
                     PGP_ERR_INVALID_NAME);
    ck_assert_ptr_nonnull(strstr(err.msg, "timeline 0"));

    /* Control bytes, quotes and backslashes are escaped: one line, nothing raw. */
    ck_assert_int_eq(pg_walname_parse("a\nb\"c\\d\x7f\xff", NULL, &err), PGP_ERR_INVALID_NAME);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    ck_assert_ptr_nonnull(strstr(err.msg, "\"a\\x0Ab\\\"c\\\\d\\x7F\\xFF\""));

    /* A huge name is cut. */
    char big[5000];
    memset(big, '\x01', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(pg_walname_parse(big, NULL, &err), PGP_ERR_INVALID_NAME);
    ck_assert_uint_lt(strlen(err.msg), 500);
    ck_assert_ptr_nonnull(strstr(err.msg, "...\""));
    memset(big, 'A', sizeof big - 1);
    ck_assert_int_eq(pg_walname_parse(big, NULL, &err), PGP_ERR_INVALID_NAME);
    ck_assert_uint_lt(strlen(err.msg), 500);
    ck_assert_ptr_nonnull(strstr(err.msg, "too long"));
}
END_TEST

START_TEST(segsize_and_segs_per_id)
{
    ck_assert(pg_wal_segsize_valid(MIB));
    ck_assert(pg_wal_segsize_valid(16 * MIB));
    ck_assert(pg_wal_segsize_valid(GIB));
    ck_assert(!pg_wal_segsize_valid(0));
    ck_assert(!pg_wal_segsize_valid(MIB / 2));
    ck_assert(!pg_wal_segsize_valid(2 * (uint64_t)GIB));
    ck_assert(!pg_wal_segsize_valid(3 * MIB));
    ck_assert(!pg_wal_segsize_valid(16 * MIB + 1));
    ck_assert(!pg_wal_segsize_valid(UINT64_C(1) << 40));

    ck_assert_uint_eq(pg_wal_segs_per_id(MIB), 0x1000);
    ck_assert_uint_eq(pg_wal_segs_per_id(16 * MIB), 0x100);
    ck_assert_uint_eq(pg_wal_segs_per_id(64 * MIB), 0x40);
    ck_assert_uint_eq(pg_wal_segs_per_id(GIB), 4);
    ck_assert_uint_eq(pg_wal_segs_per_id(0), 0);
    ck_assert_uint_eq(pg_wal_segs_per_id(3 * MIB), 0);
}
END_TEST

static uint64_t segno_of(const char *name, uint32_t segsize, bool *ok)
{
    PgWalName n;
    ck_assert_int_eq(pg_walname_parse(name, &n, NULL), 0);
    uint64_t s = UINT64_MAX;
    *ok = pg_walname_segno(&n, segsize, &s);
    return s;
}

START_TEST(segno_math)
{
    bool ok;
    ck_assert_uint_eq(segno_of("000000010000000000000001", 16 * MIB, &ok), 1);
    ck_assert(ok);
    ck_assert_uint_eq(segno_of("0000000100000002000000FF", 16 * MIB, &ok), 2 * 0x100 + 0xFF);
    ck_assert(ok);
    ck_assert_uint_eq(segno_of("000000010000000300000FFF", MIB, &ok), 3 * 0x1000 + 0xFFF);
    ck_assert(ok);
    ck_assert_uint_eq(segno_of("000000010000000500000003", GIB, &ok), 5 * 4 + 3);
    ck_assert(ok);
    ck_assert_uint_eq(segno_of("00000001FFFFFFFF000000FF", 16 * MIB, &ok),
                      UINT64_C(0xFFFFFFFF) * 0x100 + 0xFF);
    ck_assert(ok);
    /* Partial and backup names carry a segment too. */
    ck_assert_uint_eq(segno_of("000000020000000100000002.partial", 16 * MIB, &ok), 0x102);
    ck_assert(ok);
    ck_assert_uint_eq(segno_of("000000010000000000000002.00000028.backup", 16 * MIB, &ok), 2);
    ck_assert(ok);

    /* seg part out of range for the segment size. */
    segno_of("000000010000000000000100", 16 * MIB, &ok);
    ck_assert(!ok);
    segno_of("000000010000000000001000", MIB, &ok);
    ck_assert(!ok);
    segno_of("000000010000000000000004", GIB, &ok);
    ck_assert(!ok);
    segno_of("000000010000000000000100", MIB, &ok); /* fine with 1 MiB */
    ck_assert(ok);
    /* Invalid segment size, history names. */
    segno_of("000000010000000000000001", 3 * MIB, &ok);
    ck_assert(!ok);
    segno_of("00000001.history", 16 * MIB, &ok);
    ck_assert(!ok);
}
END_TEST

START_TEST(format_names)
{
    char out[PG_WALNAME_SEG_LEN + 1];
    pg_walname_format(1, 1, 16 * MIB, out);
    ck_assert_str_eq(out, "000000010000000000000001");
    pg_walname_format(0x1A, 0x2FF, 16 * MIB, out);
    ck_assert_str_eq(out, "0000001A00000002000000FF");
    pg_walname_format(3, 0x3FFF, MIB, out);
    ck_assert_str_eq(out, "000000030000000300000FFF");
    pg_walname_format(1, 7, GIB, out);
    ck_assert_str_eq(out, "000000010000000100000003");
    pg_walname_format(1, 1, 5 * MIB, out);
    ck_assert_str_eq(out, "");

    /* format(segno(name)) == name. */
    const char *names[] = {"00000005000000AB000000CD", "FFFFFFFFFFFFFFFF000000FF"};
    for (size_t i = 0; i < 2; i++) {
        bool ok;
        uint64_t s = segno_of(names[i], 16 * MIB, &ok);
        ck_assert(ok);
        PgWalName n;
        pg_walname_parse(names[i], &n, NULL);
        pg_walname_format(n.tli, s, 16 * MIB, out);
        ck_assert_str_eq(out, names[i]);
    }
}
END_TEST

static void expect_next(const char *name, uint32_t segsize, const char *want)
{
    char out[PG_WALNAME_SEG_LEN + 1] = "";
    PgpErr err;
    pgp_err_clear(&err);
    int rc = pg_walname_next(name, segsize, out, &err);
    ck_assert_msg(rc == 0, "next(%s) failed: %s", name, err.msg);
    ck_assert_str_eq(out, want);
}

static void expect_next_fail(const char *name, uint32_t segsize, PgpErrCode code)
{
    char out[PG_WALNAME_SEG_LEN + 1] = "unchanged";
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(pg_walname_next(name, segsize, out, &err), code);
    ck_assert_int_eq(err.code, code);
    ck_assert_str_eq(out, "unchanged");
}

START_TEST(next_segment)
{
    /* 16 MiB: seg wraps after FF into the next log. */
    expect_next("000000010000000000000001", 16 * MIB, "000000010000000000000002");
    expect_next("0000000100000000000000FE", 16 * MIB, "0000000100000000000000FF");
    expect_next("0000000100000000000000FF", 16 * MIB, "000000010000000100000000");
    expect_next("00000002000000AF000000FF", 16 * MIB, "00000002000000B000000000");
    /* 1 MiB: seg goes to FFF. */
    expect_next("0000000100000000000000FF", MIB, "000000010000000000000100");
    expect_next("000000010000000000000FFF", MIB, "000000010000000100000000");
    /* 1 GiB: seg goes to 3. */
    expect_next("000000010000000000000002", GIB, "000000010000000000000003");
    expect_next("000000010000000000000003", GIB, "000000010000000100000000");
    /* 64 MiB: seg goes to 3F. */
    expect_next("00000001000000000000003F", 64 * MIB, "000000010000000100000000");
    /* Timeline kept. */
    expect_next("0000000B0000000000000009", 16 * MIB, "0000000B000000000000000A");
    /* The log part's own wrap. */
    expect_next("00000001FFFFFFFE000000FF", 16 * MIB, "00000001FFFFFFFF00000000");
}
END_TEST

START_TEST(next_rejects)
{
    expect_next_fail("000000010000000000000001.partial", 16 * MIB, PGP_ERR_INVALID_NAME);
    expect_next_fail("000000010000000000000001.00000028.backup", 16 * MIB,
                     PGP_ERR_INVALID_NAME);
    expect_next_fail("00000001.history", 16 * MIB, PGP_ERR_INVALID_NAME);
    expect_next_fail("../x", 16 * MIB, PGP_ERR_INVALID_NAME);
    expect_next_fail("00000001000000000000000a", 16 * MIB, PGP_ERR_INVALID_NAME);
    /* seg part beyond the segment size's range. */
    expect_next_fail("000000010000000000000100", 16 * MIB, PGP_ERR_INVALID_NAME);
    expect_next_fail("000000010000000000000004", GIB, PGP_ERR_INVALID_NAME);
    expect_next_fail("000000010000000000001000", MIB, PGP_ERR_INVALID_NAME);
    /* Nothing after the last segment of the 64-bit WAL space. */
    expect_next_fail("00000001FFFFFFFF000000FF", 16 * MIB, PGP_ERR_INVALID_NAME);
    expect_next_fail("00000001FFFFFFFF00000FFF", MIB, PGP_ERR_INVALID_NAME);
    /* Invalid segment size is a caller bug. */
    expect_next_fail("000000010000000000000001", 0, PGP_ERR_INTERNAL);
    expect_next_fail("000000010000000000000001", 3 * MIB, PGP_ERR_INTERNAL);
    expect_next_fail("000000010000000000000001", 2 * GIB, PGP_ERR_INTERNAL);
}
END_TEST

static uint64_t lsn_ok(const char *s)
{
    uint64_t v = 0xDEAD;
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_msg(pg_lsn_parse(s, &v, &err) == 0, "\"%s\" rejected: %s", s, err.msg);
    return v;
}

START_TEST(lsn_parse_format)
{
    ck_assert_uint_eq(lsn_ok("0/0"), 0);
    ck_assert_uint_eq(lsn_ok("0/16B3748"), 0x16B3748);
    ck_assert_uint_eq(lsn_ok("0/16b3748"), 0x16B3748);
    ck_assert_uint_eq(lsn_ok("1/0"), UINT64_C(0x100000000));
    ck_assert_uint_eq(lsn_ok("Ab/cD"), UINT64_C(0xAB000000CD));
    ck_assert_uint_eq(lsn_ok("FFFFFFFF/FFFFFFFF"), UINT64_MAX);
    ck_assert_uint_eq(lsn_ok("00000000/00000001"), 1);

    char out[20];
    pg_lsn_format(0x16B3748, out);
    ck_assert_str_eq(out, "0/16B3748");
    pg_lsn_format(UINT64_MAX, out);
    ck_assert_str_eq(out, "FFFFFFFF/FFFFFFFF");
    pg_lsn_format(0, out);
    ck_assert_str_eq(out, "0/0");
    pg_lsn_format(UINT64_C(0x2A00000000), out);
    ck_assert_str_eq(out, "2A/0");

    /* Round trip, including lowercase input normalised to uppercase. */
    const uint64_t vals[] = {0, 1, 0x1500718, UINT64_C(0x123456789ABCDEF0), UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        pg_lsn_format(vals[i], out);
        ck_assert_uint_eq(lsn_ok(out), vals[i]);
    }
    pg_lsn_format(lsn_ok("abc/def0"), out);
    ck_assert_str_eq(out, "ABC/DEF0");
}
END_TEST

START_TEST(lsn_rejects)
{
    static const char *const bad[] = {
        "0/", "/0", "G/0", "0/G", "1/2/3", "123456789/0", "0/123456789", "", "/", "0",
        " 0/0", "0/0 ", "0 /0", "0/ 0", "+1/0", "-1/0", "0x1/0", "1/0\n", "0//0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t v = 0xDEAD;
        PgpErr err;
        pgp_err_clear(&err);
        ck_assert_msg(pg_lsn_parse(bad[i], &v, &err) == PGP_ERR_USAGE, "\"%s\" accepted",
                      bad[i]);
        ck_assert_int_eq(err.code, PGP_ERR_USAGE);
        ck_assert_ptr_nonnull(strstr(err.msg, "invalid LSN \""));
        ck_assert_ptr_null(strchr(err.msg, '\n'));
        ck_assert_uint_eq(v, 0xDEAD);
    }
    ck_assert_int_eq(pg_lsn_parse(NULL, NULL, NULL), PGP_ERR_USAGE);
}
END_TEST

START_TEST(lsn_segno)
{
    ck_assert_uint_eq(pg_lsn_segno(0x1500718, 16 * MIB), 1);
    ck_assert_uint_eq(pg_lsn_segno(0x600768, MIB), 6);
    ck_assert_uint_eq(pg_lsn_segno(UINT64_C(0x100000000), 16 * MIB), 0x100);
    ck_assert_uint_eq(pg_lsn_segno(UINT64_C(0x1FFFFFFFF), GIB), 7);
    ck_assert_uint_eq(pg_lsn_segno(UINT64_MAX, 16 * MIB), (UINT64_MAX >> 24));
    ck_assert_uint_eq(pg_lsn_segno(0x1500718, 0), 0);

    /* LSN -> segment name, as PostgreSQL names the file holding it. */
    char out[PG_WALNAME_SEG_LEN + 1];
    pg_walname_format(1, pg_lsn_segno(lsn_ok("2/FF000028"), 16 * MIB), 16 * MIB, out);
    ck_assert_str_eq(out, "0000000100000002000000FF");
    pg_walname_format(1, pg_lsn_segno(lsn_ok("0/600768"), MIB), MIB, out);
    ck_assert_str_eq(out, "000000010000000000000006");
}
END_TEST

Suite *suite_walname(void)
{
    Suite *s = suite_create("walname");
    TCase *tc = tcase_create("names");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, parse_segment);
    tcase_add_test(tc, parse_partial);
    tcase_add_test(tc, parse_backup);
    tcase_add_test(tc, parse_history);
    tcase_add_test(tc, parse_rejects);
    tcase_add_test(tc, parse_message_escaped_and_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("segments");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, segsize_and_segs_per_id);
    tcase_add_test(tc, segno_math);
    tcase_add_test(tc, format_names);
    tcase_add_test(tc, next_segment);
    tcase_add_test(tc, next_rejects);
    suite_add_tcase(s, tc);

    tc = tcase_create("lsn");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, lsn_parse_format);
    tcase_add_test(tc, lsn_rejects);
    tcase_add_test(tc, lsn_segno);
    suite_add_tcase(s, tc);
    return s;
}
