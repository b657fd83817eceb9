/*
 * drill_next.c - the report's path and the next step after a drill (drill_next.h), as text
 * for the summary and as the failed drill's HINT. Every command printed here is meant to be
 * copied as it is: paths are shell-quoted, programs named by their full path (pg_ctl is not
 * in PATH on Debian), and the kept server is reached through its private socket directory,
 * where its port cannot collide with anything (the drill server listens on no TCP port).
 * What a command is for follows it as a shell comment ("  # ..."), so that the whole line
 * still runs when pasted.
 */
#include "pgpitr/drill/drill_next.h"
#include "pgpitr/repo/repo_layout.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 6

typedef struct Step {
    const char *label;           /* "start:", or NULL */
    char *text;
    bool summary_only;           /* not in the HINT: a command that must never be cut short
                                    (rm -rf) goes only where nothing is truncated */
} Step;

/* The next steps of one drill: an optional introduction, then commands or sentences. */
typedef struct Steps {
    char *intro;
    Step v[MAX_STEPS];
    size_t n;
} Steps;

void drill_shell_word(FILE *out, const char *s)
{
    if (s[0] != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789_@%+=:,./-") == strlen(s)) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

/* dir + "/" + name (name may be NULL: dir alone) as one shell word. */
static void path_word(FILE *out, const char *dir, const char *name)
{
    char *p = NULL;
    if (name == NULL || asprintf(&p, "%s/%s", dir, name) < 0)
        p = NULL;
    drill_shell_word(out, p != NULL ? p : dir);
    free(p);
}

/* The malloc'd string of a memstream the caller wrote to (open_memstream sets *buf when the
 * stream is closed); NULL when out of memory. */
static char *ms_done(FILE *f, char **buf)
{
    if (f == NULL)
        return NULL;
    if (fclose(f) != 0) {
        free(*buf);
        return NULL;
    }
    return *buf;
}

/* "<bin>/pg_ctl -D <w>/data -l <w>/postgres.log -w start" and friends. */
static char *server_cmd(const DrillNext *n, const char *w, const char *what)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    if (strcmp(what, "psql") == 0) {
        path_word(f, n->bin_dir, "psql");
        fputs(" -h ", f);
        drill_shell_word(f, w);
        fprintf(f, " -p %s -d ", n->port);
        drill_shell_word(f, n->db);
        if (n->db_user != NULL) {
            fputs(" -U ", f);
            drill_shell_word(f, n->db_user);
        }
        return ms_done(f, &buf);
    }
    path_word(f, n->bin_dir, "pg_ctl");
    fputs(" -D ", f);
    path_word(f, w, "data");
    if (strcmp(what, "start") == 0) {
        fputs(" -l ", f);
        path_word(f, w, "postgres.log");
        fputs(" -w start", f);
    } else {
        fputs(" -m fast -w stop", f);
    }
    return ms_done(f, &buf);
}

/* "<exe> <globals> <command> <args...>" */
static char *pgpitr_cmd(const DrillNext *n, const char *command, char *const *args, size_t n_args,
                        const char *last)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    drill_shell_word(f, n->exe != NULL ? n->exe : "pgpitr");
    for (size_t i = 0; i < n->n_globals; i++) {
        fputc(' ', f);
        drill_shell_word(f, n->globals[i]);
    }
    fprintf(f, " %s", command);
    for (size_t i = 0; i < n_args; i++) {
        fputc(' ', f);
        drill_shell_word(f, args[i]);
    }
    if (last != NULL)
        fprintf(f, " %s", last);
    return ms_done(f, &buf);
}

static char *text_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *text_dup(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static void add(Steps *s, const char *label, char *text)
{
    if (text == NULL || s->n >= MAX_STEPS) {
        free(text);
        return;
    }
    s->v[s->n++] = (Step){.label = label, .text = text};
}

/* "rm -rf <w>": on the summary only. */
static void add_remove(Steps *s, const char *w)
{
    char *rm = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&rm, &len);
    if (f != NULL) {
        fputs("rm -rf ", f);
        drill_shell_word(f, w);
    }
    size_t before = s->n;
    add(s, "remove:", ms_done(f, &rm));
    if (s->n > before)
        s->v[before].summary_only = true;
}

static void steps_free(Steps *s)
{
    free(s->intro);
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].text);
    memset(s, 0, sizeof *s);
}

static bool has(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Kept and recovered: the server can be started and connected to. */
static void steps_kept_server(const DrillNext *n, const char *w, Steps *s)
{
    s->intro = text_dup("as OS user %s, start the kept server, connect to it, then stop it "
                        "and remove its files:", has(n->os_user) ? n->os_user : "of the drill");
    add(s, "start:", server_cmd(n, w, "start"));
    add(s, "connect:", server_cmd(n, w, "psql"));
    add(s, "stop:", server_cmd(n, w, "stop"));
    add_remove(s, w);
}

/* Recovery did not finish (or never began): what failed is the next thing to look at. */
static void steps_unrecovered(const DrillNext *n, const char *w, Steps *s)
{
    if (has(n->hint))
        add(s, NULL, text_dup("%s", n->hint));
    if ((n->tool_error || n->corrupt) && has(n->label)) {
        char *args[] = {"--backup", (char *)n->label};
        char *cmd = pgpitr_cmd(n, "verify", args, 2, NULL);
        add(s, "verify:", cmd == NULL ? NULL
                          : n->tool_error ? text_dup("%s  # restore_command failed: this finds "
                                                     "every damaged object the backup needs", cmd)
                                          : text_dup("%s  # a damaged object: this finds every "
                                                     "one the backup needs, and the other backups "
                                                     "sharing them", cmd));
        free(cmd);
    }
    if (w != NULL) {
        if (n->server_ran)
            add(s, "log:", text_dup("%s/postgres.log", w));
        add_remove(s, w);
    } else if (n->server_ran) {
        char *cmd = pgpitr_cmd(n, "drill", n->args, n->n_args, "--keep");
        add(s, "again:", cmd != NULL ? text_dup("%s  # keeps the whole server log and the data "
                                                "directory", cmd) : NULL);
        free(cmd);
    }
}

/* The one reason is the rto-objective check: the data is fine, looking at it shows nothing. */
static bool only_rto_missed(const DrillReport *r)
{
    bool rto = false;
    for (size_t i = 0; i < r->n_checks; i++) {
        if (r->checks[i].status != DRILL_CHECK_FAILED)
            continue;
        if (strcmp(r->checks[i].name, "rto-objective") != 0)
            return false;
        rto = true;
    }
    return rto && r->n_reasons == 1;
}

static void steps_make(const DrillNext *n, const DrillReport *r, Steps *s)
{
    memset(s, 0, sizeof *s);
    const char *w = r->workdir;
    if (w != NULL && r->recovered) {
        steps_kept_server(n, w, s);
    } else if (!r->recovered && !drill_report_passed(r)) {
        steps_unrecovered(n, w, s);
    } else if (!drill_report_passed(r) && only_rto_missed(r)) {
        s->intro = text_dup("the restore works but took longer than rto-objective: the "
                            "report's phases say where the time went (a newer backup leaves "
                            "less WAL to replay; --jobs restores files in parallel)");
    } else if (!drill_report_passed(r)) {
        s->intro = text_dup("to look at the restored data, run the drill again with --keep and "
                            "follow the steps it prints:");
        add(s, NULL, pgpitr_cmd(n, "drill", n->args, n->n_args, "--keep"));
    }
}

static void report_path(const DrillNext *n, const DrillReport *r, FILE *out)
{
    if (n->stored && has(n->repo_path))
        fprintf(out, "%s/" REPO_LAYOUT_DRILL_DIR "/%s.json", n->repo_path, r->id);
    else if (n->stored)
        fprintf(out, REPO_LAYOUT_DRILL_DIR "/%s.json in the repository", r->id);
    if (n->report_file != NULL)
        fprintf(out, "%s%s", n->stored ? " and " : "", n->report_file);
}

void drill_next_print(const DrillNext *n, const DrillReport *r, FILE *out)
{
    if (n->stored || n->report_file != NULL) {
        fputs("  report:  ", out);
        report_path(n, r, out);
        fputc('\n', out);
    }
    Steps s;
    steps_make(n, r, &s);
    const char *lead = "  next:    ";
    if (s.intro != NULL) {
        fprintf(out, "%s%s\n", lead, s.intro);
        lead = "           ";
    }
    for (size_t i = 0; i < s.n; i++) {
        if (s.v[i].label != NULL)
            fprintf(out, "%s%-9s%s\n", lead, s.v[i].label, s.v[i].text);
        else
            fprintf(out, "%s%s\n", lead, s.v[i].text);
        lead = "           ";
    }
    steps_free(&s);
}

/* Appends text to out (of size) only when all of it fits: a HINT never ends in half a
 * command. false: it did not fit. */
static bool append_whole(char *out, size_t size, const char *text)
{
    size_t used = strlen(out), len = strlen(text);
    if (used + len >= size)
        return false;
    memcpy(out + used, text, len + 1);
    return true;
}

void drill_next_hint(const DrillNext *n, const DrillReport *r, char *out, size_t size)
{
    out[0] = '\0';
    char *report = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&report, &len);
    if (f != NULL && (n->stored || n->report_file != NULL)) {
        fputs("the report: ", f);
        report_path(n, r, f);
    }
    report = ms_done(f, &report);
    /* The report's path always fits: the steps get what is left. */
    size_t room = report != NULL && report[0] != '\0' ? strlen(report) + 2 : 0;
    room = room < size ? size - room : 0;
    Steps s;
    steps_make(n, r, &s);
    bool fits = room > 0 && (s.intro == NULL || append_whole(out, room, s.intro));
    for (size_t i = 0; fits && i < s.n; i++) {  /* in order: none after one left out */
        if (s.v[i].summary_only)
            continue;
        char *step = text_dup("%s%s%s%s", out[0] == '\0' ? "" : s.intro != NULL && i == 0 ?
                              " " : "; ", s.v[i].label ? s.v[i].label : "",
                              s.v[i].label ? " " : "", s.v[i].text);
        fits = step != NULL && append_whole(out, room, step);
        free(step);
    }
    steps_free(&s);
    if (report != NULL && report[0] != '\0') {
        if (out[0] != '\0')
            (void)append_whole(out, size, "; ");
        (void)append_whole(out, size, report);
    }
    free(report);
}
