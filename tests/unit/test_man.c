/*
 * test_man.c - the manual pages (src/cmd/cmd_man.c) against the tables they are written from:
 * every option of a command is an item of its page with its argument, default, environment
 * variable and configuration key, and no other option is; pgpitr(1) has every global option,
 * every command and every environment variable; pgpitr.conf(5) and the example configuration
 * file every configuration key; no
 * line of a page starts with a control character that is not a known request. mandoc -Tlint
 * checks the pages' syntax (tests/packaging/check-install.sh).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_man.h"
#include "pgpitr/cmd/cmd_options.h"

#define DATE "December 4, 2026"

/* The page, with every newline made a space: a sentence wrapped over lines still matches. */
typedef struct Page {
    char *raw;
    char *flat;
} Page;

static Page page_of(const CmdDef *cmd, int which)
{
    Page p = {0};
    size_t len = 0;
    FILE *f = open_memstream(&p.raw, &len);
    ck_assert_ptr_nonnull(f);
    if (which == 1)
        cmd_man_command(f, cmd, DATE);
    else if (which == 0)
        cmd_man_main(f, DATE);
    else
        cmd_man_config(f, DATE);
    ck_assert_int_eq(fclose(f), 0);
    p.flat = strdup(p.raw);
    for (char *c = p.flat; *c != '\0'; c++)
        if (*c == '\n')
            *c = ' ';
    return p;
}

static void page_free(Page *p)
{
    free(p->raw);
    free(p->flat);
}

/* The text of the list item that starts with head, up to the next item or list end; NULL if
 * the page has no such item. Points into p->flat, with a NUL written at its end. */
static char *item(Page *p, const char *head)
{
    char *s = strstr(p->flat, head);
    while (s != NULL && s[strlen(head)] != ' ')   /* "--jobs" is not "--jobs-x" */
        s = strstr(s + 1, head);
    if (s == NULL)
        return NULL;
    s = strdup(s);
    char *end = strstr(s + 1, " .It ");
    char *el = strstr(s + 1, " .El");
    if (end == NULL || (el != NULL && el < end))
        end = el;
    if (end != NULL)
        *end = '\0';
    return s;
}

/* Every line beginning with a dot is a comment or a request of mdoc. */
static void check_requests(const char *raw)
{
    static const char known[] =
        " Dd Dt Os Sh Ss Nm Nd Op Ar Fl Cm Bl El It Pp Bd Ed Xr Ev Pa Pq Ql No \\\" ";
    for (const char *l = raw; *l != '\0'; l = strchr(l, '\n') + 1) {
        ck_assert_msg(*l != '\'', "line starts with a quote: %.40s", l);
        if (*l == '.') {
            char req[4] = {l[1], l[2], '\0', '\0'};
            char pat[8];
            snprintf(pat, sizeof pat, " %s ", req);
            ck_assert_msg(strstr(known, pat) != NULL, "unknown request: %.40s", l);
        }
        if (strchr(l, '\n') == NULL)
            break;
    }
}

/* What the row of o must say in its item. */
static void check_row(const char *it, const CmdOption *o, const char *page)
{
    if (o->type != CMD_VAL_FLAG) {
        char arg[128];
        snprintf(arg, sizeof arg, "Ar \\&%s", o->arg);
        ck_assert_msg(strstr(it, arg) != NULL, "%s: --%s without its argument", page, o->name);
    }
    if (o->def != NULL) {
        char def[256];
        snprintf(def, sizeof def, "Default: %s.", o->def);
        ck_assert_msg(strstr(it, def) != NULL, "%s: --%s without \"%s\"", page, o->name, def);
    }
    if (o->env != NULL) {
        char env[128];
        snprintf(env, sizeof env, ".Ev \\&%s", o->env);
        ck_assert_msg(strstr(it, env) != NULL, "%s: --%s without %s", page, o->name, o->env);
    }
    if (o->key != NULL) {
        char key[128];
        snprintf(key, sizeof key, ".Cm \\&%s", o->key);
        ck_assert_msg(strstr(it, key) != NULL, "%s: --%s without key %s", page, o->name, o->key);
    }
}

/* The options of cmd (CMD_OPT_GLOBAL for pgpitr(1)) in page: each one with what its row
 * says, and no item for an option it does not take. */
static void check_options(Page *p, const char *cmd, const char *page)
{
    size_t want = 1;   /* --help */
    for (size_t i = 0; i < cmd_options_len; i++) {
        const CmdOption *o = &cmd_options[i];
        if (!cmd_option_in(o, cmd))
            continue;
        want++;
        char head[128];
        snprintf(head, sizeof head, "Fl \\-%s", o->name);
        char *it = item(p, head);
        ck_assert_msg(it != NULL, "%s: option --%s of the table is missing", page, o->name);
        check_row(it, o, page);
        free(it);
    }
    ck_assert_ptr_nonnull(strstr(p->flat, ".It Fl \\-help "));
    size_t items = 0;
    for (const char *s = p->flat; (s = strstr(s, ".It Fl ")) != NULL; s++)
        items++;
    ck_assert_msg(items == want, "%s: %zu option items, the table has %zu", page, items, want);
}

START_TEST(command_pages_have_every_option)
{
    for (size_t c = 0; c < cmd_table_len; c++) {
        const CmdDef *cmd = cmd_table[c];
        Page p = page_of(cmd, 1);
        char title[128];
        snprintf(title, sizeof title, ".Nm pgpitr-%s .Nd %s ", cmd->name, cmd->summary);
        ck_assert_msg(strstr(p.flat, title) != NULL, "pgpitr-%s: no NAME line", cmd->name);
        ck_assert_ptr_nonnull(strstr(p.flat, ".Sh SYNOPSIS"));
        ck_assert_ptr_nonnull(strstr(p.flat, ".Sh EXIT STATUS .Bl -tag -width Ds .It 0 "));
        check_options(&p, cmd->name, cmd->name);
        check_requests(p.raw);
        page_free(&p);
    }
}
END_TEST

START_TEST(main_page_has_globals_commands_and_environment)
{
    Page p = page_of(NULL, 0);
    check_options(&p, CMD_OPT_GLOBAL, "pgpitr");
    for (size_t c = 0; c < cmd_table_len; c++) {
        char it[128], xr[128];
        snprintf(it, sizeof it, ".It Cm %s ", cmd_table[c]->name);
        snprintf(xr, sizeof xr, ".Xr pgpitr-%s 1 ", cmd_table[c]->name);
        ck_assert_msg(strstr(p.flat, it) != NULL, "pgpitr(1): command %s missing", it);
        ck_assert_msg(strstr(p.flat, xr) != NULL, "pgpitr(1): %s missing", xr);
    }
    const char *env = strstr(p.flat, ".Sh ENVIRONMENT");
    ck_assert_ptr_nonnull(env);
    for (size_t i = 0; i < cmd_options_len; i++) {
        if (cmd_options[i].env == NULL)
            continue;
        char ev[128];
        snprintf(ev, sizeof ev, ".It Ev \\&%s ", cmd_options[i].env);
        ck_assert_msg(strstr(env, ev) != NULL, "pgpitr(1): %s missing", cmd_options[i].env);
    }
    ck_assert_ptr_nonnull(strstr(p.flat, ".Sh FILES"));
    ck_assert_ptr_nonnull(strstr(p.flat, ".Sh EXIT STATUS"));
    ck_assert_ptr_nonnull(strstr(p.flat, ".It 70 internal error"));
    check_requests(p.raw);
    page_free(&p);
}
END_TEST

START_TEST(config_page_has_every_key)
{
    Page p = page_of(NULL, 2);
    for (size_t i = 0; i < cmd_options_len; i++) {
        const CmdOption *o = &cmd_options[i];
        if (o->key == NULL)
            continue;
        char head[128];
        snprintf(head, sizeof head, ".It Cm \\&%s No = Ar \\&%s", o->key, o->arg);
        char *it = item(&p, head);
        ck_assert_msg(it != NULL, "pgpitr.conf(5): key %s missing", o->key);
        if (o->def != NULL) {
            char def[256];
            snprintf(def, sizeof def, "Default: %s.", o->def);
            ck_assert_msg(strstr(it, def) != NULL, "pgpitr.conf(5): %s without its default",
                          o->key);
        }
        free(it);
    }
    check_requests(p.raw);
    page_free(&p);
}
END_TEST

START_TEST(example_has_every_key)
{
    char *raw = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&raw, &len);
    ck_assert_ptr_nonnull(f);
    cmd_man_example(f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_ptr_nonnull(strstr(raw, "\n[global]\n"));
    ck_assert_ptr_nonnull(strstr(raw, "\nrepo = /var/lib/pgpitr\n"));
    for (size_t i = 0; i < cmd_options_len; i++) {
        const CmdOption *o = &cmd_options[i];
        if (o->key == NULL || o->id == CMD_OPT_REPO)
            continue;
        char line[128];
        snprintf(line, sizeof line, "\n#%s = %s\n", o->key, o->arg);
        ck_assert_msg(strstr(raw, line) != NULL, "example: key %s missing", o->key);
    }
    for (const char *l = raw; *l != '\0'; l = strchr(l, '\n') + 1)
        ck_assert_msg(strcspn(l, "\n") < 80, "example: line over 79 columns: %.40s", l);
    free(raw);
}
END_TEST

Suite *suite_man(void)
{
    Suite *s = suite_create("man");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, command_pages_have_every_option);
    tcase_add_test(tc, main_page_has_globals_commands_and_environment);
    tcase_add_test(tc, config_page_has_every_key);
    tcase_add_test(tc, example_has_every_key);
    suite_add_tcase(s, tc);
    return s;
}
