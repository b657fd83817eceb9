/*
 * test_config.c - the configuration file (config_read / config_load, src/common/config.c)
 * and integer settings (cmd_parse_int, src/cmd/settings.c): values read, what is refused, and
 * errors that quote the file's bytes.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "fx_err.h"
#include "pgpitr/cmd.h"
#include "pgpitr/config.h"

static int read_text(const char *text, PgpConfig **out, PgpErr *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    ck_assert_ptr_nonnull(f);
    int rc = config_read(f, "/etc/pgpitr/test.conf", out, err);
    fclose(f);
    return rc;
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

Suite *suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, values);
    tcase_add_test(tc, refused);
    suite_add_tcase(s, tc);
    return s;
}
