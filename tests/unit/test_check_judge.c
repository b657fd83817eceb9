/*
 * test_check_judge.c - `pgpitr check`'s judge (src/repo/check_judge.c) on fabricated facts:
 * every status of every check with its reason, the overall status and the Nagios first
 * line, and the archive_command parser (sound quoting, wrappers, --repo over --config).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/repo/check_judge.h"

#define NOW INT64_C(2000000000)
#define SEGSIZE (16u << 20)

/* A healthy world: a bound repository, one complete backup an hour old, WAL archived a
 * minute ago, a passed drill a day old, a connected primary archiving to this repository. */
typedef struct World {
    Info info;
    BackupManifest m;
    CatalogBackup b;
    CatalogWal newest;
    CatalogGap gap;
    CheckFacts f;
    CheckReport r;
} World;

static World *world(void)
{
    static World w;
    memset(&w, 0, sizeof w);
    w.info.now = NOW;
    w.info.cat.bound = true;
    w.info.cat.id = (RepoIdentity){.system_identifier = 42, .pg_major = 15,
                                   .wal_segsize = SEGSIZE};
    w.m.start_lsn = (uint64_t)10 * SEGSIZE;
    w.m.stop_time = NOW - 3600;
    w.m.stored_size = 1000;
    snprintf(w.b.label, sizeof w.b.label, "base1");
    w.b.status = CATALOG_BACKUP_COMPLETE;
    w.b.manifest = &w.m;
    w.info.cat.backups = &w.b;
    w.info.cat.n_backups = 1;
    w.newest.mtime = NOW - 60;
    w.info.newest = &w.newest;
    w.info.drill.found = true;
    snprintf(w.info.drill.id, sizeof w.info.drill.id, "20330517T000000Z");
    snprintf(w.info.drill.status, sizeof w.info.drill.status, "passed");
    w.info.drill.started_t = NOW - 86400;
    w.info.rpo_objective_s = 300;
    w.info.backup_max_age_s = 26 * 3600;
    w.info.drill_max_age_s = 32 * 86400;
    CheckFacts *f = &w.f;
    f->now = NOW;
    snprintf(f->repo_path, sizeof f->repo_path, "/srv/repo");
    f->repo_local = true;
    f->info = &w.info;
    f->fs_known = true;
    f->fs_total = 1000000;
    f->fs_avail = 500000;
    f->server_sysid = 42;
    f->server_major = 15;
    snprintf(f->archive_mode, sizeof f->archive_mode, "on");
    snprintf(f->archive_command, sizeof f->archive_command, "pgpitr --repo /srv/repo archive-push %%p");
    f->ac.kind = CHECK_AC_REPO;
    snprintf(f->ac_repo, sizeof f->ac_repo, "/srv/repo/");
    snprintf(f->test_wal, sizeof f->test_wal, "00000001000000000000000C");
    f->test_archived = true;
    f->test_waited_s = 1;
    f->test_timeout_s = 60;
    f->archived_count = 12;
    f->last_archived_us = (NOW - 60) * 1000000;
    return &w;
}

static void judge(World *w)
{
    check_judge(&w->f, &w->r);
}

/* The check's status and a part of its reason. */
static void expect(World *w, CheckId id, CheckStatus st, const char *part)
{
    judge(w);
    const CheckResult *r = &w->r.r[id];
    ck_assert_msg(r->status == st, "%s: %s (%s), expected %s", check_name(id),
                  check_status_name(r->status), r->reason, check_status_name(st));
    ck_assert_msg(strstr(r->reason, part) != NULL, "%s: \"%s\" not in \"%s\"", check_name(id),
                  part, r->reason);
    ck_assert_ptr_null(strchr(r->reason, '\n'));
}

START_TEST(healthy)
{
    World *w = world();
    judge(w);
    for (int i = 0; i < CHECK__COUNT; i++) {
        CheckStatus want = i == CHECK_DRILL_OBJECTIVES ? CHECK_SKIPPED : CHECK_OK;
        ck_assert_msg(w->r.r[i].status == want, "%s: %s: %s", check_name((CheckId)i),
                      check_status_name(w->r.r[i].status), w->r.r[i].reason);
    }
    ck_assert_int_eq(w->r.overall, CHECK_OK);
    char line[1024];
    check_summary(&w->r, line, sizeof line);
    ck_assert_str_eq(line, "PGPITR CHECK OK - 13 checks, 1 skipped");
}
END_TEST

START_TEST(config_and_repository)
{
    World *w = world();
    snprintf(w->f.config_error, sizeof w->f.config_error, "invalid drill-max-age \"x\"");
    expect(w, CHECK_CONFIG, CHECK_CRITICAL, "drill-max-age");
    expect(w, CHECK_BACKUP_AGE, CHECK_OK, "base1");   /* the rest still runs */
    w = world();
    snprintf(w->f.probe_error, sizeof w->f.probe_error, "read-only file system");
    expect(w, CHECK_REPOSITORY, CHECK_CRITICAL, "not writable: read-only");
    w = world();
    expect(w, CHECK_REPOSITORY, CHECK_OK, "readable and writable");
    snprintf(w->f.repo_error, sizeof w->f.repo_error, "directory \"/srv/repo\" does not exist");
    w->f.info = NULL;
    expect(w, CHECK_REPOSITORY, CHECK_CRITICAL, "does not exist");
    for (CheckId id = CHECK_ARCHIVE_HOLES; id <= CHECK_DRILL_OBJECTIVES; id++)
        if (id != CHECK_FREE_SPACE)
            expect(w, id, CHECK_SKIPPED, "cannot be read");
    expect(w, CHECK_CLUSTER, CHECK_SKIPPED, "cannot be read");
}
END_TEST

START_TEST(server_skipped_or_unreachable)
{
    World *w = world();
    snprintf(w->f.pg_skip, sizeof w->f.pg_skip, "no --pg-conn");
    for (CheckId id = CHECK_CLUSTER; id <= CHECK_ARCHIVER; id++)
        expect(w, id, CHECK_SKIPPED, "no --pg-conn");
    w = world();
    snprintf(w->f.pg_error, sizeof w->f.pg_error, "cannot connect to the server: refused");
    expect(w, CHECK_CLUSTER, CHECK_CRITICAL, "cannot connect");
    for (CheckId id = CHECK_ARCHIVE_MODE; id <= CHECK_ARCHIVER; id++)
        expect(w, id, CHECK_SKIPPED, "no connection");
}
END_TEST

START_TEST(cluster)
{
    World *w = world();
    expect(w, CHECK_CLUSTER, CHECK_OK, "system identifier 42, PostgreSQL 15");
    w->f.server_sysid = 43;
    expect(w, CHECK_CLUSTER, CHECK_CRITICAL, "belongs to system identifier 42");
    w->f.server_sysid = 42;
    w->f.server_major = 16;
    expect(w, CHECK_CLUSTER, CHECK_CRITICAL, "repository holds PostgreSQL 15");
    w->f.server_major = 15;
    snprintf(w->f.sysid_error, sizeof w->f.sysid_error, "permission denied for function");
    expect(w, CHECK_CLUSTER, CHECK_WARNING, "HINT: GRANT EXECUTE ON FUNCTION pg_control_system");
    w->info.cat.bound = false;
    expect(w, CHECK_CLUSTER, CHECK_WARNING, "not bound");
}
END_TEST

START_TEST(archive_mode)
{
    World *w = world();
    snprintf(w->f.archive_mode, sizeof w->f.archive_mode, "always");
    expect(w, CHECK_ARCHIVE_MODE, CHECK_OK, "always");
    snprintf(w->f.archive_mode, sizeof w->f.archive_mode, "off");
    expect(w, CHECK_ARCHIVE_MODE, CHECK_CRITICAL, "nothing is archived");
    w->f.standby = true;
    expect(w, CHECK_ARCHIVE_MODE, CHECK_WARNING, "once promoted");
    snprintf(w->f.archive_mode, sizeof w->f.archive_mode, "on");
    expect(w, CHECK_ARCHIVE_MODE, CHECK_OK, "archives once promoted");
    snprintf(w->f.settings_error, sizeof w->f.settings_error, "permission denied");
    expect(w, CHECK_ARCHIVE_MODE, CHECK_WARNING, "permission denied");
    expect(w, CHECK_ARCHIVE_COMMAND, CHECK_WARNING, "permission denied");
}
END_TEST

START_TEST(archive_command)
{
    World *w = world();
    expect(w, CHECK_ARCHIVE_COMMAND, CHECK_OK, "this repository");
    snprintf(w->f.ac_note, sizeof w->f.ac_note, " (through \"/x/archive.sh\")");
    expect(w, CHECK_ARCHIVE_COMMAND, CHECK_OK, "through \"/x/archive.sh\"");
    snprintf(w->f.ac_repo, sizeof w->f.ac_repo, "/srv/other");
    expect(w, CHECK_ARCHIVE_COMMAND, CHECK_CRITICAL, "archives to \"/srv/other\"");
    w->f.ac_repo[0] = '\0';
    w->f.ac.kind = CHECK_AC_NOT_PGPITR;
    expect(w, CHECK_ARCHIVE_COMMAND, CHECK_CRITICAL, "does not run pgpitr");
    w->f.ac.kind = CHECK_AC_DEFAULT;
    expect(w, CHECK_ARCHIVE_COMMAND, CHECK_WARNING, "without --repo or --config");
    w->f.ac.kind = CHECK_AC_UNKNOWN;
    snprintf(w->f.ac.value, sizeof w->f.ac.value, "shell operators before archive-push");
    expect(w, CHECK_ARCHIVE_COMMAND, CHECK_WARNING, "cannot tell");
    w->f.archive_command[0] = '\0';
    expect(w, CHECK_ARCHIVE_COMMAND, CHECK_CRITICAL, "empty");
    ck_assert(check_archives_elsewhere(&w->f));
    w = world();
    ck_assert(!check_archives_elsewhere(&w->f));            /* "/srv/repo/" is "/srv/repo" */
    snprintf(w->f.ac_repo, sizeof w->f.ac_repo, "/srv/other");
    ck_assert(check_archives_elsewhere(&w->f));
    w->f.ac_repo[0] = '\0';
    w->f.ac.kind = CHECK_AC_UNKNOWN;                         /* cannot tell: test it */
    ck_assert(!check_archives_elsewhere(&w->f));
    w->f.ac.kind = CHECK_AC_NOT_PGPITR;
    ck_assert(check_archives_elsewhere(&w->f));
}
END_TEST

START_TEST(archive_test)
{
    World *w = world();
    expect(w, CHECK_ARCHIVE_TEST, CHECK_OK, "00000001000000000000000C archived in 1s");
    w->f.test_archived = false;
    expect(w, CHECK_ARCHIVE_TEST, CHECK_CRITICAL, "not in the repository after 60s");
    snprintf(w->f.test_error, sizeof w->f.test_error, "permission denied for function "
             "pg_create_restore_point");
    expect(w, CHECK_ARCHIVE_TEST, CHECK_CRITICAL, "permission denied");
    w->f.test_denied = true;
    expect(w, CHECK_ARCHIVE_TEST, CHECK_WARNING, "HINT: GRANT EXECUTE");
    snprintf(w->f.test_skip, sizeof w->f.test_skip, "the server is a standby");
    expect(w, CHECK_ARCHIVE_TEST, CHECK_SKIPPED, "standby");
}
END_TEST

START_TEST(archiver)
{
    World *w = world();
    expect(w, CHECK_ARCHIVER, CHECK_OK, "12 archived, no failure");
    w->f.failed_count = 3;
    w->f.last_failed_us = (NOW - 120) * 1000000;
    expect(w, CHECK_ARCHIVER, CHECK_OK, "recovered from 3 failures");
    /* a success in the same second as the failure, after it: recovered */
    w->f.last_failed_us = (NOW - 60) * 1000000 - 300000;
    expect(w, CHECK_ARCHIVER, CHECK_OK, "recovered from 3 failures");
    w->f.last_failed_us = (NOW - 10) * 1000000;
    snprintf(w->f.last_failed_wal, sizeof w->f.last_failed_wal, "00000001000000000000000D");
    expect(w, CHECK_ARCHIVER, CHECK_CRITICAL, "last failure 00000001000000000000000D at "
           "2033-05-18T03:33:10Z, no success since");
    w->f.last_archived_us = 0;
    expect(w, CHECK_ARCHIVER, CHECK_CRITICAL, "nothing archived since the server started");
    snprintf(w->f.archiver_error, sizeof w->f.archiver_error, "permission denied");
    expect(w, CHECK_ARCHIVER, CHECK_WARNING, "permission denied");
    w->f.standby = true;
    expect(w, CHECK_ARCHIVER, CHECK_SKIPPED, "standby");
}
END_TEST

START_TEST(holes)
{
    World *w = world();
    expect(w, CHECK_ARCHIVE_HOLES, CHECK_OK, "no hole");
    /* a hole before the oldest backup's start does not matter */
    w->gap = (CatalogGap){.tli = 1, .from_segno = 3, .to_segno = 5};
    w->info.gaps = &w->gap;
    w->info.n_gaps = 1;
    expect(w, CHECK_ARCHIVE_HOLES, CHECK_OK, "no hole");
    w->gap.to_segno = 10;
    expect(w, CHECK_ARCHIVE_HOLES, CHECK_CRITICAL, "1 hole since the oldest backup, the first "
           "000000010000000000000003..00000001000000000000000A");
    w->b.status = CATALOG_BACKUP_INCOMPLETE;
    expect(w, CHECK_ARCHIVE_HOLES, CHECK_SKIPPED, "no complete backup");
}
END_TEST

START_TEST(backup_age)
{
    World *w = world();
    expect(w, CHECK_BACKUP_AGE, CHECK_OK, "base1 is 1h 00min old (max 1d 02h)");
    w->info.backup_max_age_s = 1800;
    expect(w, CHECK_BACKUP_AGE, CHECK_CRITICAL, "more than backup-max-age 30min");
    w->info.backup_max_age_s = 0;
    expect(w, CHECK_BACKUP_AGE, CHECK_OK, "backup-max-age not set");
    w->b.status = CATALOG_BACKUP_CORRUPT;
    expect(w, CHECK_BACKUP_AGE, CHECK_CRITICAL, "no complete backup");
}
END_TEST

START_TEST(drill)
{
    World *w = world();
    expect(w, CHECK_DRILL, CHECK_OK, "passed, 1d 00h old");
    w->info.drill_max_age_s = 3600;
    expect(w, CHECK_DRILL, CHECK_WARNING, "more than drill-max-age 1h");
    w->info.drill.started_t = 0;
    expect(w, CHECK_DRILL, CHECK_WARNING, "of unknown age");
    w->info.drill_max_age_s = 0;
    expect(w, CHECK_DRILL, CHECK_OK, "drill-max-age not set");
    snprintf(w->info.drill.status, sizeof w->info.drill.status, "failed");
    expect(w, CHECK_DRILL, CHECK_CRITICAL, "failed");
    w->info.drill.found = false;
    expect(w, CHECK_DRILL, CHECK_WARNING, "no drill report");
}
END_TEST

START_TEST(free_space)
{
    World *w = world();
    expect(w, CHECK_FREE_SPACE, CHECK_OK, "(50.0%)");
    w->f.fs_avail = 90000;
    expect(w, CHECK_FREE_SPACE, CHECK_WARNING, "below 10%");
    w->f.fs_avail = 40000;
    expect(w, CHECK_FREE_SPACE, CHECK_CRITICAL, "below 5%");
    w->f.fs_avail = 900000;
    w->m.stored_size = 950000;
    expect(w, CHECK_FREE_SPACE, CHECK_CRITICAL, "less than the newest backup");
    w->f.fs_known = false;
    snprintf(w->f.fs_error, sizeof w->f.fs_error, "cannot read the free space");
    expect(w, CHECK_FREE_SPACE, CHECK_WARNING, "cannot read");
    w->f.repo_local = false;
    expect(w, CHECK_FREE_SPACE, CHECK_SKIPPED, "not a local repository");
}
END_TEST

START_TEST(rpo)
{
    World *w = world();
    expect(w, CHECK_RPO, CHECK_OK, "1min old (rpo-objective 5min)");
    w->newest.mtime = NOW - 600;
    expect(w, CHECK_RPO, CHECK_CRITICAL, "more than rpo-objective 5min");
    w->info.newest = NULL;
    expect(w, CHECK_RPO, CHECK_CRITICAL, "nothing archived");
    w->info.rpo_objective_s = 0;
    expect(w, CHECK_RPO, CHECK_SKIPPED, "not set");
}
END_TEST

START_TEST(drill_objectives)
{
    World *w = world();
    expect(w, CHECK_DRILL_OBJECTIVES, CHECK_SKIPPED, "states no objectives");
    InfoDrill *d = &w->info.drill;
    d->has_objectives = true;
    expect(w, CHECK_DRILL_OBJECTIVES, CHECK_SKIPPED, "states no objectives");
    d->obj_rto = (InfoObjective){.set = true, .objective_s = 1800, .measured = true,
                                 .measured_s = 120, .met = true};
    d->obj_rpo = (InfoObjective){.set = true, .objective_s = 300, .measured = true,
                                 .measured_s = 30, .met = true};
    expect(w, CHECK_DRILL_OBJECTIVES, CHECK_OK, "rto 2min <= 30min, rpo 30s <= 5min");
    d->obj_rto.measured_s = 2400;
    d->obj_rto.met = false;
    expect(w, CHECK_DRILL_OBJECTIVES, CHECK_CRITICAL, "missed its objectives: rto 40min > 30min");
    d->obj_rto = (InfoObjective){0};
    d->obj_rpo.measured = false;
    d->obj_rpo.met = false;
    expect(w, CHECK_DRILL_OBJECTIVES, CHECK_CRITICAL, "rpo not measured");
    d->found = false;
    expect(w, CHECK_DRILL_OBJECTIVES, CHECK_SKIPPED, "no drill report");
}
END_TEST

START_TEST(overall_and_summary)
{
    World *w = world();
    w->info.drill.found = false;                       /* drill WARNING */
    judge(w);
    ck_assert_int_eq(w->r.overall, CHECK_WARNING);
    char line[1024];
    check_summary(&w->r, line, sizeof line);
    ck_assert_str_eq(line, "PGPITR CHECK WARNING - 1 warning: drill: no drill report: run "
                     "pgpitr drill");
    snprintf(w->f.ac_repo, sizeof w->f.ac_repo, "/srv/other");   /* CRITICAL */
    judge(w);
    ck_assert_int_eq(w->r.overall, CHECK_CRITICAL);
    ck_assert_int_eq(w->r.n_critical, 1);
    ck_assert_int_eq(w->r.n_warning, 1);
    check_summary(&w->r, line, sizeof line);
    ck_assert_msg(strncmp(line, "PGPITR CHECK CRITICAL - 1 critical, 1 warning: "
                          "archive-command: archive_command archives to", 86) == 0, "%s", line);
    ck_assert_str_eq(check_status_name(CHECK_SKIPPED), "SKIPPED");
}
END_TEST

static void parsed(const char *cmd, bool script_ok, CheckAcKind kind, const char *value)
{
    CheckArchiveCommand ac;
    check_parse_archive_command(cmd, script_ok, &ac);
    ck_assert_msg(ac.kind == kind, "%s: kind %d, expected %d (%s)", cmd, ac.kind, kind, ac.value);
    ck_assert_msg(strstr(ac.value, value) != NULL, "%s: \"%s\" not in \"%s\"", cmd, value,
                  ac.value);
}

START_TEST(parse_archive_command)
{
    parsed("pgpitr --repo /srv/repo archive-push %p", true, CHECK_AC_REPO, "/srv/repo");
    parsed("/usr/bin/pgpitr --repo=/srv/repo archive-push %p", true, CHECK_AC_REPO, "/srv/repo");
    parsed("'/opt/my dir/pgpitr' --repo '/srv/my repo' archive-push \"%p\"", true,
           CHECK_AC_REPO, "/srv/my repo");
    parsed("pgpitr --repo /srv/a\\ b archive-push %p", true, CHECK_AC_REPO, "/srv/a b");
    parsed("env PGPITR_LOG_LEVEL=info pgpitr --log-level warn --repo s3://b/p archive-push %p",
           true, CHECK_AC_REPO, "s3://b/p");
    parsed("exec /x/pgpitr --repo /srv/r archive-push \"$1\" 2>>/log", false, CHECK_AC_REPO,
           "/srv/r");
    parsed("pgpitr --config /etc/p.conf archive-push %p", true, CHECK_AC_CONFIG, "/etc/p.conf");
    /* --repo wins over --config, whatever the order */
    parsed("pgpitr --repo /srv/r --config /etc/p.conf archive-push %p", true, CHECK_AC_REPO,
           "/srv/r");
    parsed("pgpitr --config /etc/p.conf --repo /srv/r archive-push %p", true, CHECK_AC_REPO,
           "/srv/r");
    parsed("pgpitr archive-push %p", true, CHECK_AC_DEFAULT, "");
    parsed("pgpitr --repo \"$REPO\" archive-push %p", true, CHECK_AC_UNKNOWN, "variable");
    parsed("pgpitr --repo $REPO archive-push %p", true, CHECK_AC_UNKNOWN, "variable");
    parsed("$PGPITR --repo /r archive-push %p", true, CHECK_AC_UNKNOWN, "variable");
    parsed("cd /x && pgpitr --repo /r archive-push %p", true, CHECK_AC_UNKNOWN, "");
    parsed("pgpitr --repo /r info", true, CHECK_AC_NOT_PGPITR, "not archive-push");
    parsed("cp %p /mnt/archive/%f", true, CHECK_AC_NOT_PGPITR, "cp");
    parsed("test ! -f /mnt/a/%f && cp %p /mnt/a/%f", true, CHECK_AC_NOT_PGPITR, "does not name");
    parsed("/var/lib/postgresql/archive.sh %p", true, CHECK_AC_SCRIPT,
           "/var/lib/postgresql/archive.sh");
    parsed("sh /var/lib/postgresql/archive.sh %p", true, CHECK_AC_SCRIPT,
           "/var/lib/postgresql/archive.sh");
    parsed("/bin/cp %p /x/%f", false, CHECK_AC_NOT_PGPITR, "/bin/cp");
    parsed("", true, CHECK_AC_NOT_PGPITR, "no command");
}
END_TEST

Suite *suite_check_judge(void)
{
    Suite *s = suite_create("check_judge");
    TCase *tc = tcase_create("judge");
    tcase_add_test(tc, healthy);
    tcase_add_test(tc, config_and_repository);
    tcase_add_test(tc, server_skipped_or_unreachable);
    tcase_add_test(tc, cluster);
    tcase_add_test(tc, archive_mode);
    tcase_add_test(tc, archive_command);
    tcase_add_test(tc, archive_test);
    tcase_add_test(tc, archiver);
    tcase_add_test(tc, holes);
    tcase_add_test(tc, backup_age);
    tcase_add_test(tc, drill);
    tcase_add_test(tc, free_space);
    tcase_add_test(tc, rpo);
    tcase_add_test(tc, drill_objectives);
    tcase_add_test(tc, overall_and_summary);
    tcase_add_test(tc, parse_archive_command);
    suite_add_tcase(s, tc);
    return s;
}
