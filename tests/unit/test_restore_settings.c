/*
 * test_restore_settings.c - restore's settings beyond the target (src/restore/restore_settings.c):
 * --set parsing and its refusals, --standby's checks, the signal files of a backup, the
 * --config/--repo of restore_command from where restore found them, and the port probe
 * (a TCP listener, a live or stale socket lock file, socket directories as PostgreSQL lists
 * them).
 */
#include <arpa/inet.h>
#include <check.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fx_dir.h"
#include "fx_err.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/restore/restore_settings.h"

static char dir[64];

static void setup(void)
{
    fx_dir_make(dir, sizeof dir, "rsettings");
}

static void teardown(void)
{
    fx_dir_remove(dir);
}

static void put(const char *name, const char *text)
{
    fx_dir_put(dir, name, text);
}

static void sub(const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq(mkdir(path, 0700), 0);
}

/* ---- --set ------------------------------------------------------------------------------ */

static void set_ok(const char *arg, const char *name, const char *value)
{
    PgServerSetting s;
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_msg(restore_set_parse(arg, &s, &err) == 0, "\"%s\": %s", arg, err.msg);
    ck_assert_str_eq(s.name, name);
    ck_assert_str_eq(s.value, value);
    free((char *)s.name);
}

static void set_bad(const char *arg, const char *needle, const char *hint)
{
    PgServerSetting s = {"x", "y"};
    PgpErr err;
    pgp_err_clear(&err);
    ck_assert_int_eq(restore_set_parse(arg, &s, &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, needle);
    ck_assert_ptr_null(s.name);
    if (hint != NULL)
        ck_assert_msg(strstr(err.hint, hint) != NULL, "\"%s\" not in hint \"%s\"", hint, err.hint);
}

START_TEST(set_parse)
{
    set_ok("port=5433", "port", "5433");
    set_ok("unix_socket_directories=/tmp/a b", "unix_socket_directories", "/tmp/a b");
    set_ok("auto_explain.log_min_duration=0", "auto_explain.log_min_duration", "0");
    set_ok("synchronous_standby_names=", "synchronous_standby_names", "");
    set_ok("primary_conninfo=host=p port=5432", "primary_conninfo", "host=p port=5432");
    set_ok("_x1=it's", "_x1", "it's");

    set_bad("port", "expected NAME=VALUE", "--set port=5433");
    set_bad("=5433", "expected NAME=VALUE", NULL);
    set_bad("1port=2", "not a configuration parameter name", NULL);
    set_bad("po rt=1", "not a configuration parameter name", NULL);
    set_bad("a.b.c=1", "not a configuration parameter name", NULL);
    set_bad("a.=1", "not a configuration parameter name", NULL);
    set_bad("port\n=1", "not a configuration parameter name", NULL);
    set_bad("a$b=1", "not a configuration parameter name", NULL);
    set_bad("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234=1",
            "not a configuration parameter name", NULL);
    set_bad("port=1\nrestore_command='evil'", "line break", NULL);
    set_bad("port=1\r", "line break", NULL);
    /* What restore writes itself: the HINT names the option instead. */
    set_bad("recovery_target_time=2026-01-01 00:00:00+00", "cannot set recovery_target_time",
            "--target-time");
    set_bad("recovery_target=immediate", "cannot set recovery_target", "--target-immediate");
    set_bad("Recovery_Target_Timeline=1", "restore writes it itself", "--target-timeline");
    set_bad("recovery_target_action=pause", "restore writes it itself", "--target-action");
    set_bad("RESTORE_COMMAND=cp %f %p", "cannot set RESTORE_COMMAND", "--config");
    set_bad("archive_mode=on", "cannot set archive_mode", "--archive-mode off|preserve");
}
END_TEST

START_TEST(set_check)
{
    PgpErr err;
    PgServerSetting v[] = {{"port", "1"}, {"listen_addresses", ""}, {"PORT", "2"}};
    ck_assert_int_eq(restore_set_check(v, 2, false, &err), 0);
    ck_assert_int_eq(restore_set_check(v, 3, false, &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "--set PORT is given twice");
    PgServerSetting s[] = {{"port", "1"}, {"Primary_Slot_Name", "s"}};
    ck_assert_int_eq(restore_set_check(s, 2, true, &err), 0);
    ck_assert_int_eq(restore_set_check(s, 2, false, &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "--set Primary_Slot_Name needs --standby");
    ck_assert_ptr_nonnull(strstr(err.hint, "never connects to a primary"));
    ck_assert_int_eq(restore_set_check(NULL, 0, false, &err), 0);
}
END_TEST

START_TEST(standby_check)
{
    PgpErr err;
    RestoreRequest req = {.standby = true};
    ck_assert_int_eq(restore_standby_check(&req, &err), 0);
    req.target.timeline = "3";
    ck_assert_int_eq(restore_standby_check(&req, &err), 0);
    req.target.kind = RESTORE_TARGET_IMMEDIATE;
    ck_assert_int_eq(restore_standby_check(&req, &err), PGP_ERR_USAGE);
    fx_assert_printable_err(&err, "--standby takes no recovery target");
    req.standby = false;
    ck_assert_int_eq(restore_standby_check(&req, &err), 0);
}
END_TEST

START_TEST(signal_entries)
{
    bool standby = false;
    ManifestEntry e = {.path = "standby.signal", .type = MANIFEST_FILE};
    ck_assert(restore_signal_entry(&e, &standby));
    ck_assert(standby);
    standby = false;
    e.path = "recovery.signal";
    ck_assert(restore_signal_entry(&e, &standby));
    ck_assert(!standby);
    e.path = "base/standby.signal";
    ck_assert(!restore_signal_entry(&e, &standby));
    e.path = "standby.signal";
    e.tablespace = 16385;   /* in a tablespace: not the data directory's */
    ck_assert(!restore_signal_entry(&e, &standby));
    e.tablespace = 0;
    e.type = MANIFEST_SYMLINK;
    ck_assert(restore_signal_entry(&e, &standby));
    standby = false;
    e.type = MANIFEST_DIR;
    ck_assert(!restore_signal_entry(&e, &standby));
    ck_assert(!standby);
    ck_assert_str_eq(restore_signal_name(true), "standby.signal");
    ck_assert_str_eq(restore_signal_name(false), "recovery.signal");
}
END_TEST

/* ---- restore_command ---------------------------------------------------------------------- */

static void paths(const char *config_text, const char *repo, CmdSource src, RestoreCommandPaths *p,
                  int expect_rc)
{
    char conf[PATH_MAX];
    PgpErr err;
    CmdSettings s = {.repo_path = repo, .repo_source = src};
    if (config_text != NULL) {
        put("p.conf", config_text);
        snprintf(conf, sizeof conf, "%s/p.conf", dir);
        ck_assert_int_eq(config_load(conf, true, &s.config, &err), 0);
    }
    pgp_err_clear(&err);
    RestoreEnv env = {.config_path = config_path(s.config), .repo_path = s.repo_path,
                      .repo_from_config = s.repo_source == CMD_SOURCE_CONFIG};
    int rc = restore_command_paths(&env, p, &err);
    ck_assert_msg(rc == expect_rc, "rc %d: %s", rc, err.msg);
    config_free(s.config);
    ck_assert_ptr_nonnull(strstr(p->bin, "/"));
}

START_TEST(command_paths)
{
    RestoreCommandPaths p;
    char repo[PATH_MAX], conf[PATH_MAX], cfgtext[PATH_MAX + 32];
    sub("repo");
    snprintf(repo, sizeof repo, "%s/repo", dir);
    snprintf(conf, sizeof conf, "%s/p.conf", dir);
    snprintf(cfgtext, sizeof cfgtext, "[global]\nrepo = %s\n", repo);
    /* --repo, no configuration file: --repo only */
    paths(NULL, repo, CMD_SOURCE_FLAG, &p, 0);
    ck_assert_str_eq(p.repo, repo);
    ck_assert_str_eq(p.config, "");
    /* the repository from the configuration file: --config only */
    paths(cfgtext, repo, CMD_SOURCE_CONFIG, &p, 0);
    ck_assert_str_eq(p.config, conf);
    ck_assert_str_eq(p.repo, "");
    /* PGPITR_REPO with a configuration file read: both */
    paths(cfgtext, repo, CMD_SOURCE_ENV, &p, 0);
    ck_assert_str_eq(p.config, conf);
    ck_assert_str_eq(p.repo, repo);
    /* a relative repository in the configuration file: the server runs elsewhere */
    ck_assert_int_eq(chdir(dir), 0);
    paths("[global]\nrepo = repo\n", "repo", CMD_SOURCE_CONFIG, &p, 0);
    ck_assert_str_eq(p.config, conf);
    ck_assert_str_eq(p.repo, repo);
    /* a repository that does not exist cannot be resolved */
    paths(NULL, "/nonexistent/pgpitr-repo", CMD_SOURCE_FLAG, &p, PGP_ERR_IO);
    paths(NULL, NULL, CMD_SOURCE_NONE, &p, PGP_ERR_CONFIG);
}
END_TEST

/* ---- ports ------------------------------------------------------------------------------------ */

/* A TCP socket listening on 127.0.0.1, its port in *port. */
static int listen_tcp(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static RestorePort probe(void)
{
    RestorePort p;
    restore_port_probe(dir, &p);
    return p;
}

START_TEST(port_tcp)
{
    int port;
    int fd = listen_tcp(&port);
    char text[128], conf[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/postgresql.conf", dir);
    snprintf(text, sizeof text, "port = %d\nunix_socket_directories = ''\n", port);
    put("postgresql.conf", text);
    RestorePort p = probe();
    ck_assert_int_eq(p.port, port);
    ck_assert_str_eq(p.source, conf);
    ck_assert(p.in_use);
    ck_assert_ptr_nonnull(strstr(p.holder, "a TCP socket listens on port"));
    ck_assert_int_gt(p.free_port, port);
    /* Unix sockets only: a TCP listener is no collision */
    put("postgresql.auto.conf", "listen_addresses = ''\n");
    ck_assert(!probe().in_use);
    ck_assert_int_eq(probe().free_port, 0);
    close(fd);
    put("postgresql.auto.conf", "");
    ck_assert(!probe().in_use);
}
END_TEST

START_TEST(port_socket_lock)
{
    char text[PATH_MAX * 2], lock[PATH_MAX];
    sub("sock");
    sub("a b");
    /* the last value wins; a quoted name and one relative to the data directory */
    snprintf(text, sizeof text, "port = 5\nlisten_addresses = ''\nport = 54329\n"
             "unix_socket_directories = '\"%s/a b\", sock, @abstract'\n", dir);
    put("postgresql.conf", text);
    RestorePort p = probe();
    ck_assert_int_eq(p.port, 54329);
    ck_assert(!p.in_use);
    snprintf(text, sizeof text, "%d\n/srv/pg/main\n1700000000\n54329\n", (int)getpid());
    put("sock/.s.PGSQL.54329.lock", text);
    snprintf(lock, sizeof lock, "%s/sock/.s.PGSQL.54329.lock", dir);
    p = probe();
    ck_assert(p.in_use);
    ck_assert_ptr_nonnull(strstr(p.holder, lock));
    snprintf(text, sizeof text, "of process %d, data directory \"/srv/pg/main\"", (int)getpid());
    ck_assert_msg(strstr(p.holder, text) != NULL, "%s", p.holder);
    ck_assert_int_eq(p.free_port, 54330);
    /* 54330 held in the other directory: the next one */
    snprintf(text, sizeof text, "%d\n", (int)getpid());
    put("a b/.s.PGSQL.54330.lock", text);
    ck_assert_int_eq(probe().free_port, 54331);
    /* a stale lock file (its process is gone) is no collision: PostgreSQL takes it over */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    snprintf(text, sizeof text, "%d\n", (int)child);
    put("sock/.s.PGSQL.54329.lock", text);
    ck_assert(!probe().in_use);
    put("sock/.s.PGSQL.54329.lock", "not a pid\n");
    ck_assert(!probe().in_use);
}
END_TEST

START_TEST(port_default_and_invalid)
{
    RestorePort p = probe();   /* no configuration at all */
    ck_assert_int_eq(p.port, 5432);
    ck_assert_str_eq(p.source, "");
    put("postgresql.conf", "port = 'abc'\n");
    p = probe();
    ck_assert_int_eq(p.port, 0);
    ck_assert(!p.in_use);
    put("postgresql.conf", "port = 70000\n");
    ck_assert_int_eq(probe().port, 0);
}
END_TEST

Suite *suite_restore_settings(void)
{
    Suite *s = suite_create("restore_settings");
    TCase *tc = tcase_create("restore_settings");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, set_parse);
    tcase_add_test(tc, set_check);
    tcase_add_test(tc, standby_check);
    tcase_add_test(tc, signal_entries);
    tcase_add_test(tc, command_paths);
    tcase_add_test(tc, port_tcp);
    tcase_add_test(tc, port_socket_lock);
    tcase_add_test(tc, port_default_and_invalid);
    suite_add_tcase(s, tc);
    return s;
}
