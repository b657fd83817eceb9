/*
 * test_pgrecovery.c - reading whether a data directory's server recovers to a recovery target
 * (src/pg/pgrecovery.c): postgresql.conf, its includes, postgresql.auto.conf and the command
 * line in postmaster.opts, last value wins, empty unsets, comments and quoting; and any
 * setting's effective value (pg_conf_read).
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fx_dir.h"
#include "pgpitr/pg/pgrecovery.h"

static char dir[64];

static void setup(void)
{
    fx_dir_make(dir, sizeof dir, "pgrecovery");
}

static void teardown(void)
{
    fx_dir_remove(dir);
}

static void put(const char *name, const char *text)
{
    fx_dir_put(dir, name, text);
}

static PgRecoveryTarget read_target(void)
{
    PgRecoveryTarget t;
    pg_recovery_target_read(dir, &t);
    return t;
}

START_TEST(test_none)
{
    ck_assert(!read_target().set);
    put("postgresql.conf", "port = 5432\n#recovery_target_lsn = '0/3000000'\n"
                           "  # recovery_target = 'immediate'\nrecovery_target_timeline = 'latest'\n");
    put("postgresql.auto.conf", "restore_command = 'pgpitr archive-get %f \"%p\"'\n");
    ck_assert(!read_target().set);
}
END_TEST

START_TEST(test_auto_conf_as_restore_writes_it)
{
    put("postgresql.auto.conf", "# added by pgpitr restore of backup b\n"
                                "restore_command = 'x'\n"
                                "recovery_target_time = '2026-11-22 02:15:07.25+00'\n"
                                "recovery_target_action = 'promote'\n");
    PgRecoveryTarget t = read_target();
    ck_assert(t.set);
    ck_assert_str_eq(t.setting, "recovery_target_time");
    ck_assert_ptr_nonnull(strstr(t.source, "postgresql.auto.conf"));
}
END_TEST

START_TEST(test_last_value_wins_and_empty_unsets)
{
    put("postgresql.conf", "recovery_target_lsn = '0/3000000'\n");
    ck_assert(read_target().set);
    put("postgresql.auto.conf", "recovery_target_lsn = ''\n");   /* read after postgresql.conf */
    ck_assert(!read_target().set);
    put("postgresql.conf", "\n");
    put("postgresql.auto.conf", "RECOVERY_TARGET_XID=1234 # a comment\n");
    PgRecoveryTarget t = read_target();
    ck_assert(t.set);
    ck_assert_str_eq(t.setting, "recovery_target_xid");
    put("postgresql.auto.conf", "recovery_target immediate\nrecovery_target_name = 'it''s'\n");
    ck_assert(read_target().set);
    put("postgresql.auto.conf", "recovery_target_name = 'unterminated\n");
    ck_assert(!read_target().set);
}
END_TEST

START_TEST(test_includes)
{
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/conf.d", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    put("postgresql.conf", "include 'extra.conf'\ninclude_if_exists 'missing.conf'\n"
                           "include_dir 'conf.d'\n");
    put("extra.conf", "recovery_target_lsn = '0/3000000'\n");
    PgRecoveryTarget t = read_target();
    ck_assert(t.set);
    ck_assert_ptr_nonnull(strstr(t.source, "extra.conf"));
    put("conf.d/01-a.conf", "recovery_target_name = 'x'\n");
    put("conf.d/02-b.conf", "recovery_target_name = ''\nrecovery_target_lsn = ''\n");
    put("conf.d/.hidden.conf", "recovery_target_xid = '9'\n");
    put("conf.d/03-c.txt", "recovery_target_xid = '9'\n");
    ck_assert(!read_target().set);
    put("extra.conf", "include 'extra.conf'\n");   /* a loop: bounded depth */
    ck_assert(!read_target().set);
}
END_TEST

START_TEST(test_command_line)
{
    char conf[PATH_MAX], opts[2 * PATH_MAX];
    snprintf(conf, sizeof conf, "%s/elsewhere.conf", dir);
    put("elsewhere.conf", "recovery_target_xid = '77'\n");
    put("postgresql.conf", "\n");
    snprintf(opts, sizeof opts, "/usr/lib/postgresql/15/bin/postgres \"-D\" \"%s\" \"-c\" "
             "\"config_file=%s\"\n", dir, conf);
    put("postmaster.opts", opts);
    PgRecoveryTarget t = read_target();   /* Debian: the configuration is in /etc */
    ck_assert(t.set);
    ck_assert_str_eq(t.source, conf);
    snprintf(opts, sizeof opts, "/usr/bin/postgres \"-D\" \"%s\" \"-c\" \"config_file=%s\" "
             "\"-c\" \"recovery_target_xid=\"\n", dir, conf);
    put("postmaster.opts", opts);
    ck_assert(!read_target().set);   /* the command line wins */
    put("postmaster.opts", "/usr/bin/postgres \"--recovery-target-lsn=0/1\"\n");
    t = read_target();
    ck_assert(t.set);
    ck_assert_str_eq(t.setting, "recovery_target_lsn");
    ck_assert_str_eq(t.source, "the command line");
}
END_TEST

/* pg_conf_read: any setting, its unquoted last value and where it came from. */
START_TEST(test_any_setting)
{
    char conf[PATH_MAX], opts[2 * PATH_MAX];
    PgConfSetting v[] = {{.name = "port"}, {.name = "Unix_Socket_Directories"},
                         {.name = "primary_conninfo"}, {.name = "listen_addresses"}};
    put("postgresql.conf", "port = 5432\nunix_socket_directories = '/a, \"/b c\"' # two\n"
                           "primary_conninfo = 'host=p user=''u'' password=x\\'y'\n");
    put("postgresql.auto.conf", "PORT=5433\nlisten_addresses = ''\n");
    pg_conf_read(dir, v, 4);
    ck_assert(v[0].found);
    ck_assert_str_eq(v[0].value, "5433");
    ck_assert_ptr_nonnull(strstr(v[0].source, "postgresql.auto.conf"));
    ck_assert_str_eq(v[1].value, "/a, \"/b c\"");
    snprintf(conf, sizeof conf, "%s/postgresql.conf", dir);
    ck_assert_str_eq(v[1].source, conf);
    ck_assert_str_eq(v[2].value, "host=p user='u' password=x'y");
    ck_assert(v[3].found);   /* set, to '' */
    ck_assert_str_eq(v[3].value, "");
    put("postgresql.auto.conf", "");
    pg_conf_read(dir, v, 4);
    ck_assert(!v[3].found);
    ck_assert_str_eq(v[3].value, "");
    ck_assert_str_eq(v[3].source, "");
    ck_assert_str_eq(v[0].value, "5432");
    snprintf(opts, sizeof opts, "/usr/bin/postgres \"-D\" \"%s\" \"-c\" \"port=6000\"\n", dir);
    put("postmaster.opts", opts);
    pg_conf_read(dir, v, 4);
    ck_assert_str_eq(v[0].value, "6000");
    ck_assert_str_eq(v[0].source, "the command line");
}
END_TEST

Suite *suite_pgrecovery(void)
{
    Suite *s = suite_create("pgrecovery");
    TCase *tc = tcase_create("pgrecovery");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_none);
    tcase_add_test(tc, test_auto_conf_as_restore_writes_it);
    tcase_add_test(tc, test_last_value_wins_and_empty_unsets);
    tcase_add_test(tc, test_includes);
    tcase_add_test(tc, test_command_line);
    tcase_add_test(tc, test_any_setting);
    suite_add_tcase(s, tc);
    return s;
}
