/*
 * notify.c - `pgpitr notify UNIT`, run by pgpitr-notify@.service when a pgpitr unit fails
 * (OnFailure=): builds a JSON event (the unit, its result and exit status from systemctl show,
 * its last log lines from journalctl, the host, the time) and runs the site's notify-command
 * with that event on its stdin, within notify-timeout.
 *
 * Nothing from outside reaches a shell: the unit name must be a systemd unit name (a
 * character set without a shell's special characters) and is passed to systemctl and
 * journalctl as an argument of its own (runcmd, no shell); the log lines only ever travel
 * inside the JSON on stdin. notify-command itself is the administrator's text and runs
 * through /bin/sh (so that it may be a pipeline), with the event on stdin and nothing of the
 * event in its command line or environment.
 * What systemctl or journalctl cannot say is left null and named in "errors": a notification
 * with less detail beats none.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/proc.h"
#include "pgpitr/common/runcmd.h"

#define NOTIFY_UNIT_MAX 255        /* systemd's limit on a unit name */
#define NOTIFY_LOG_LINES "20"
#define NOTIFY_CAPTURE_MAX (64 * 1024)
#define NOTIFY_ASK_TIMEOUT_S 30    /* systemctl and journalctl each */

/* systemd's unit name characters: ASCII letters, digits, ":-_.\" and "@". */
static bool unit_name_valid(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > NOTIFY_UNIT_MAX)
        return false;
    for (const char *p = u; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr(":-_.\\@", *p) != NULL))
            return false;
    return true;
}

/* A JSON string of bytes from outside: as they are when UTF-8, else printable ASCII. */
static json_t *text_json(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j != NULL)
        return j;
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        copy[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    j = json_stringn(copy, n);
    free(copy);
    return j;
}

static void add_error(json_t *ev, const char *fmt, const char *what)
{
    char msg[PGP_ERR_MSG_MAX + 64];
    snprintf(msg, sizeof msg, fmt, what);
    json_array_append_new(json_object_get(ev, "errors"), text_json(msg, strlen(msg)));
}

/* Runs argv, capturing stdout; a failure is added to the event's errors (NULL returned). */
static char *ask(json_t *ev, char *const argv[])
{
    RunCmdResult r;
    PgpErr e = {0};
    if (runcmd(argv, -1, NOTIFY_CAPTURE_MAX, NOTIFY_ASK_TIMEOUT_S, &r, &e) != 0) {
        add_error(ev, "%s", e.msg);
        return NULL;
    }
    if (r.timed_out || r.exit_status != 0) {
        char what[128];
        snprintf(what, sizeof what, "%s %s", argv[0],
                 r.timed_out ? "did not answer in time" : "failed");
        add_error(ev, "%s", what);
        runcmd_result_free(&r);
        return NULL;
    }
    return r.out;   /* owned by the caller */
}

/* systemctl show: Result, ExecMainStatus and the states into the event. */
static void add_systemd(json_t *ev, const char *unit)
{
    char *argv[] = {"systemctl", "show",
                    "--property=Result,ExecMainStatus,ExecMainCode,ActiveState,SubState,"
                    "InvocationID",
                    "--", (char *)unit, NULL};
    char *out = ask(ev, argv);
    json_t *props = json_object();
    for (char *save = NULL, *l = out ? strtok_r(out, "\n", &save) : NULL; l;
         l = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(l, '=');
        if (eq == NULL || eq == l)
            continue;
        *eq = '\0';
        json_object_set_new(props, l, text_json(eq + 1, strlen(eq + 1)));
    }
    json_t *res = json_object_get(props, "Result");
    const char *st = json_string_value(json_object_get(props, "ExecMainStatus"));
    char *end = NULL;
    long status = st ? strtol(st, &end, 10) : 0;
    json_object_set(ev, "result", res ? res : json_null());
    json_object_set_new(ev, "exit_status", st && *st && *end == '\0' ? json_integer(status)
                                                                      : json_null());
    json_object_set_new(ev, "systemd", props);
    free(out);
}

/* journalctl: the unit's last lines, one string each. */
static void add_log(json_t *ev, const char *unit)
{
    char unit_arg[NOTIFY_UNIT_MAX + 8];
    snprintf(unit_arg, sizeof unit_arg, "--unit=%s", unit);
    char *argv[] = {"journalctl", unit_arg, "-n", NOTIFY_LOG_LINES, "--no-pager",
                    "--output=short-iso", NULL};
    char *out = ask(ev, argv);
    json_t *lines = json_array();
    for (char *p = out, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        json_array_append_new(lines, text_json(p, n));
    }
    json_object_set_new(ev, "log", lines);
    free(out);
}

static json_t *build_event(const char *unit)
{
    char host[PROC_HOST_MAX] = "";
    PgpErr e = {0};
    json_t *ev = json_pack("{s:s, s:s, s:[]}", "event", "unit-failed", "unit", unit, "errors");
    if (ev == NULL)
        return NULL;
    if (proc_hostname(host, &e) != 0)
        add_error(ev, "%s", e.msg);
    json_object_set_new(ev, "host", host[0] ? text_json(host, strlen(host)) : json_null());
    json_object_set_new(ev, "time", repo_json_time((int64_t)time(NULL)));
    json_object_set_new(ev, "pgpitr_version", json_string(PGPITR_VERSION));
    add_systemd(ev, unit);
    add_log(ev, unit);
    return ev;
}

/* notify-command through /bin/sh with text on stdin (a memory file: never blocks on a pipe
 * the command does not read). */
static int run_notify_command(const char *command, const char *text, long timeout_s,
                              PgpErr *err)
{
    int fd = memfd_create("pgpitr-notify-event", MFD_CLOEXEC);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create the event's file");
    size_t n = strlen(text);
    if (write(fd, text, n) != (ssize_t)n) {
        close(fd);
        return PGP_FAIL_SYS(err, errno, "cannot write the event's file");
    }
    char *argv[] = {"/bin/sh", "-c", (char *)command, NULL};
    RunCmdResult r;
    int rc = runcmd(argv, fd, 0, (int)timeout_s, &r, err);
    close(fd);
    if (rc != 0)
        return rc;
    if (r.timed_out)
        rc = PGP_FAIL(err, PGP_ERR_IO, "notify-command did not finish within %ld s (killed)",
                      timeout_s);
    else if (r.signal != 0)
        rc = PGP_FAIL(err, PGP_ERR_IO, "notify-command was killed by signal %d", r.signal);
    else if (r.exit_status != 0)
        rc = PGP_FAIL(err, PGP_ERR_IO, "notify-command exited with status %d", r.exit_status);
    runcmd_result_free(&r);
    return rc;
}

static int notify(const CmdSettings *s, const char *unit, PgpErr *err)
{
    long timeout_s = 60;
    int64_t t = 0;
    int rc = cmd_opt_duration_setting(s, CMD_OPT_NOTIFY_TIMEOUT, NULL, &t, err);
    if (rc != 0)
        return rc;
    if (t > 0)
        timeout_s = (long)t;
    const char *command = cmd_opt_setting(s, CMD_OPT_NOTIFY_COMMAND, NULL);
    json_t *ev = build_event(unit);
    char *text = ev ? json_dumps(ev, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
    json_decref(ev);
    if (text == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (line == NULL) {
        free(text);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    memcpy(line + n, "\n", 2);
    if (command == NULL || command[0] == '\0') {
        fputs(line, stdout);     /* the journal keeps it at least */
        rc = PGP_FAIL(err, PGP_ERR_CONFIG,
                      "no notify-command configured: the event for \"%s\" went nowhere\n"
                      "HINT: set notify-command in the configuration file or "
                      "PGPITR_NOTIFY_COMMAND (docs/metrics.md)", unit);
    } else {
        rc = run_notify_command(command, line, timeout_s, err);
    }
    free(line);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_notify, .positional = true};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || a.help)
        return rc;
    if (argc - a.first != 1)
        return cmd_usage_error(err, &cmd_notify, "expected one argument, the failed unit");
    const char *unit = argv[a.first];
    char q[PGP_QUOTE_BUF];
    if (!unit_name_valid(unit))
        return cmd_usage_error(err, &cmd_notify, "\"%s\" is not a systemd unit name",
                               pgp_quote(unit, q));
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;
    rc = notify(&s, unit, err);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_notify = {
    .name = "notify",
    .summary = "tell the site a pgpitr unit failed (run by pgpitr-notify@.service)",
    .usage =
        "usage: pgpitr [--config FILE] notify UNIT\n"
        "\n"
        "Builds a JSON event for the failed systemd unit UNIT (its result and exit status\n"
        "from systemctl show, its last 20 log lines from journalctl, the host and the time)\n"
        "and runs notify-command (/bin/sh -c) with the event on its stdin, killing it after\n"
        "notify-timeout. pgpitr-notify@.service runs it through OnFailure= of the backup,\n"
        "drill and expire units. docs/metrics.md describes the event.\n"
        "\n"
        "settings (no flags):\n"
        "  notify-command          env PGPITR_NOTIFY_COMMAND: what to run with the event\n"
        "  notify-timeout          env PGPITR_NOTIFY_TIMEOUT (default 60s)\n",
    .run = run,
    .exit_ok = "notify-command ran and exited 0",
    .exit_other = "3 when no notify-command is configured (the event is printed on stdout); "
                  "5 when notify-command failed, was killed or ran out of time",
};
