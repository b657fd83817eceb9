/*
 * test_err.c - decorating errors (src/common/err.c): a permission error names the user
 * pgpitr runs as and the owner and mode of the path refused, or of its nearest existing
 * ancestor when the path is a file not created yet (pgp_err_path, PGP_FAIL_PATH).
 */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/common/err.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pgpitr_err.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0710), 0);
}

static void teardown(void)
{
    rmdir(dir);
}

#define contains(hay, needle) \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" not in \"%s\"", (needle), (hay))

START_TEST(permission_names_user_and_owner)
{
    char path[128], want[256];
    snprintf(path, sizeof path, "%s/new/deeper/file", dir);
    PgpErr err;
    pgp_err_clear(&err);
    int rc = PGP_FAIL_PATH(&err, EACCES, path, "cannot create \"%s\"", path);
    ck_assert_int_eq(rc, PGP_ERR_IO);
    const struct passwd *me = getpwuid(geteuid());
    const struct group *grp = getgrgid(getegid());
    ck_assert_ptr_nonnull(me);
    ck_assert_ptr_nonnull(grp);
    snprintf(want, sizeof want, ": Permission denied (running as user \"%s\"; \"%s\" belongs to "
             "%s:%s, mode 0710)", me->pw_name, dir, me->pw_name, grp->gr_name);
    contains(err.msg, want);
    contains(err.hint, dir);
    ck_assert_ptr_null(strchr(err.msg, '\n'));

    /* an existing path is named itself; numeric ids when they have no name */
    if (geteuid() == 0) {
        ck_assert_int_eq(chown(dir, 54321, 54322), 0);
        pgp_err_clear(&err);
        pgp_err_hint(&err, "kept");
        PGP_FAIL(&err, PGP_ERR_IO, "x");
        err.sys_errno = EPERM;
        pgp_err_path(&err, PGP_ERR_IO, dir);
        snprintf(want, sizeof want, "\"%s\" belongs to 54321:54322, mode 0710)", dir);
        contains(err.msg, want);
    }
}
END_TEST

START_TEST(other_errors_untouched)
{
    PgpErr err;
    pgp_err_clear(&err);
    PGP_FAIL_PATH(&err, ENOENT, dir, "cannot open \"%s\"", dir);
    ck_assert_ptr_null(strstr(err.msg, "running as"));
    ck_assert_str_eq(err.hint, "");
    ck_assert_int_eq(PGP_FAIL_PATH(NULL, EACCES, dir, "x"), PGP_ERR_IO);
    ck_assert_int_eq(PGP_FAIL_PATH(&err, ENOSPC, dir, "x"), PGP_ERR_NO_SPACE);
    /* a hint set before stays */
    PGP_FAIL(&err, PGP_ERR_CONFIG, "y");
    err.sys_errno = EACCES;
    pgp_err_hint(&err, "the caller's own");
    pgp_err_path(&err, PGP_ERR_CONFIG, "relative/name");
    ck_assert_str_eq(err.hint, "the caller's own");
    contains(err.msg, "\".\" belongs to");
}
END_TEST

Suite *suite_err(void)
{
    Suite *s = suite_create("err");
    TCase *tc = tcase_create("err");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, permission_names_user_and_owner);
    tcase_add_test(tc, other_errors_untouched);
    suite_add_tcase(s, tc);
    return s;
}
