/*
 * test_config.c - the configuration file (config_read / config_load, src/common/config.c)
 * and integer settings (cmd_parse_int, src/cmd/settings.c): values read, what is refused, and
 * errors that quote the file's bytes.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "fx_err.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/common/config.h"
#include "pgpitr/common/suggest.h"

static int read_bytes(const char *text, size_t len, PgpConfig **out, PgpErr *err)
{
    FILE *f = fmemopen((void *)text, len, "r");
    ck_assert_ptr_nonnull(f);
    int rc = config_read(f, "/etc/pgpitr/test.conf", out, err);
    fclose(f);
    return rc;
}

static int read_text(const char *text, PgpConfig **out, PgpErr *err)
{
    return read_bytes(text, strlen(text), out, err);
}

START_TEST(values)
{
    PgpConfig *c = NULL;
    PgpErr err;
    ck_assert_int_eq(read_text("; comment\n[global]\nrepo = /srv/repo\njobs=4\nrepo = /srv/r2\n",
                               &c, &err), 0);
    ck_assert_str_eq(config_get(c, "repo"), "/srv/r2");   /* the last one wins */
    ck_assert_str_eq(config_get(c, "jobs"), "4");
    ck_assert_ptr_null(config_get(c, "compress"));
    ck_assert_ptr_null(config_get(c, NULL));   /* a row without a key asks for NULL */
    ck_assert_ptr_null(config_get(c, "no-such-key"));
    ck_assert_str_eq(config_path(c), "/etc/pgpitr/test.conf");
    config_free(c);
    ck_assert_int_eq(config_load(NULL, false, &c, &err), 0);
    ck_assert_ptr_null(config_get(c, "repo"));
    ck_assert_ptr_null(config_path(c));
    config_free(c);
    ck_assert_int_eq(config_load("/nonexistent/pgpitr.conf", false, &c, &err), 0);
    config_free(c);
    ck_assert_int_eq(config_load("/nonexistent/pgpitr.conf", true, &c, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(refused)
{
    PgpConfig *c = NULL;
    PgpErr err;
    ck_assert_int_eq(read_text("[global]\ncompres = lz4\n", &c, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_null(c);
    fx_assert_printable_err(&err, "unknown setting \"compres\"");
    ck_assert_int_eq(read_text("[other]\nrepo = /x\n", &c, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "unknown section \"[other]\"");
    ck_assert_int_eq(read_text("[global]\nno equals sign\n", &c, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "/etc/pgpitr/test.conf:2: syntax error");
}
END_TEST

/* Section and setting names are the file's bytes: they reach the message quoted, so that an
 * escape sequence or a stray byte cannot break the one-line error (found by
 * tests/fuzz/fuzz_config). */
START_TEST(names_quoted)
{
    PgpConfig *c = NULL;
    PgpErr err;
    ck_assert_int_eq(read_text("[glo\x01" "bal]\nrepo = /x\n", &c, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "unknown section \"[glo\\x01bal]\"");
    ck_assert_int_eq(read_text("[global]\nre\x1b[2Jpo = /x\n", &c, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "unknown setting \"re\\x1B[2Jpo\"");
}
END_TEST

/* libinih reads an indented line as the continuation of the previous setting: without the
 * check, "jobs = 4" became the value of repo and jobs stayed unset, silently (found by
 * tests/fuzz/fuzz_config). */
START_TEST(indented_continuation)
{
    PgpConfig *c = NULL;
    PgpErr err;
    ck_assert_int_eq(read_text("[global]\nrepo = /x\n    jobs = 4\n", &c, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_null(c);
    fx_assert_printable_err(&err, "/etc/pgpitr/test.conf:3: indented line would continue the "
                                  "value of \"repo\"");
    ck_assert_ptr_nonnull(strstr(err.hint, "remove the leading white space"));
    /* Everything indented: the first line is a setting, the second would continue it. */
    ck_assert_int_eq(read_text("[global]\n  repo = /x\n  jobs = 4\n", &c, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "test.conf:3: indented line would continue the value of \"repo\"");
    /* Line numbers count lines longer than libinih's buffer once. */
    char text[1024];
    snprintf(text, sizeof text, "[global]\n; %0600d\nrepo = /x\n\tlog-level = info\n", 0);
    ck_assert_int_eq(read_text(text, &c, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "test.conf:4: indented line");
    /* Any byte libinih skips as white space indents: a vertical tab hid a continuation that
     * replaced log-level's value (found by tests/fuzz/fuzz_config). */
    static const char *const spaces[] = {"\v", "\f", "\r"};
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++) {
        snprintf(text, sizeof text, "[global]\nlog-level = ; info\n%sg-conn = x\n", spaces[i]);
        ck_assert_int_eq(read_text(text, &c, &err), PGP_ERR_CONFIG);
        ck_assert_ptr_null(c);
        fx_assert_printable_err(&err, "test.conf:3: indented line would continue the value of "
                                      "\"log-level\"");
    }
    /* Indentation alone is fine: a first setting, indented comments and blank lines. */
    ck_assert_int_eq(read_text("[global]\n  repo = /x\n\n   ; note\njobs = 4\n", &c, &err), 0);
    ck_assert_str_eq(config_get(c, "repo"), "/x");
    ck_assert_str_eq(config_get(c, "jobs"), "4");
    config_free(c);
}
END_TEST

#define contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" not in \"%s\"", (needle), (hay))

/* A typo names the file's line and the setting it probably meant. */
START_TEST(typo_line_and_suggestion)
{
    PgpConfig *c = NULL;
    PgpErr err;
    ck_assert_int_eq(read_text("; pgpitr\n[global]\nrepo = /x\ncompres = lz4\n", &c, &err),
                     PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "/etc/pgpitr/test.conf:4: unknown setting \"compres\"");
    contains(err.hint, "did you mean \"compress\"");
    ck_assert_int_eq(read_text("[global]\n\nretian_full = 3\n", &c, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "test.conf:3: unknown setting \"retian_full\"");
    contains(err.hint, "did you mean \"retain-full\"");
    ck_assert_int_eq(read_text("[global]\ncompression = zstd\n", &c, &err), PGP_ERR_CONFIG);
    contains(err.hint, "did you mean \"compress\"");
    /* nothing close: the hint lists the settings */
    ck_assert_int_eq(read_text("[global]\nbandwidth = 10\n", &c, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "test.conf:2: unknown setting \"bandwidth\"");
    contains(err.hint, "settings: repo, compress,");
    contains(err.hint, "docs/configuration.md");
    ck_assert_int_eq(read_text("# x\n[Globl]\nrepo = /x\n", &c, &err), PGP_ERR_CONFIG);
    fx_assert_printable_err(&err, "test.conf:3: unknown section \"[Globl]\"");
    contains(err.hint, "did you mean \"[global]\"");
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(suggestions)
{
    static const char *const names[] = {"repo", "compress", "compress-level", "retain-full"};
    ck_assert_str_eq(pgp_suggest("compres", names, 4), "compress");
    ck_assert_str_eq(pgp_suggest("COMPRESS-LEVLE", names, 4), "compress-level");
    ck_assert_str_eq(pgp_suggest("rpeo", names, 4), "repo");  /* a swap is one edit */
    ck_assert_str_eq(pgp_suggest("retain_ful", names, 4), "retain-full");
    ck_assert_ptr_null(pgp_suggest("repository", names, 4));
    ck_assert_ptr_null(pgp_suggest("x", names, 4));
    ck_assert_ptr_null(pgp_suggest("", names, 4));
    ck_assert_ptr_null(pgp_suggest("repo", names, 0));
    char big[100];
    memset(big, 'r', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ck_assert_ptr_null(pgp_suggest(big, names, 4));
    ck_assert_uint_eq(pgp_edit_distance("kitten", "sitting"), 3);
    ck_assert_uint_eq(pgp_edit_distance("ab", "ba"), 1);
    ck_assert_uint_eq(pgp_edit_distance("", "abc"), 3);
}
END_TEST

/* Same for integer settings, from the file, the environment or the command line. */
/* A NUL byte hid the end of its line, so the indented line after it went unseen and was
 * taken as the continuation of repo's value: repo became "repo=/s2" (tests/fuzz/fuzz_config). */
START_TEST(nul_byte)
{
    PgpConfig *c = NULL;
    PgpErr err;
    static const char text[] = "[global]\nrepo =\0junk\n  repo=/s2\n";
    ck_assert_int_eq(read_bytes(text, sizeof text - 1, &c, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_null(c);
    fx_assert_printable_err(&err, "/etc/pgpitr/test.conf:2: the file holds a NUL byte");
}
END_TEST

START_TEST(int_settings)
{
    long v = 0;
    PgpErr err;
    ck_assert_int_eq(cmd_parse_int("jobs", "4", 1, 32, &v, &err), 0);
    ck_assert_int_eq(v, 4);
    const char *bad[] = {"", "0", "33", "4x", " 4\n", "9999999999999999999999", "4\x1b[2J"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        ck_assert_int_eq(cmd_parse_int("jobs", bad[i], 1, 32, &v, &err), PGP_ERR_CONFIG);
        ck_assert_int_eq(v, 7);
        fx_assert_printable_err(&err, "invalid jobs \"");
    }
}
END_TEST

START_TEST(duration_settings)
{
    static const struct { const char *text; int64_t secs; } good[] = {
        {"90", 90}, {"90s", 90}, {"30min", 1800}, {"1h", 3600}, {"1h30min", 5400},
        {"7d", 604800}, {"2w", 1209600}, {"1d12h", 129600}, {"366d", 366 * 86400},
    };
    PgpErr err;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = 0;
        ck_assert_msg(config_parse_duration("rpo-objective", good[i].text, 1, 366 * 86400, &v,
                                            &err) == 0, "%s refused", good[i].text);
        ck_assert_int_eq(v, good[i].secs);
    }
    /* No unit after a group ("1h30"), "m" (minutes or months?), signs, spaces, zero, beyond
     * the range, an overflow, a control byte. */
    const char *bad[] = {"", "0", "0s", "1h30", "5m", "-1h", "+1h", " 1h", "1h ", "1 h", "h",
                         "1H", "367d", "99999999999999999999s", "9223372036854775807w",
                         "1h\x1b[2J", "1.5h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 7;
        ck_assert_msg(config_parse_duration("rpo-objective", bad[i], 1, 366 * 86400, &v,
                                            &err) == PGP_ERR_CONFIG, "\"%s\" taken", bad[i]);
        ck_assert_int_eq(v, 7);
        fx_assert_printable_err(&err, "invalid rpo-objective \"");
    }
}
END_TEST

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, values);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, names_quoted);
    tcase_add_test(tc, indented_continuation);
    tcase_add_test(tc, nul_byte);
    tcase_add_test(tc, int_settings);
    tcase_add_test(tc, duration_settings);
    tcase_add_test(tc, typo_line_and_suggestion);
    tcase_add_test(tc, suggestions);
    suite_add_tcase(s, tc);
    return s;
}
