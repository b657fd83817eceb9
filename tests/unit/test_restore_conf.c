/*
 * test_restore_conf.c - restore's text work and --delta's clearing: target times
 * (restore_parse_time, restore_format_time), the recovery settings for every target
 * (restore_conf.c), tablespace_map rewriting and restore_delta_clean (restore_delta.c).
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_err.h"
#include "pgpitr/restore/restore.h"
#include "pgpitr/restore/restore_conf.h"
#include "pgpitr/restore/restore_delta.h"
#include "pgpitr/restore/restore_files.h"

#define T0 INT64_C(1795317307) /* 2026-11-22 03:15:07 UTC */
#define US INT64_C(1000000)

static int64_t time_ok(const char *text)
{
    PgpErr err;
    pgp_err_clear(&err);
    int64_t us = -1;
    int rc = restore_parse_time(text, &us, &err);
    ck_assert_msg(rc == 0, "\"%s\" rejected: %s", text, err.msg);
    return us;
}

static void time_bad(const char *text, const char *needle)
{
    PgpErr err;
    pgp_err_clear(&err);
    int64_t us = 42;
    ck_assert_int_eq(restore_parse_time(text, &us, &err), PGP_ERR_USAGE);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "\"%s\": \"%s\" not in \"%s\"", text, needle,
                  err.msg);
    ck_assert_str_ne(err.hint, "");
    ck_assert_int_eq(us, 42);
}

START_TEST(parse_times)
{
    ck_assert_int_eq(time_ok("2026-11-22T03:15:07Z"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22 03:15:07z"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22t03:15:07+00:00"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22T04:15:07+01:00"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22T04:15:07+0100"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22T04:15:07+01"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-21 22:15:07-05"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22 08:45:07+05:30"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22T03:15Z"), (T0 - 7) * US);
    ck_assert_int_eq(time_ok("2026-11-22T03:15:07.25Z"), T0 * US + 250000);
    ck_assert_int_eq(time_ok("2026-11-22T03:15:07,000001Z"), T0 * US + 1);
    ck_assert_int_eq(time_ok("2026-11-22T03:15:07.123456789Z"), T0 * US + 123456);
    ck_assert_int_eq(time_ok("2024-02-29T23:59:59Z"), INT64_C(1709251199) * US);
    ck_assert_int_eq(time_ok("1970-01-01T01:00:00+01:00"), 0);
    /* white space before the offset, as PostgreSQL and `date` write it */
    ck_assert_int_eq(time_ok("2026-11-22T04:15:07 +01:00"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22 04:15:07.25 +0100"), T0 * US + 250000);
    ck_assert_int_eq(time_ok("2026-11-21 22:15:07  -05"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22 03:15:07 Z"), T0 * US);
    ck_assert_int_eq(time_ok("2026-11-22 03:15 +00:00"), (T0 - 7) * US);

    time_bad("2026-11-22 03:15:07", "no UTC offset");
    time_bad("2026-11-22T03:15:07.5", "no UTC offset");
    time_bad("2026-11-22 03:15:07 UTC", "numeric offset");
    time_bad("2026-11-22 03:15:07 ", "no UTC offset");
    time_bad("2026-11-22 03:15:07\t+01:00", "numeric offset");
    time_bad("2026-11-22 03:15:07CET", "numeric offset");
    time_bad("2026-11-22", "'T' or a space");
    time_bad("22/11/2026 03:15:07Z", "YYYY-MM-DD");
    time_bad("2026-11-22T3:15:07Z", "HH:MM");
    time_bad("2026-11-22T03:15:7Z", "seconds");
    time_bad("2026-02-29T00:00:00Z", "out of range");
    time_bad("2026-13-01T00:00:00Z", "out of range");
    time_bad("2026-11-22T24:00:00Z", "out of range");
    time_bad("2026-11-22T23:59:60Z", "out of range");
    time_bad("1969-12-31T23:59:59Z", "out of range");
    time_bad("1970-01-01T00:00:00+01:00", "before 1970");
    time_bad("2026-11-22T03:15:07.Z", "fraction");
    time_bad("2026-11-22T03:15:07.1234567891Z", "fraction");
    time_bad("2026-11-22T03:15:07+1", "two digits of hours");
    time_bad("2026-11-22T03:15:07+01:3", "two digits of minutes");
    time_bad("2026-11-22T03:15:07+16:00", "out of range");
    time_bad("2026-11-22T03:15:07Z trailing", "after the offset");
    time_bad("", "YYYY-MM-DD");
    time_bad(NULL, "YYYY-MM-DD");
}
END_TEST

/* The text reaches the message quoted: a newline or an escape sequence in --target-time
 * cannot make the one-line error two lines or drive the terminal (found by
 * tests/fuzz/fuzz_time). */
START_TEST(time_error_quoted)
{
    const char *bad[] = {"2026-11-22\n03:15:07Z", "2026-11-22 03:15:07\x1b[2J", "\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t us = 0;
        PgpErr err;
        ck_assert_int_eq(restore_parse_time(bad[i], &us, &err), PGP_ERR_USAGE);
        fx_assert_printable_err(&err, "invalid target time");
    }
}
END_TEST

/* A time after 9999-12-31 23:59:59 UTC once the offset is applied would be written to
 * postgresql.auto.conf as "@<microseconds>us", which PostgreSQL cannot read: refused (found
 * by tests/fuzz/fuzz_time). */
START_TEST(time_after_9999)
{
    int64_t us = 0;
    PgpErr err;
    ck_assert_int_eq(restore_parse_time("9999-12-31 23:59:00-12", &us, &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "after 9999-12-31 23:59:59Z");
    ck_assert_int_eq(restore_parse_time("9999-12-31 23:59:59.999999Z", &us, &err), 0);
    char text[RESTORE_TIME_TEXT_MAX];
    restore_format_time(us, text);
    ck_assert_str_eq(text, "9999-12-31 23:59:59.999999+00");
}
END_TEST

START_TEST(format_times)
{
    char out[RESTORE_TIME_TEXT_MAX];
    restore_format_time(0, out);
    ck_assert_str_eq(out, "1970-01-01 00:00:00+00");
    restore_format_time(T0 * US, out);
    ck_assert_str_eq(out, "2026-11-22 03:15:07+00");
    restore_format_time(T0 * US + 250000, out);
    ck_assert_str_eq(out, "2026-11-22 03:15:07.25+00");
    restore_format_time(T0 * US + 1, out);
    ck_assert_str_eq(out, "2026-11-22 03:15:07.000001+00");
    restore_format_time(INT64_C(253402300799) * US, out);
    ck_assert_str_eq(out, "9999-12-31 23:59:59+00");
    restore_format_time(-5, out);
    ck_assert_str_eq(out, "@-5us");
    /* round trip through the parser */
    restore_format_time(T0 * US + 123456, out);
    ck_assert_int_eq(time_ok("2026-11-22 03:15:07.123456+00"), T0 * US + 123456);

    RestoreTargetSpec t = {.kind = RESTORE_TARGET_NAME, .name = "n"};
    char d[128];
    restore_target_describe(&t, d, sizeof d);
    ck_assert_str_eq(d, "restore point \"n\"");
    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_LSN, .lsn = 0x16B3748};
    restore_target_describe(&t, d, sizeof d);
    ck_assert_str_eq(d, "LSN 0/16B3748");
    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_TIME, .time_us = T0 * US};
    restore_target_describe(&t, d, sizeof d);
    ck_assert_str_eq(d, "time 2026-11-22 03:15:07+00");
}
END_TEST

static char *conf_full(const RestoreRecoveryConf *in, int *rc, PgpErr *err)
{
    RestoreRecoveryConf c = *in;
    c.bin = c.bin != NULL ? c.bin : "/usr/bin/pgpitr";
    c.repo = c.repo != NULL ? c.repo : "/var/lib/pgpitr";
    c.label = c.label != NULL ? c.label : "L";
    char *out = NULL;
    pgp_err_clear(err);
    *rc = restore_recovery_conf_text(&c, &out, err);
    ck_assert_int_eq(*rc != 0, out == NULL);
    return out;
}

static char *conf(const RestoreTargetSpec *t, uint32_t tli, const PgServerSetting *set,
                  size_t n_set, int *rc)
{
    PgpErr err;
    RestoreRecoveryConf c = {.target = t, .timeline = tli, .settings = set, .n_settings = n_set};
    return conf_full(&c, rc, &err);
}

#define RC_LINE "restore_command = '/usr/bin/pgpitr --repo /var/lib/pgpitr archive-get %f \"%p\"'\n"
#define ARCHIVE_COMMENT "# a restored copy must not archive into the repository of the cluster " \
    "it came from (pgpitr restore --archive-mode preserve keeps the backup's archiving)\n"
#define ARCHIVE_OFF ARCHIVE_COMMENT "archive_mode = 'off'\n"
#define NOT_STANDBY "# not a standby: the backup's settings for following a primary (a backup " \
    "taken on a standby has them) must not apply (pgpitr restore --standby keeps them)\n" \
    "primary_conninfo = ''\nprimary_slot_name = ''\nrecovery_min_apply_delay = '0'\n" \
    "archive_cleanup_command = ''\nrecovery_end_command = ''\n"

START_TEST(recovery_settings_per_target)
{
    int rc;
    RestoreTargetSpec t = {.kind = RESTORE_TARGET_TIME, .time_us = T0 * US + 250000,
                           .exclusive = true, .action = "pause"};
    static const PgServerSetting set[] = {{"port", "5499"}, {"listen_addresses", ""}};
    char *text = conf(&t, 2, set, 2, &rc);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(text, "# added by pgpitr restore of backup L\n" RC_LINE
                           "recovery_target = ''\n"
                           "recovery_target_lsn = ''\n"
                           "recovery_target_name = ''\n"
                           "recovery_target_xid = ''\n"
                           "recovery_target_time = '2026-11-22 03:15:07.25+00'\n"
                           "recovery_target_inclusive = 'off'\n"
                           "recovery_target_timeline = '2'\n"
                           "recovery_target_action = 'pause'\n" ARCHIVE_OFF NOT_STANDBY
                           "port = '5499'\nlisten_addresses = ''\n");
    free(text);

    /* Latest: every target emptied, so none from the backup's own configuration applies. */
    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_LATEST};
    text = conf(&t, 3, NULL, 0, &rc);
    ck_assert_str_eq(text, "# added by pgpitr restore of backup L\n" RC_LINE
                           "recovery_target = ''\n"
                           "recovery_target_lsn = ''\n"
                           "recovery_target_name = ''\n"
                           "recovery_target_time = ''\n"
                           "recovery_target_xid = ''\n"
                           "recovery_target_inclusive = 'on'\n"
                           "recovery_target_timeline = '3'\n" ARCHIVE_OFF NOT_STANDBY);
    free(text);

    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_LSN, .lsn = 0x300001E8};
    text = conf(&t, 0, NULL, 0, &rc);
    ck_assert_ptr_nonnull(strstr(text, "recovery_target_xid = ''\n"
                                       "recovery_target_lsn = '0/300001E8'\n"
                                       "recovery_target_inclusive = 'on'\n"
                                       "recovery_target_action = 'promote'\n"));
    ck_assert_ptr_null(strstr(text, "timeline"));
    free(text);

    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_XID, .xid = "727", .exclusive = true,
                            .action = "shutdown"};
    text = conf(&t, 1, NULL, 0, &rc);
    ck_assert_ptr_nonnull(strstr(text, "recovery_target_xid = '727'\nrecovery_target_inclusive = "
                                       "'off'\nrecovery_target_timeline = '1'\n"
                                       "recovery_target_action = 'shutdown'\n"));
    free(text);

    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_NAME, .name = "it's a \\ point"};
    text = conf(&t, 1, NULL, 0, &rc);
    ck_assert_ptr_nonnull(strstr(text, "recovery_target_name = 'it''s a \\\\ point'\n"));
    free(text);

    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_IMMEDIATE, .exclusive = true};
    text = conf(&t, 1, NULL, 0, &rc);
    ck_assert_ptr_nonnull(strstr(text, "recovery_target_xid = ''\nrecovery_target = 'immediate'\n"
                                       "recovery_target_inclusive = 'on'\n" /* not for immediate */
                                       "recovery_target_timeline"));
    free(text);

    /* A value can never add a line, nor a name hold anything but a name. */
    static const PgServerSetting bad_value[] = {{"port", "1\nrestore_command = 'evil'"}};
    static const PgServerSetting bad_name[] = {{"port = 1\nrestore_command", "x"}};
    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_LATEST};
    ck_assert_ptr_null(conf(&t, 1, bad_value, 1, &rc));
    ck_assert_int_eq(rc, PGP_ERR_USAGE);
    ck_assert_ptr_null(conf(&t, 1, bad_name, 1, &rc));
    ck_assert_int_eq(rc, PGP_ERR_USAGE);
    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_NAME, .name = "a\nb"};
    ck_assert_ptr_null(conf(&t, 1, NULL, 0, &rc));
    ck_assert_int_eq(rc, PGP_ERR_USAGE);
    t = (RestoreTargetSpec){.kind = RESTORE_TARGET_LSN, .action = "explode"};
    ck_assert_ptr_null(conf(&t, 1, NULL, 0, &rc));
    ck_assert_int_eq(rc, PGP_ERR_USAGE);
}
END_TEST

/* archive_mode: off unless preserve; a setting given again (the drill's) replaces restore's
 * own line, keeping each name once, at its last place, with the comments of both. */
START_TEST(recovery_settings_archive_and_overrides)
{
    int rc;
    PgpErr err;
    RestoreTargetSpec t = {.kind = RESTORE_TARGET_IMMEDIATE};
    RestoreRecoveryConf c = {.target = &t, .timeline = 1, .archive_mode = RESTORE_ARCHIVE_PRESERVE};
    char *text = conf_full(&c, &rc, &err);
    ck_assert_ptr_null(strstr(text, "archive_mode"));
    ck_assert_ptr_null(strstr(text, "a restored copy"));
    free(text);

    static const PgServerSetting drill[] = {{"archive_mode", "off"}, {"archive_command", ""},
                                            {"recovery_target_action", "promote"}};
    t.action = "pause";
    c = (RestoreRecoveryConf){.target = &t, .timeline = 1, .settings = drill, .n_settings = 3,
                              .settings_comment = "# the drill's"};
    text = conf_full(&c, &rc, &err);
    ck_assert_str_eq(text, "# added by pgpitr restore of backup L\n" RC_LINE
                           "recovery_target_lsn = ''\n"
                           "recovery_target_name = ''\n"
                           "recovery_target_time = ''\n"
                           "recovery_target_xid = ''\n"
                           "recovery_target = 'immediate'\n"
                           "recovery_target_inclusive = 'on'\n"
                           "recovery_target_timeline = '1'\n" NOT_STANDBY
                           "# the drill's\n" ARCHIVE_COMMENT
                           "archive_mode = 'off'\n"
                           "archive_command = ''\n"
                           "recovery_target_action = 'promote'\n");
    free(text);

    /* A replaced entry's comment goes to the first line of its group still written, or, the
     * whole group replaced, before the line that replaced it. */
    static const PgServerSetting standby[] = {{"primary_conninfo", ""}, {"primary_slot_name", ""},
                                              {"archive_cleanup_command", ""}};
    c = (RestoreRecoveryConf){.target = &t, .settings = standby, .n_settings = 3,
                              .archive_mode = RESTORE_ARCHIVE_PRESERVE};
    text = conf_full(&c, &rc, &err);
    ck_assert_ptr_nonnull(strstr(text, "recovery_target_action = 'pause'\n"
                                       "# not a standby: the backup's settings"));
    ck_assert_ptr_nonnull(strstr(text, "keeps them)\nrecovery_min_apply_delay = '0'\n"
                                       "recovery_end_command = ''\n"
                                       "primary_conninfo = ''\nprimary_slot_name = ''\n"
                                       "archive_cleanup_command = ''\n"));
    free(text);
    c.archive_mode = (RestoreArchiveMode)7;
    ck_assert_ptr_null(conf_full(&c, &rc, &err));
    ck_assert_int_eq(rc, PGP_ERR_USAGE);
}
END_TEST

/* The value as PostgreSQL's configuration parser reads it: '' -> ', \x -> x. */
static char *guc_value(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    ck_assert_ptr_nonnull(p);
    p = strchr(p, '\'') + 1;
    char *out = malloc(strlen(p) + 1), *o = out;
    for (; *p; p++) {
        if (*p == '\'' && p[1] == '\'') {
            *o++ = '\'';
            p++;
        } else if (*p == '\'') {
            break;
        } else if (*p == '\\' && p[1] != '\0') {
            *o++ = *++p;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

static char *conf_paths(const char *bin, const char *repo, int *rc, PgpErr *err)
{
    RestoreTargetSpec t = {.kind = RESTORE_TARGET_IMMEDIATE};
    RestoreRecoveryConf c = {.bin = bin, .repo = repo, .target = &t};
    return conf_full(&c, rc, err);
}

START_TEST(restore_command_quoting)
{
    int rc;
    PgpErr err;
    char *text = conf_paths("/usr/local/bin/pgpitr", "/srv/it's repo", &rc, &err);
    ck_assert_ptr_nonnull(strstr(text, "restore_command = '/usr/local/bin/pgpitr --repo "
                                       "''/srv/it''\\\\''''s repo'' archive-get %f \"%p\"'\n"));
    free(text);

    /* Round trip through the config parser's unquoting, '%%' and /bin/sh; a tab and other
     * control characters (but line breaks) reach the command intact. */
    text = conf_paths("/bin/echo", "/tmp/a 'b' \\c 100%\t\x01", &rc, &err);
    char *cmd = guc_value(text, "restore_command");
    for (char *r = cmd, *w = cmd;; r++) { /* PostgreSQL: %% -> % (%f, %p stay for this test) */
        if (r[0] == '%' && r[1] == '%')
            r++;
        if ((*w++ = *r) == '\0')
            break;
    }
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[512] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    pclose(p);
    ck_assert_str_eq(line, "--repo /tmp/a 'b' \\c 100%\t\x01 archive-get %f %p\n");
    free(cmd);
    free(text);
}
END_TEST

/* A line break in the binary or repository path would end the setting's line: PostgreSQL
 * refuses the whole file. Refused, naming which path (quoted: the \n is shown as \x0A). */
START_TEST(restore_command_line_breaks)
{
    static const struct { const char *bin, *repo, *which; } cases[] = {
        {"/usr/bin/pgpitr", "/srv/re\npo", "repository path \"/srv/re\\x0Apo\""},
        {"/usr/bin/pgpitr", "/srv/repo\r", "repository path \"/srv/repo\\x0D\""},
        {"/opt/pg\npitr/pgpitr", "/srv/repo", "path of the pgpitr binary \"/opt/pg\\x0Apitr"},
        {"/opt/pgpitr\r/pgpitr", "/srv/repo", "path of the pgpitr binary"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc;
        PgpErr err;
        ck_assert_ptr_null(conf_paths(cases[i].bin, cases[i].repo, &rc, &err));
        ck_assert_int_eq(rc, PGP_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, cases[i].which) != NULL, "\"%s\" not in \"%s\"",
                      cases[i].which, err.msg);
        ck_assert_ptr_nonnull(strstr(err.msg, "line break"));
        ck_assert_ptr_null(strchr(err.msg, '\n'));
        ck_assert_str_ne(err.hint, "");
    }
}
END_TEST

/* restore_command finds the repository the way restore did: --config and/or --repo, both
 * absolute paths given by the caller, each written only when given. */
START_TEST(restore_command_config_and_repo)
{
    int rc;
    PgpErr err;
    RestoreTargetSpec t = {.kind = RESTORE_TARGET_LATEST};
    RestoreRecoveryConf c = {.target = &t, .config = "/etc/pgpitr/pg pitr.conf", .repo = ""};
    char *text = conf_full(&c, &rc, &err);
    ck_assert_ptr_nonnull(strstr(text, "restore_command = '/usr/bin/pgpitr --config "
                                       "''/etc/pgpitr/pg pitr.conf'' archive-get %f \"%p\"'\n"));
    free(text);
    c.repo = "/srv/repo";
    c.config = "/etc/p.conf";
    text = conf_full(&c, &rc, &err);
    ck_assert_ptr_nonnull(strstr(text, "restore_command = '/usr/bin/pgpitr --config /etc/p.conf "
                                       "--repo /srv/repo archive-get %f \"%p\"'\n"));
    free(text);
    c.config = "/etc/p\n.conf";
    ck_assert_ptr_null(conf_full(&c, &rc, &err));
    ck_assert_int_eq(rc, PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "configuration file path"));
}
END_TEST

/* Settings restore got from its environment (an encrypted repository's key settings) go
 * before the program as shell assignments, quoted like the paths ('%' doubled for
 * PostgreSQL); a line break in one is refused, naming it. Through /bin/sh the value reaches
 * the program's environment intact. */
START_TEST(restore_command_env)
{
    int rc;
    PgpErr err;
    RestoreTargetSpec t = {.kind = RESTORE_TARGET_LATEST};
    RestoreCommandEnv env[] = {{"PGPITR_ENCRYPTION", "aes-256-gcm"},
                               {"PGPITR_ENCRYPTION_KEY_COMMAND", "/opt/get key 100% it's"}};
    RestoreRecoveryConf c = {.target = &t, .config = "/etc/p.conf", .repo = "", .env = env,
                             .n_env = 2};
    char *text = conf_full(&c, &rc, &err);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "restore_command = 'PGPITR_ENCRYPTION=aes-256-gcm "
                               "PGPITR_ENCRYPTION_KEY_COMMAND=''/opt/get key 100%% "
                               "it''\\\\''''s'' /usr/bin/pgpitr --config /etc/p.conf "
                               "archive-get %f \"%p\"'\n") != NULL, "%s", text);
    free(text);
    /* the program: printenv of the variable, after the config parser's unquoting and '%%' */
    c.config = NULL;
    text = conf_full(&c, &rc, &err);
    char *cmd = guc_value(text, "restore_command");
    char *at = strstr(cmd, "/usr/bin/pgpitr");
    ck_assert_ptr_nonnull(at);
    strcpy(at, "printenv PGPITR_ENCRYPTION_KEY_COMMAND");
    for (char *r = cmd, *w = cmd;; r++) {
        if (r[0] == '%' && r[1] == '%')
            r++;
        if ((*w++ = *r) == '\0')
            break;
    }
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[256] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, p));
    pclose(p);
    ck_assert_str_eq(line, "/opt/get key 100% it's\n");
    free(cmd);
    free(text);
    env[1].value = "/opt/get\nkey";
    ck_assert_ptr_null(conf_full(&c, &rc, &err));
    ck_assert_int_eq(rc, PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "PGPITR_ENCRYPTION_KEY_COMMAND"));
}
END_TEST

/* --standby: the backup's primary_conninfo & co. are not emptied, and the standby follows the
 * newest timeline unless one was asked for. */
START_TEST(recovery_settings_standby)
{
    int rc;
    PgpErr err;
    RestoreTargetSpec t = {.kind = RESTORE_TARGET_LATEST};
    static const PgServerSetting set[] = {{"primary_conninfo", "host=p"}};
    RestoreRecoveryConf c = {.target = &t, .timeline = 2, .standby = true, .settings = set,
                             .n_settings = 1, .settings_comment = "# --set"};
    char *text = conf_full(&c, &rc, &err);
    ck_assert_str_eq(text, "# added by pgpitr restore of backup L\n" RC_LINE
                           "recovery_target = ''\n"
                           "recovery_target_lsn = ''\n"
                           "recovery_target_name = ''\n"
                           "recovery_target_time = ''\n"
                           "recovery_target_xid = ''\n"
                           "recovery_target_inclusive = 'on'\n"
                           "recovery_target_timeline = 'latest'\n" ARCHIVE_OFF
                           "# --set\n"
                           "primary_conninfo = 'host=p'\n");
    free(text);
    t.timeline = "2";
    c.n_settings = 0;
    text = conf_full(&c, &rc, &err);
    ck_assert_ptr_nonnull(strstr(text, "recovery_target_timeline = '2'\n"));
    ck_assert_ptr_null(strstr(text, "primary_conninfo"));
    free(text);
}
END_TEST

START_TEST(tablespace_map_text)
{
    static const char in[] = "16385 /srv/ts1\n16386 /srv/a\\\\b\\\nc\n16387 /x\n";
    RestoreTsRelocation rel[] = {{16386, "/new/x\ny\\z"}, {99, "/unused"}};
    char *out = NULL;
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(restore_tablespace_map_text(in, strlen(in), rel, 2, &out, &err), 0);
    ck_assert_str_eq(out, "16385 /srv/ts1\n16386 /new/x\\\ny\\\\z\n16387 /x\n");
    free(out);
    ck_assert_int_eq(restore_tablespace_map_text(in, strlen(in), rel, 0, &out, &err), 0);
    ck_assert_str_eq(out, in);
    free(out);
    static const char crlf[] = "16386 /old\r\n";
    ck_assert_int_eq(restore_tablespace_map_text(crlf, strlen(crlf), rel, 1, &out, &err), 0);
    ck_assert_str_eq(out, "16386 /new/x\\\ny\\\\z\r\n");
    free(out);
    ck_assert_int_eq(restore_tablespace_map_text("", 0, rel, 1, &out, &err), 0);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

/* ---- restore_delta_clean ------------------------------------------------------------------ */

static char tdir[128];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static const char *at(const char *rel)
{
    static char bufs[8][512];
    static int next;
    char *p = bufs[next++ % 8];
    snprintf(p, sizeof bufs[0], "%s/%s", tdir, rel);
    return p;
}

static void touch(const char *rel)
{
    FILE *f = fopen(at(rel), "w");
    ck_assert_ptr_nonnull(f);
    fputs("x", f);
    fclose(f);
}

static bool exists(const char *rel)
{
    struct stat st;
    return lstat(at(rel), &st) == 0;
}

START_TEST(delta_clean)
{
    snprintf(tdir, sizeof tdir, "/tmp/pgpitr_test_delta.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tdir));
    static const char *const dirs[] = {"d", "d/base", "d/base/1", "d/pg_wal", "d/stray",
                                       "d/stray/sub", "d/was_dir", "d/pg_tblspc", "ts",
                                       "ts/PG_15_x", "ts/PG_16_other", "outside"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        ck_assert_int_eq(mkdir(at(dirs[i]), 0700), 0);
    static const char *const files[] = {"d/PG_VERSION", "d/base/1/1259", "d/base/1/old",
                                        "d/pg_wal/000000010000000000000001", "d/stray/sub/f",
                                        "d/was_dir/f", "d/was_file", "ts/PG_15_x/keep",
                                        "ts/PG_15_x/old", "ts/PG_16_other/f", "outside/f"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        touch(files[i]);
    ck_assert_int_eq(symlink(at("outside"), at("d/pg_tblspc/16385")), 0);
    ck_assert_int_eq(symlink(at("outside"), at("d/link_to_outside")), 0);
    ck_assert_int_eq(symlink("../base", at("d/pg_logical_link")), 0);

    char *p[11];
    RestoreExpected e[11];
    const struct { const char *rel; ManifestEntryType type; } want[] = {
        {"d/PG_VERSION", MANIFEST_FILE}, {"d/base", MANIFEST_DIR}, {"d/base/1", MANIFEST_DIR},
        {"d/base/1/1259", MANIFEST_FILE}, {"d/pg_wal", MANIFEST_DIR},
        {"d/was_dir", MANIFEST_FILE}, {"d/was_file", MANIFEST_DIR},
        {"d/pg_tblspc", MANIFEST_DIR}, {"d/pg_logical_link", MANIFEST_SYMLINK},
        {"ts/PG_15_x", MANIFEST_DIR}, {"ts/PG_15_x/keep", MANIFEST_FILE}};
    for (size_t i = 0; i < 11; i++) {
        p[i] = strdup(at(want[i].rel));
        e[i] = (RestoreExpected){.path = p[i], .type = want[i].type};
    }
    restore_expected_sort(e, 11);
    PgpErr err;
    pgp_err_clear(&err);
    uint64_t removed = 0;
    ck_assert_int_eq(restore_delta_clean(at("d"), e, 11, false, &removed, &err), 0);
    ck_assert_int_eq(restore_delta_clean(at("ts"), e, 11, true, &removed, &err), 0);
    ck_assert_int_eq(restore_delta_clean(at("missing"), e, 11, false, &removed, &err), 0);
    /* kept */
    ck_assert(exists("d/PG_VERSION") && exists("d/base/1/1259") && exists("d/pg_wal"));
    ck_assert(exists("ts/PG_15_x/keep") && exists("ts/PG_16_other/f"));
    /* gone: unlisted, wrong type, every symlink (never followed) */
    ck_assert(!exists("d/base/1/old") && !exists("d/pg_wal/000000010000000000000001"));
    ck_assert(!exists("d/stray") && !exists("d/was_dir") && !exists("d/was_file"));
    ck_assert(!exists("d/pg_tblspc/16385") && !exists("d/link_to_outside"));
    ck_assert(!exists("d/pg_logical_link") && !exists("ts/PG_15_x/old"));
    ck_assert(exists("outside/f"));
    /* unlisted: old, WAL segment, stray, link_to_outside, pg_tblspc/16385, PG_15_x/old */
    ck_assert_uint_eq(removed, 6);
    for (size_t i = 0; i < 11; i++)
        free(p[i]);
    nftw(tdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

Suite *suite_restore_conf(void)
{
    Suite *s = suite_create("restore_conf");
    TCase *tc = tcase_create("text");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, parse_times);
    tcase_add_test(tc, time_error_quoted);
    tcase_add_test(tc, time_after_9999);
    tcase_add_test(tc, format_times);
    tcase_add_test(tc, recovery_settings_per_target);
    tcase_add_test(tc, recovery_settings_archive_and_overrides);
    tcase_add_test(tc, restore_command_quoting);
    tcase_add_test(tc, restore_command_line_breaks);
    tcase_add_test(tc, restore_command_config_and_repo);
    tcase_add_test(tc, restore_command_env);
    tcase_add_test(tc, recovery_settings_standby);
    tcase_add_test(tc, tablespace_map_text);
    tcase_add_test(tc, delta_clean);
    suite_add_tcase(s, tc);
    return s;
}
