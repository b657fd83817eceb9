/*
 * test_walhdr.c - WAL long page header parsing (src/pg/walhdr.c). Headers are built in
 * memory; the "real" cases carry the bytes of segments written by PostgreSQL 15's initdb.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "pgpitr/pg/walhdr.h"

/* First 40 bytes of 000000010000000000000001 after `initdb --wal-segsize=16` (PG 15.x,
 * system identifier 7710826487227367713 per pg_controldata). */
static const unsigned char real16[40] = {
    0x10, 0xd1, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x41, 0xdc, 0x1f,
    0xd6, 0x5b, 0x02, 0x6b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x20, 0x00, 0x00,
};

/* First 40 bytes of 000000010000000000000006 after `initdb --wal-segsize=1` (PG 15.x,
 * system identifier 7710826454443474758): info 0x0007 (contrecord, long, bkp removable),
 * rem_len 0xD9. */
static const unsigned char real1[40] = {
    0x10, 0xd1, 0x07, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xd9, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x46, 0xbf, 0xc9, 0x7d,
    0xce, 0x5b, 0x02, 0x6b, 0x00, 0x00, 0x10, 0x00, 0x00, 0x20, 0x00, 0x00,
};

typedef struct {
    uint16_t magic, info;
    uint32_t tli;
    uint64_t pageaddr;
    uint32_t rem_len;
    uint64_t sysid;
    uint32_t segsize, blcksz;
} Fields;

static Fields good_fields(void)
{
    return (Fields){.magic = 0xD110, .info = 0x0002, .tli = 1, .pageaddr = UINT64_C(0x3000000),
                    .rem_len = 0, .sysid = UINT64_C(7710826487227367713),
                    .segsize = 16u << 20, .blcksz = 8192};
}

/* Little-endian serialisation, independent of the code under test. */
static void put(unsigned char *b, size_t off, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[off + i] = (unsigned char)(v >> (8 * i));
}

static void build(const Fields *f, unsigned char b[40])
{
    memset(b, 0xEE, 40); /* padding is ignored */
    put(b, 0, f->magic, 2);
    put(b, 2, f->info, 2);
    put(b, 4, f->tli, 4);
    put(b, 8, f->pageaddr, 8);
    put(b, 16, f->rem_len, 4);
    put(b, 24, f->sysid, 8);
    put(b, 32, f->segsize, 4);
    put(b, 36, f->blcksz, 4);
}

static void expect_corrupt(const Fields *f, const char *needle)
{
    unsigned char b[40];
    build(f, b);
    PgWalHeader h = {.pg_major = 99};
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(pg_walhdr_parse(b, sizeof b, &h, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(err.code, PGP_ERR_CORRUPT);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", err.msg,
                  needle);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    ck_assert_int_eq(h.pg_major, 99); /* out untouched on failure */
}

START_TEST(real_16mib)
{
    PgWalHeader h;
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(pg_walhdr_parse(real16, sizeof real16, &h, &err), 0);
    ck_assert_uint_eq(h.magic, 0xD110);
    ck_assert_int_eq(h.pg_major, 15);
    ck_assert_uint_eq(h.tli, 1);
    ck_assert_uint_eq(h.pageaddr, UINT64_C(0x1000000));
    ck_assert_uint_eq(h.system_identifier, UINT64_C(7710826487227367713));
    ck_assert_uint_eq(h.segsize, 16u << 20);
    ck_assert_uint_eq(h.blcksz, 8192);
}
END_TEST

START_TEST(real_1mib)
{
    PgWalHeader h;
    ck_assert_int_eq(pg_walhdr_parse(real1, sizeof real1, &h, NULL), 0);
    ck_assert_int_eq(h.pg_major, 15);
    ck_assert_uint_eq(h.tli, 1);
    ck_assert_uint_eq(h.pageaddr, UINT64_C(0x600000));
    ck_assert_uint_eq(h.system_identifier, UINT64_C(7710826454443474758));
    ck_assert_uint_eq(h.segsize, 1u << 20);
    ck_assert_uint_eq(h.blcksz, 8192);
}
END_TEST

START_TEST(unaligned_and_longer_buffer)
{
    /* A whole page at an odd address: only the first 40 bytes matter. */
    static unsigned char page[8192 + 1];
    memset(page, 0x5A, sizeof page);
    memcpy(page + 1, real16, sizeof real16);
    PgWalHeader h;
    ck_assert_int_eq(pg_walhdr_parse(page + 1, 8192, &h, NULL), 0);
    ck_assert_uint_eq(h.system_identifier, UINT64_C(7710826487227367713));
    ck_assert_uint_eq(h.pageaddr, UINT64_C(0x1000000));
}
END_TEST

START_TEST(every_known_version)
{
    static const struct {
        uint16_t magic;
        int major;
    } v[] = {{0xD106, 13}, {0xD10D, 14}, {0xD110, 15}, {0xD113, 16}, {0xD116, 17}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        Fields f = good_fields();
        f.magic = v[i].magic;
        unsigned char b[40];
        build(&f, b);
        PgWalHeader h;
        ck_assert_int_eq(pg_walhdr_parse(b, sizeof b, &h, NULL), 0);
        ck_assert_int_eq(h.pg_major, v[i].major);
        ck_assert_uint_eq(h.magic, v[i].magic);
    }
}
END_TEST

START_TEST(synthetic_fields)
{
    Fields f = good_fields();
    f.tli = 0x1234ABCD;
    f.pageaddr = UINT64_C(0xFFFFFFFFC0000000); /* last 1 GiB segment */
    f.segsize = 1u << 30;
    f.blcksz = 65536;
    f.sysid = UINT64_C(0x0123456789ABCDEF);
    f.info = 0x000F; /* every defined flag */
    unsigned char b[40];
    build(&f, b);
    PgWalHeader h;
    ck_assert_int_eq(pg_walhdr_parse(b, sizeof b, &h, NULL), 0);
    ck_assert_uint_eq(h.tli, 0x1234ABCD);
    ck_assert_uint_eq(h.pageaddr, UINT64_C(0xFFFFFFFFC0000000));
    ck_assert_uint_eq(h.segsize, 1u << 30);
    ck_assert_uint_eq(h.blcksz, 65536);
    ck_assert_uint_eq(h.system_identifier, UINT64_C(0x0123456789ABCDEF));

    f = good_fields();
    f.blcksz = 1024;
    f.segsize = 1u << 20;
    f.pageaddr = 0;
    build(&f, b);
    ck_assert_int_eq(pg_walhdr_parse(b, sizeof b, &h, NULL), 0);
    ck_assert_uint_eq(h.blcksz, 1024);
    ck_assert_uint_eq(h.pageaddr, 0);
}
END_TEST

START_TEST(reject_short)
{
    PgpErr err;
    pgp_err_clear(&err);
    PgWalHeader h;
    ck_assert_int_eq(pg_walhdr_parse(real16, 39, &h, &err), PGP_ERR_CORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "too short"));
    ck_assert_ptr_nonnull(strstr(err.msg, "39"));
    ck_assert_int_eq(pg_walhdr_parse(real16, 0, &h, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(pg_walhdr_parse(NULL, 40, &h, &err), PGP_ERR_CORRUPT);
    ck_assert_int_eq(pg_walhdr_parse(real16, 40, &h, NULL), 0);
    ck_assert_int_eq(pg_walhdr_parse(real16, 40, NULL, NULL), 0); /* validate only */
}
END_TEST

START_TEST(reject_magic)
{
    const uint16_t bad[] = {0x0000, 0xFFFF, 0xD101 /* PG 12 */, 0xD118 /* PG 18 */, 0x10D1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Fields f = good_fields();
        f.magic = bad[i];
        expect_corrupt(&f, "magic");
    }
    /* Big-endian bytes of a good header are not accepted either. */
    unsigned char b[40];
    memcpy(b, real16, sizeof b);
    b[0] = 0xD1;
    b[1] = 0x10;
    ck_assert_int_eq(pg_walhdr_parse(b, sizeof b, NULL, NULL), PGP_ERR_CORRUPT);
    /* All zeroes: a pre-allocated, never written segment. */
    memset(b, 0, sizeof b);
    ck_assert_int_eq(pg_walhdr_parse(b, sizeof b, NULL, NULL), PGP_ERR_CORRUPT);
}
END_TEST

START_TEST(reject_info)
{
    Fields f = good_fields();
    f.info = 0x0000;
    expect_corrupt(&f, "long header");
    f.info = 0x0005; /* contrecord + bkp removable, no long header: a short page */
    expect_corrupt(&f, "long header");
    f.info = 0x0012; /* undefined bit */
    expect_corrupt(&f, "info bits");
    f.info = 0x8002;
    expect_corrupt(&f, "info bits");
}
END_TEST

START_TEST(reject_tli)
{
    Fields f = good_fields();
    f.tli = 0;
    expect_corrupt(&f, "timeline 0");
}
END_TEST

START_TEST(reject_segsize)
{
    const uint32_t bad[] = {0, 8192, (1u << 20) - 1, (1u << 20) / 2, 3u << 20, (16u << 20) + 1,
                            1u << 31, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Fields f = good_fields();
        f.segsize = bad[i];
        f.pageaddr = 0; /* aligned for any size */
        expect_corrupt(&f, "segment size");
    }
}
END_TEST

START_TEST(reject_blcksz)
{
    const uint32_t bad[] = {0, 1, 512, 1000, 3000, 8191, 8193, 12288, 131072, 1u << 20,
                            UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Fields f = good_fields();
        f.blcksz = bad[i];
        expect_corrupt(&f, "block size");
    }
}
END_TEST

START_TEST(reject_pageaddr)
{
    Fields f = good_fields();
    f.pageaddr = UINT64_C(0x1000028); /* inside a 16 MiB segment */
    expect_corrupt(&f, "not a multiple of the segment size");
    f.pageaddr = UINT64_C(0x100000); /* 1 MiB aligned, not 16 MiB */
    expect_corrupt(&f, "0/100000");
    f.pageaddr = UINT64_C(0x2000); /* a later page of the segment */
    expect_corrupt(&f, "not a multiple");
    f.segsize = 1u << 30;
    f.pageaddr = UINT64_C(0x20000000);
    expect_corrupt(&f, "not a multiple");
}
END_TEST

Suite *suite_walhdr(void)
{
    Suite *s = suite_create("walhdr");
    TCase *tc = tcase_create("valid");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, real_16mib);
    tcase_add_test(tc, real_1mib);
    tcase_add_test(tc, unaligned_and_longer_buffer);
    tcase_add_test(tc, every_known_version);
    tcase_add_test(tc, synthetic_fields);
    suite_add_tcase(s, tc);

    tc = tcase_create("reject");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, reject_short);
    tcase_add_test(tc, reject_magic);
    tcase_add_test(tc, reject_info);
    tcase_add_test(tc, reject_tli);
    tcase_add_test(tc, reject_segsize);
    tcase_add_test(tc, reject_blcksz);
    tcase_add_test(tc, reject_pageaddr);
    suite_add_tcase(s, tc);
    return s;
}
