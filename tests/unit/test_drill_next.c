/*
 * test_drill_next.c - the next step printed after a drill (src/drill/drill_next.c): shell
 * quoting, the commands for a kept server (start, connect, stop, remove), the same drill
 * again with --keep, the failure's own HINT and `pgpitr verify` when recovery stopped or the
 * restore found a damaged object, and a
 * HINT that never holds `rm -rf` nor half a command.
 */
#include "pgpitr/drill/drill_next.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *word(const char *s)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    drill_shell_word(f, s);
    fclose(f);
    return out;
}

START_TEST(shell_words)
{
    static const char *const cases[][2] = {
        {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/15/bin"},
        {"--check-sql=/etc/x.sql", "--check-sql=/etc/x.sql"},
        {"a b", "'a b'"},
        {"it's", "'it'\\''s'"},
        {"", "''"},
        {"$(rm -rf /)", "'$(rm -rf /)'"},
        {"2026-11-22T03:15:07+01:00", "2026-11-22T03:15:07+01:00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *w = word(cases[i][0]);
        ck_assert_str_eq(w, cases[i][1]);
        free(w);
    }
}
END_TEST

static char *const drill_args[] = {"--check-sql", "/etc/pgpitr/my checks.sql"};
static const char *const globals[] = {"--repo", "/var/lib/pgpitr"};

static DrillNext next_of(void)
{
    return (DrillNext){.exe = "/usr/bin/pgpitr", .globals = globals, .n_globals = 2,
                       .args = drill_args, .n_args = 2, .repo_path = "/var/lib/pgpitr",
                       .stored = true, .bin_dir = "/usr/lib/postgresql/15/bin", .port = "41234",
                       .db = "postgres", .os_user = "postgres", .label = "base1",
                       .server_ran = true};
}

static void failed_report(DrillReport *r, bool recovered, const char *workdir)
{
    drill_report_init(r);
    snprintf(r->id, sizeof r->id, "20261122T040000Z-3fa9");
    r->recovered = recovered;
    drill_report_fail(r, "it broke");
    r->workdir = workdir ? strdup(workdir) : NULL;
}

static char *printed(const DrillNext *n, const DrillReport *r)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    drill_next_print(n, r, f);
    fclose(f);
    return out;
}

/* Kept and recovered: every command exact, in the order a DBA runs them. */
START_TEST(kept_server)
{
    DrillNext n = next_of();
    DrillReport r;
    failed_report(&r, true, "/tmp/pgpitr-drill.AbC123");
    char *text = printed(&n, &r);
    ck_assert_str_eq(text,
        "  report:  /var/lib/pgpitr/drill/20261122T040000Z-3fa9.json\n"
        "  next:    as OS user postgres, start the kept server, connect to it, then stop it and "
        "remove its files:\n"
        "           start:   /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pgpitr-drill.AbC123/data "
        "-l /tmp/pgpitr-drill.AbC123/postgres.log -w start\n"
        "           connect: /usr/lib/postgresql/15/bin/psql -h /tmp/pgpitr-drill.AbC123 -p 41234 "
        "-d postgres\n"
        "           stop:    /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pgpitr-drill.AbC123/data "
        "-m fast -w stop\n"
        "           remove:  rm -rf /tmp/pgpitr-drill.AbC123\n");
    free(text);
    char hint[512];
    drill_next_hint(&n, &r, hint, sizeof hint);
    ck_assert_ptr_nonnull(strstr(hint, "start: /usr/lib/postgresql/15/bin/pg_ctl -D "
                                       "/tmp/pgpitr-drill.AbC123/data -l"));
    ck_assert_ptr_nonnull(strstr(hint, "connect: /usr/lib/postgresql/15/bin/psql -h "
                                       "/tmp/pgpitr-drill.AbC123 -p 41234 -d postgres;"));
    ck_assert_ptr_null(strstr(hint, "rm -rf"));                 /* never in a HINT */
    ck_assert_ptr_nonnull(strstr(hint, "; the report: /var/lib/pgpitr/drill/"
                                       "20261122T040000Z-3fa9.json"));
    /* A HINT too short for every step holds whole steps only, and the report's path. */
    char small[320];
    drill_next_hint(&n, &r, small, sizeof small);
    ck_assert_ptr_null(strstr(small, "connect:"));
    ck_assert_ptr_nonnull(strstr(small, "-w start; the report: /var/lib/pgpitr/drill/"
                                        "20261122T040000Z-3fa9.json"));
    /* --db-user and a binary directory with a blank are quoted for the shell. */
    n.db_user = "dba one";
    n.bin_dir = "/opt/pg 15/bin";
    text = printed(&n, &r);
    ck_assert_ptr_nonnull(strstr(text, "connect: '/opt/pg 15/bin/psql' -h /tmp/pgpitr-drill.AbC123 "
                                       "-p 41234 -d postgres -U 'dba one'\n"));
    free(text);
    drill_report_free(&r);
}
END_TEST

/* Files removed, recovered, a check failed: the same drill again, with --keep. */
START_TEST(again_with_keep)
{
    DrillNext n = next_of();
    n.report_file = "/var/lib/pgpitr/drills/last.json";
    DrillReport r;
    failed_report(&r, true, NULL);
    char *text = printed(&n, &r);
    ck_assert_str_eq(text,
        "  report:  /var/lib/pgpitr/drill/20261122T040000Z-3fa9.json and "
        "/var/lib/pgpitr/drills/last.json\n"
        "  next:    to look at the restored data, run the drill again with --keep and follow "
        "the steps it prints:\n"
        "           /usr/bin/pgpitr --repo /var/lib/pgpitr drill --check-sql "
        "'/etc/pgpitr/my checks.sql' --keep\n");
    free(text);
    char hint[512];
    drill_next_hint(&n, &r, hint, sizeof hint);
    ck_assert_str_eq(hint, "to look at the restored data, run the drill again with --keep and "
                     "follow the steps it prints: /usr/bin/pgpitr --repo /var/lib/pgpitr drill "
                     "--check-sql '/etc/pgpitr/my checks.sql' --keep; the report: "
                     "/var/lib/pgpitr/drill/20261122T040000Z-3fa9.json and "
                     "/var/lib/pgpitr/drills/last.json");
    drill_report_free(&r);

    /* A drill that passed and kept nothing has no next step. */
    drill_report_init(&r);
    snprintf(r.id, sizeof r.id, "20261122T040000Z-3fa9");
    r.recovered = true;
    text = printed(&n, &r);
    ck_assert_ptr_null(strstr(text, "next:"));
    free(text);
    drill_report_free(&r);
}
END_TEST

/* Only the rto-objective missed: the data is fine, no --keep to look at it; where the time
 * went. Another failed check as well: the usual --keep. */
START_TEST(rto_missed)
{
    DrillNext n = next_of();
    DrillReport r;
    drill_report_init(&r);
    snprintf(r.id, sizeof r.id, "20261122T040000Z-3fa9");
    r.recovered = true;
    r.total_s = 95.2;
    drill_report_objectives(&r, 60, 0);
    char *text = printed(&n, &r);
    ck_assert_str_eq(text,
        "  report:  /var/lib/pgpitr/drill/20261122T040000Z-3fa9.json\n"
        "  next:    the restore works but took longer than rto-objective: the report's phases "
        "say where the time went (a newer backup leaves less WAL to replay; --jobs restores "
        "files in parallel)\n");
    free(text);
    char hint[512];
    drill_next_hint(&n, &r, hint, sizeof hint);
    ck_assert_ptr_nonnull(strstr(hint, "the restore works but took longer than rto-objective"));
    ck_assert_ptr_null(strstr(hint, "--keep"));
    drill_report_check(&r, "sql: count", DRILL_CHECK_FAILED, "expected \"5\", got \"4\"");
    text = printed(&n, &r);
    ck_assert_ptr_nonnull(strstr(text, "--keep"));
    free(text);
    drill_report_free(&r);
}
END_TEST

/* Recovery stopped: the failure's HINT first, verify when restore_command failed, the server
 * log (kept) or the same drill again with --keep (removed). */
START_TEST(recovery_stopped)
{
    DrillNext n = next_of();
    n.tool_error = true;
    n.hint = "raise --timeout for a large archive";
    DrillReport r;
    failed_report(&r, false, NULL);
    char *text = printed(&n, &r);
    ck_assert_str_eq(text,
        "  report:  /var/lib/pgpitr/drill/20261122T040000Z-3fa9.json\n"
        "  next:    raise --timeout for a large archive\n"
        "           verify:  /usr/bin/pgpitr --repo /var/lib/pgpitr verify --backup base1  "
        "# restore_command failed: this finds every damaged object the backup needs\n"
        "           again:   /usr/bin/pgpitr --repo /var/lib/pgpitr drill --check-sql "
        "'/etc/pgpitr/my checks.sql' --keep  # keeps the whole server log and the data "
        "directory\n");
    free(text);
    drill_report_free(&r);

    failed_report(&r, false, "/tmp/pgpitr-drill.AbC123");
    n.tool_error = false;
    n.hint = NULL;
    text = printed(&n, &r);
    ck_assert_str_eq(text,
        "  report:  /var/lib/pgpitr/drill/20261122T040000Z-3fa9.json\n"
        "  next:    log:     /tmp/pgpitr-drill.AbC123/postgres.log\n"
        "           remove:  rm -rf /tmp/pgpitr-drill.AbC123\n");
    free(text);
    char hint[512];
    drill_next_hint(&n, &r, hint, sizeof hint);
    ck_assert_str_eq(hint, "log: /tmp/pgpitr-drill.AbC123/postgres.log; the report: "
                     "/var/lib/pgpitr/drill/20261122T040000Z-3fa9.json");
    drill_report_free(&r);

    /* The report could not be kept and the restore failed before any server: no line. */
    n.stored = false;
    n.server_ran = false;
    failed_report(&r, false, NULL);
    text = printed(&n, &r);
    ck_assert_str_eq(text, "");
    free(text);
    drill_next_hint(&n, &r, hint, sizeof hint);
    ck_assert_str_eq(hint, "");
    drill_report_free(&r);
}
END_TEST

/* The restore itself stopped at a damaged object (a flipped bit, a tampered object of an
 * encrypted repository): no server ran; the next step is verify of that backup, which finds
 * every damaged object it needs and the other backups sharing them. */
START_TEST(restore_corrupt)
{
    DrillNext n = next_of();
    n.corrupt = true;
    n.server_ran = false;
    n.hint = "everything this restore created was removed";
    DrillReport r;
    failed_report(&r, false, NULL);
    char *text = printed(&n, &r);
    ck_assert_str_eq(text,
        "  report:  /var/lib/pgpitr/drill/20261122T040000Z-3fa9.json\n"
        "  next:    everything this restore created was removed\n"
        "           verify:  /usr/bin/pgpitr --repo /var/lib/pgpitr verify --backup base1  "
        "# a damaged object: this finds every one the backup needs, and the other backups "
        "sharing them\n");
    free(text);
    drill_report_free(&r);
}
END_TEST

Suite *suite_drill_next(void)
{
    Suite *s = suite_create("drill_next");
    TCase *tc = tcase_create("next");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, shell_words);
    tcase_add_test(tc, kept_server);
    tcase_add_test(tc, again_with_keep);
    tcase_add_test(tc, rto_missed);
    tcase_add_test(tc, recovery_stopped);
    tcase_add_test(tc, restore_corrupt);
    suite_add_tcase(s, tc);
    return s;
}
