/*
 * test_serve_tokens.c - the token file of `pgpitr serve` (src/serve/serve_tokens.c): what a
 * line may hold, what is refused (with the line number, never the text), the file's mode and
 * owner checks, and matching a presented token against the hashes.
 */
#include "pgpitr/serve/serve_tokens.h"

#include <check.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_dir.h"
#include "fx_err.h"


static void hash_hex(const char *token, char out[65])
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "printf %%s '%s' | sha256sum", token);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(out, 65, p));
    pclose(p);
    ck_assert_uint_eq(strlen(out), 64);
}

static void parse_ok(const char *text, ServeTokens *t)
{
    PgpErr err = {0};
    ck_assert_msg(serve_tokens_parse("tokens", text, strlen(text), t, &err) == 0, "%s", err.msg);
}

START_TEST(parse_and_match)
{
    char hr[65], ho[65], text[512];
    hash_hex("s3cret-read", hr);
    hash_hex("s3cret-operate", ho);
    /* comments, blank lines, tabs, CRLF, upper-case hex */
    for (size_t i = 0; i < 64; i++)
        if (ho[i] >= 'a' && ho[i] <= 'f')
            ho[i] = (char)(ho[i] - 'a' + 'A');
    snprintf(text, sizeof text, "# tokens\n\n  grafana read %s\r\nci\toperate\t%s\n", hr, ho);
    ServeTokens t;
    parse_ok(text, &t);
    ck_assert_uint_eq(t.n, 2);
    const ServeToken *m = serve_tokens_match(&t, "s3cret-read", 11);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->name, "grafana");
    ck_assert_str_eq(serve_role_name(m->role), "read");
    m = serve_tokens_match(&t, "s3cret-operate", 14);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->name, "ci");
    ck_assert_int_eq(m->role, SERVE_ROLE_OPERATE);
    /* wrong, a prefix, empty, the hash itself, one byte more */
    const char *bad[] = {"s3cret-rea", "s3cret-readx", "", hr, "S3CRET-READ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_ptr_null(serve_tokens_match(&t, bad[i], strlen(bad[i])));
    serve_tokens_free(&t);
}
END_TEST

START_TEST(bad_lines)
{
    char h[65], text[512];
    hash_hex("x", h);
    const struct { const char *fmt; const char *why; } bad[] = {
        {"a read\n", "expected three fields"},
        {"a read %s extra\n", "expected three fields"},
        {"a admin %s\n", "the role must be read or operate"},
        {"a READ %s\n", "the role must be read or operate"},
        {"a/b read %s\n", "the name must be"},
        {"a read %.63s\n", "64 hexadecimal digits"},
        {"a read %sff\n", "64 hexadecimal digits"},
        {"a read %.63sg\n", "64 hexadecimal digits"},
        {"a read %s\na operate %s\n", "on an earlier line too"},
        {"# only a comment\n\n", "holds no token"},
        {"", "holds no token"},
        {"\x1b[2J read %s\n", "the name must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, bad[i].fmt, h, h);
        ServeTokens t = {0};
        PgpErr err = {0};
        ck_assert_msg(serve_tokens_parse("tokens", text, strlen(text), &t, &err) ==
                          PGP_ERR_CONFIG, "accepted: %s", text);
        ck_assert_msg(strstr(err.msg, bad[i].why) != NULL, "%s: %s", text, err.msg);
        /* never echoes the line: it may hold a token pasted by mistake */
        ck_assert_msg(strstr(err.msg, h) == NULL && strstr(err.msg, "\x1b") == NULL, "%s",
                      err.msg);
        fx_assert_printable_err(&err, "token file \"tokens\"");
        ck_assert_ptr_null(t.v);
    }
    /* a NUL byte in the middle of a line */
    const char nul[] = "a read \0b\n";
    ServeTokens t = {0};
    PgpErr err = {0};
    ck_assert_int_eq(serve_tokens_parse("tokens", nul, sizeof nul - 1, &t, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "line 1"));
}
END_TEST

START_TEST(file_mode)
{
    char dir[256], path[300], h[65], text[128];
    fx_dir_make(dir, sizeof dir, "tokens");
    hash_hex("t", h);
    snprintf(text, sizeof text, "ops operate %s\n", h);
    fx_dir_put(dir, "tokens", text);
    snprintf(path, sizeof path, "%s/tokens", dir);
    ServeTokens t;
    PgpErr err = {0};
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(serve_tokens_load(path, &t, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "accessible by group or others (mode 0640)"));
    ck_assert_ptr_nonnull(strstr(err.hint, "chmod 600"));
    ck_assert_int_eq(chmod(path, 0604), 0);
    ck_assert_int_eq(serve_tokens_load(path, &t, &err), PGP_ERR_CONFIG);
    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_msg(serve_tokens_load(path, &t, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(t.n, 1);
    ck_assert_ptr_nonnull(serve_tokens_match(&t, "t", 1));
    serve_tokens_free(&t);
    /* a symlink to it is refused (O_NOFOLLOW), so is a directory and a missing file */
    char link[320];
    snprintf(link, sizeof link, "%s/link", dir);
    ck_assert_int_eq(symlink(path, link), 0);
    ck_assert_int_ne(serve_tokens_load(link, &t, &err), 0);
    ck_assert_int_eq(serve_tokens_load(dir, &t, &err), PGP_ERR_CONFIG);
    snprintf(link, sizeof link, "%s/missing", dir);
    ck_assert_int_ne(serve_tokens_load(link, &t, &err), 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open token file"));
    fx_dir_remove(dir);
}
END_TEST

Suite *suite_serve_tokens(void)
{
    Suite *s = suite_create("serve_tokens");
    TCase *tc = tcase_create("serve_tokens");
    tcase_add_test(tc, parse_and_match);
    tcase_add_test(tc, bad_lines);
    tcase_add_test(tc, file_mode);
    suite_add_tcase(s, tc);
    return s;
}
