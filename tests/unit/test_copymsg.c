/*
 * test_copymsg.c - pg_copymsg_parse (src/pg/copymsg.c): every BASE_BACKUP CopyData kind,
 * and truncated, malformed and oversized messages. Buffers are malloc'd at their exact
 * length so that the ASan build catches any read past the end.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/pg/pgconn.h"

/* A heap copy of exactly len bytes (ASan-visible bounds); free with free(). */
static uint8_t *dup_exact(const void *src, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    if (len)
        memcpy(p, src, len);
    return p;
}

static PgCopyMsg parse_ok(const uint8_t *buf, size_t len)
{
    PgpErr err;
    pgp_err_clear(&err);
    PgCopyMsg m;
    memset(&m, 0xAB, sizeof m);
    int rc = pg_copymsg_parse(buf, len, &m, &err);
    ck_assert_msg(rc == 0, "rejected: %s", err.msg);
    ck_assert_int_eq(err.code, PGP_ERR_OK);
    return m;
}

/* Expects PGP_ERR_PG with a one-line "malformed" message naming `needle`, out untouched. */
static void parse_bad(const void *src, size_t len, const char *needle)
{
    uint8_t *buf = dup_exact(src, len);
    PgpErr err;
    pgp_err_clear(&err);
    PgCopyMsg m;
    memset(&m, 0x5A, sizeof m);
    PgCopyMsg before = m;
    int rc = pg_copymsg_parse(buf, len, &m, &err);
    ck_assert_int_eq(rc, PGP_ERR_PG);
    ck_assert_int_eq(err.code, PGP_ERR_PG);
    ck_assert_ptr_nonnull(strstr(err.msg, "malformed"));
    if (needle != NULL)
        ck_assert_msg(strstr(err.msg, needle) != NULL, "\"%s\" not in \"%s\"", needle, err.msg);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    ck_assert_int_eq(memcmp(&m, &before, sizeof m), 0);
    /* err may be NULL: same verdict, no crash. */
    ck_assert_int_eq(pg_copymsg_parse(buf, len, NULL, NULL), PGP_ERR_PG);
    free(buf);
}

START_TEST(new_archive_base)
{
    static const char raw[] = "nbase.tar\0"; /* + the literal's own NUL = empty location */
    uint8_t *buf = dup_exact(raw, sizeof raw);
    PgCopyMsg m = parse_ok(buf, sizeof raw);
    ck_assert_int_eq(m.kind, PG_COPYMSG_NEW_ARCHIVE);
    ck_assert_str_eq(m.archive_name, "base.tar");
    ck_assert_str_eq(m.tablespace_location, "");
    ck_assert_ptr_eq(m.archive_name, (const char *)buf + 1);
    ck_assert_ptr_eq(m.tablespace_location, (const char *)buf + 10);
    ck_assert_ptr_null(m.data);
    ck_assert_uint_eq(m.len, 0);
    ck_assert_uint_eq(m.progress, 0);
    free(buf);
}
END_TEST

START_TEST(new_archive_tablespace)
{
    static const char raw[] = "n16384.tar\0/srv/pg/ts one";
    uint8_t *buf = dup_exact(raw, sizeof raw);
    PgCopyMsg m = parse_ok(buf, sizeof raw);
    ck_assert_int_eq(m.kind, PG_COPYMSG_NEW_ARCHIVE);
    ck_assert_str_eq(m.archive_name, "16384.tar");
    ck_assert_str_eq(m.tablespace_location, "/srv/pg/ts one");
    free(buf);
    /* Compressed archive names are names too. */
    static const char gz[] = "nbase.tar.gz\0";
    buf = dup_exact(gz, sizeof gz);
    ck_assert_str_eq(parse_ok(buf, sizeof gz).archive_name, "base.tar.gz");
    free(buf);
}
END_TEST

START_TEST(data_messages)
{
    static const uint8_t raw[] = {'d', 0x00, 0xFF, 'n', '\0', 'p'};
    uint8_t *buf = dup_exact(raw, sizeof raw);
    PgCopyMsg m = parse_ok(buf, sizeof raw);
    ck_assert_int_eq(m.kind, PG_COPYMSG_DATA);
    ck_assert_ptr_eq(m.data, buf + 1);
    ck_assert_uint_eq(m.len, 5);
    ck_assert_ptr_null(m.archive_name);
    ck_assert_ptr_null(m.tablespace_location);
    free(buf);

    buf = dup_exact("d", 1); /* no payload: legal, zero bytes */
    m = parse_ok(buf, 1);
    ck_assert_int_eq(m.kind, PG_COPYMSG_DATA);
    ck_assert_uint_eq(m.len, 0);
    free(buf);
}
END_TEST

START_TEST(data_large)
{
    size_t len = (size_t)16 << 20;
    uint8_t *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    memset(buf, 0, len);
    buf[0] = 'd';
    PgCopyMsg m = parse_ok(buf, len);
    ck_assert_int_eq(m.kind, PG_COPYMSG_DATA);
    ck_assert_uint_eq(m.len, len - 1);
    free(buf);
}
END_TEST

START_TEST(progress_messages)
{
    static const uint8_t raw[] = {'p', 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    uint8_t *buf = dup_exact(raw, sizeof raw);
    PgCopyMsg m = parse_ok(buf, sizeof raw);
    ck_assert_int_eq(m.kind, PG_COPYMSG_PROGRESS);
    ck_assert_uint_eq(m.progress, UINT64_C(0x0102030405060708)); /* network byte order */
    ck_assert_ptr_null(m.data);
    free(buf);

    static const uint8_t zero[9] = {'p'};
    buf = dup_exact(zero, sizeof zero);
    ck_assert_uint_eq(parse_ok(buf, sizeof zero).progress, 0);
    free(buf);

    uint8_t max[9];
    max[0] = 'p';
    memset(max + 1, 0xFF, 8);
    buf = dup_exact(max, sizeof max);
    ck_assert_uint_eq(parse_ok(buf, sizeof max).progress, UINT64_MAX);
    free(buf);
}
END_TEST

START_TEST(manifest_message)
{
    uint8_t *buf = dup_exact("m", 1);
    PgCopyMsg m = parse_ok(buf, 1);
    ck_assert_int_eq(m.kind, PG_COPYMSG_MANIFEST);
    ck_assert_ptr_null(m.data);
    ck_assert_uint_eq(m.len, 0);
    free(buf);
}
END_TEST

START_TEST(validate_only)
{
    static const char raw[] = "nbase.tar\0";
    uint8_t *buf = dup_exact(raw, sizeof raw);
    ck_assert_int_eq(pg_copymsg_parse(buf, sizeof raw, NULL, NULL), 0);
    free(buf);
}
END_TEST

START_TEST(empty_messages)
{
    PgpErr err;
    pgp_err_clear(&err);
    PgCopyMsg m;
    ck_assert_int_eq(pg_copymsg_parse(NULL, 0, &m, &err), PGP_ERR_PG);
    ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
    ck_assert_int_eq(pg_copymsg_parse(NULL, 10, &m, &err), PGP_ERR_PG);
    parse_bad("", 0, "empty");
}
END_TEST

START_TEST(unknown_types)
{
    for (int t = 0; t < 256; t++) {
        if (t == 'n' || t == 'd' || t == 'p' || t == 'm')
            continue;
        uint8_t one[1] = {(uint8_t)t};
        parse_bad(one, 1, "unknown type byte");
        uint8_t more[9] = {(uint8_t)t, 1, 2, 3, 4, 5, 6, 7, 8};
        parse_bad(more, sizeof more, "unknown type byte");
    }
    /* Type letters are case-sensitive. */
    parse_bad("N", 1, "0x4E");
    parse_bad("Dabc", 4, "0x44");
}
END_TEST

START_TEST(new_archive_truncated)
{
    parse_bad("n", 1, "archive name is not terminated");
    parse_bad("nbase.tar", 9, "archive name is not terminated");
    parse_bad("nbase.tar\0", 10, "tablespace location is not terminated");
    parse_bad("nbase.tar\0/srv/ts", 17, "tablespace location is not terminated");
}
END_TEST

START_TEST(new_archive_malformed)
{
    static const char trailing[] = "nbase.tar\0\0x";
    parse_bad(trailing, sizeof trailing - 1, "unexpected bytes");
    static const char extra_nul[] = "nbase.tar\0/ts\0";
    parse_bad(extra_nul, sizeof extra_nul, "unexpected bytes");
    static const char empty_name[] = "n\0";
    parse_bad(empty_name, sizeof empty_name, "empty archive name");
    static const char slash[] = "n../etc/passwd\0";
    parse_bad(slash, sizeof slash, "path separator");
    static const char abs_path[] = "n/base.tar\0";
    parse_bad(abs_path, sizeof abs_path, "path separator");
    static const char bslash[] = "n..\\x\0";
    parse_bad(bslash, sizeof bslash, "path separator");
    static const char dotdot[] = "n..\0";
    parse_bad(dotdot, sizeof dotdot, "directory reference");
    static const char dot[] = "n.\0";
    parse_bad(dot, sizeof dot, "directory reference");
    static const char ctl[] = "nbase\n.tar\0";
    parse_bad(ctl, sizeof ctl, "control character");
}
END_TEST

START_TEST(progress_wrong_length)
{
    uint8_t buf[32] = {'p'};
    for (size_t len = 1; len < sizeof buf; len++) {
        if (len == 9)
            continue;
        parse_bad(buf, len, "expected 9");
    }
}
END_TEST

START_TEST(manifest_with_payload)
{
    parse_bad("mx", 2, "1 unexpected bytes");
    parse_bad("m\0\0\0", 4, "manifest message");
}
END_TEST

START_TEST(huge_lengths)
{
    size_t len = (size_t)8 << 20;
    uint8_t *buf = malloc(len);
    ck_assert_ptr_nonnull(buf);
    /* 'n' whose name runs to the very end of the buffer without a NUL. */
    memset(buf, 'a', len);
    buf[0] = 'n';
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(pg_copymsg_parse(buf, len, NULL, &err), PGP_ERR_PG);
    ck_assert_ptr_nonnull(strstr(err.msg, "archive name is not terminated"));
    /* Name terminated, location not. */
    buf[len / 2] = '\0';
    ck_assert_int_eq(pg_copymsg_parse(buf, len, NULL, &err), PGP_ERR_PG);
    ck_assert_ptr_nonnull(strstr(err.msg, "tablespace location is not terminated"));
    /* Both terminated, valid at any size. */
    buf[len - 1] = '\0';
    PgCopyMsg m = parse_ok(buf, len);
    ck_assert_uint_eq(strlen(m.archive_name), len / 2 - 1);
    /* A huge progress or manifest message is refused by its length alone. */
    buf[0] = 'p';
    ck_assert_int_eq(pg_copymsg_parse(buf, len, NULL, &err), PGP_ERR_PG);
    ck_assert_ptr_nonnull(strstr(err.msg, "expected 9"));
    buf[0] = 'm';
    ck_assert_int_eq(pg_copymsg_parse(buf, len, NULL, &err), PGP_ERR_PG);
    free(buf);
}
END_TEST

/* Random bytes of random lengths: either a clean verdict with every pointer inside the
 * buffer, or PGP_ERR_PG. Never a read outside [buf, buf+len) (ASan checks). */
START_TEST(random_bytes)
{
    static const uint8_t types[] = {'n', 'd', 'p', 'm', 'x', 0};
    uint32_t seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        seed = seed * 1103515245u + 12345u;
        size_t len = (seed >> 16) % 40;
        uint8_t *buf = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(buf);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            uint8_t b = (uint8_t)(seed >> 16);
            buf[i] = (b & 3) == 0 ? 0 : b; /* plenty of NULs */
        }
        if (len > 0)
            buf[0] = types[(seed >> 8) % sizeof types];
        PgCopyMsg m;
        PgpErr err;
        int rc = pg_copymsg_parse(buf, len, &m, &err);
        ck_assert(rc == 0 || rc == PGP_ERR_PG);
        if (rc == 0 && m.kind == PG_COPYMSG_NEW_ARCHIVE) {
            const char *end = (const char *)buf + len;
            ck_assert(m.archive_name > (const char *)buf && m.archive_name < end);
            ck_assert(m.tablespace_location > m.archive_name && m.tablespace_location < end);
            ck_assert(m.tablespace_location + strlen(m.tablespace_location) == end - 1);
        } else if (rc == 0 && m.kind == PG_COPYMSG_DATA) {
            ck_assert(m.data == buf + 1 && m.len == len - 1);
        }
        free(buf);
    }
}
END_TEST

Suite *suite_copymsg(void)
{
    Suite *s = suite_create("copymsg");
    TCase *tc = tcase_create("kinds");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, new_archive_base);
    tcase_add_test(tc, new_archive_tablespace);
    tcase_add_test(tc, data_messages);
    tcase_add_test(tc, data_large);
    tcase_add_test(tc, progress_messages);
    tcase_add_test(tc, manifest_message);
    tcase_add_test(tc, validate_only);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, empty_messages);
    tcase_add_test(tc, unknown_types);
    tcase_add_test(tc, new_archive_truncated);
    tcase_add_test(tc, new_archive_malformed);
    tcase_add_test(tc, progress_wrong_length);
    tcase_add_test(tc, manifest_with_payload);
    tcase_add_test(tc, huge_lengths);
    tcase_add_test(tc, random_bytes);
    suite_add_tcase(s, tc);
    return s;
}
