/*
 * test_exit_status.c - docs/exit-status.md against the code: its table of statuses against
 * PGP_ERR_LIST (every code, its status and name; no row the code does not have), its table
 * per command against the command table's CmdDef fields (what 0, 1 and the other statuses
 * mean, word for word once markdown's backticks and links are dropped), each command's
 * "exit status:" help lines, and the exit status main() gives for each code. Run from the top
 * directory (make check-unit does), where docs/ is.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"

#define DOC "docs/exit-status.md"
#define CELLS 8

typedef struct Row {
    char *cell[CELLS];
    int n;
} Row;

typedef struct Table {
    Row *rows;
    int n;
} Table;

/* Markdown to plain text: backticks dropped, "[text](link)" -> "text". In place. */
static void plain(char *s)
{
    char *w = s;
    for (char *r = s; *r != '\0'; r++) {
        if (*r == '`')
            continue;
        if (*r == ']' && r[1] == '(') {
            char *close = strchr(r, ')');
            if (close != NULL) {
                r = close;
                continue;
            }
        }
        if (*r == '[' && strchr(r, ']') != NULL && strstr(r, "](") != NULL)
            continue;
        *w++ = *r;
    }
    *w = '\0';
}

/* "| a | b |" -> cells (trimmed, plain); false for a line that is not a table row. */
static bool split_row(char *line, Row *row)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
        line[--len] = '\0';
    if (len < 2 || line[0] != '|' || line[len - 1] != '|')
        return false;
    line[len - 1] = '\0';
    row->n = 0;
    for (char *p = line + 1; p != NULL && row->n < CELLS;) {
        char *bar = strchr(p, '|');
        if (bar != NULL)
            *bar = '\0';
        while (*p == ' ')
            p++;
        size_t n = strlen(p);
        while (n > 0 && p[n - 1] == ' ')
            p[--n] = '\0';
        plain(p);
        row->cell[row->n++] = strdup(p);
        p = bar != NULL ? bar + 1 : NULL;
    }
    return true;
}

/* The rows of the table under the heading `heading` (header and --- line skipped). */
static Table read_table(const char *heading)
{
    FILE *f = fopen(DOC, "r");
    ck_assert_msg(f != NULL, "cannot open %s (run the unit tests from the top directory)", DOC);
    Table t = {0};
    char line[4096];
    bool in = false;
    int seen = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "## ", 3) == 0) {
            in = strncmp(line + 3, heading, strlen(heading)) == 0;
            continue;
        }
        Row row;
        if (!in || !split_row(line, &row))
            continue;
        if (seen++ < 2) {            /* header, separator */
            for (int i = 0; i < row.n; i++)
                free(row.cell[i]);
            continue;
        }
        t.rows = realloc(t.rows, (size_t)(t.n + 1) * sizeof *t.rows);
        t.rows[t.n++] = row;
    }
    fclose(f);
    ck_assert_msg(t.n > 0, "no table under \"## %s\" in %s", heading, DOC);
    return t;
}

static void free_table(Table *t)
{
    for (int i = 0; i < t->n; i++)
        for (int j = 0; j < t->rows[i].n; j++)
            free(t->rows[i].cell[j]);
    free(t->rows);
}

static const Row *find_row(const Table *t, const char *first)
{
    for (int i = 0; i < t->n; i++)
        if (t->rows[i].n > 0 && strcmp(t->rows[i].cell[0], first) == 0)
            return &t->rows[i];
    return NULL;
}

START_TEST(statuses_table_matches_err_list)
{
    Table t = read_table("The statuses");
    for (int c = 0; c < PGP_ERR__COUNT; c++) {
        char status[16];
        snprintf(status, sizeof status, "%d", pgp_err_exit_status((PgpErrCode)c));
        const Row *r = find_row(&t, status);
        ck_assert_msg(r != NULL, "%s: no row for status %s (%s)", DOC, status,
                      pgp_err_name((PgpErrCode)c));
        ck_assert_int_ge(r->n, 3);
        ck_assert_msg(strcmp(r->cell[1], pgp_err_name((PgpErrCode)c)) == 0,
                      "%s: status %s is named \"%s\", the code says %s", DOC, status, r->cell[1],
                      pgp_err_name((PgpErrCode)c));
        ck_assert_str_ne(r->cell[2], "");
    }
    /* No row for a status nothing exits with. */
    for (int i = 0; i < t.n; i++) {
        int status = atoi(t.rows[i].cell[0]);
        bool known = false;
        for (int c = 0; c < PGP_ERR__COUNT && !known; c++)
            known = pgp_err_exit_status((PgpErrCode)c) == status;
        for (size_t k = 0; k < cmd_table_len && !known; k++)
            known = cmd_table[k]->failure_exit == status;
        ck_assert_msg(known, "%s: status %s is not one the code exits with", DOC,
                      t.rows[i].cell[0]);
    }
    free_table(&t);
}
END_TEST

/* The "other statuses" cell the table must have for cmd. */
static void expected_other(const CmdDef *cmd, char *out, size_t size)
{
    if (cmd->failure_exit != 0)
        snprintf(out, size, "%d: %s", cmd->failure_exit, cmd->exit_other);
    else if (cmd->exit_other != NULL)
        snprintf(out, size, "the error's status; %s", cmd->exit_other);
    else
        snprintf(out, size, "the error's status");
}

START_TEST(commands_table_matches_cmd_defs)
{
    Table t = read_table("Per command");
    ck_assert_int_eq(t.n, (int)cmd_table_len);
    for (size_t k = 0; k < cmd_table_len; k++) {
        const CmdDef *cmd = cmd_table[k];
        const Row *r = find_row(&t, cmd->name);
        ck_assert_msg(r != NULL, "%s: no row for command %s", DOC, cmd->name);
        ck_assert_int_eq(r->n, 4);
        ck_assert_ptr_nonnull(cmd->exit_ok);
        ck_assert_msg(strcmp(r->cell[1], cmd->exit_ok) == 0, "%s, %s, status 0:\n  doc:  %s\n  "
                      "code: %s", DOC, cmd->name, r->cell[1], cmd->exit_ok);
        const char *nf = cmd->exit_not_found != NULL ? cmd->exit_not_found : "never";
        ck_assert_msg(strcmp(r->cell[2], nf) == 0, "%s, %s, status 1:\n  doc:  %s\n  code: %s",
                      DOC, cmd->name, r->cell[2], nf);
        char other[1024];
        expected_other(cmd, other, sizeof other);
        ck_assert_msg(strcmp(r->cell[3], other) == 0, "%s, %s, other statuses:\n  doc:  %s\n  "
                      "code: %s", DOC, cmd->name, r->cell[3], other);
        ck_assert_msg(cmd->failure_exit == 0 || cmd->exit_other != NULL,
                      "%s: failure_exit without exit_other", cmd->name);
    }
    free_table(&t);
}
END_TEST

/* Whitespace runs as one space: the help wraps its lines. */
static void squeeze(char *s)
{
    char *w = s;
    for (char *r = s; *r != '\0'; r++) {
        bool space = *r == ' ' || *r == '\n';
        if (space && (w == s || w[-1] == ' '))
            continue;
        *w++ = space ? ' ' : *r;
    }
    *w = '\0';
}

START_TEST(help_lists_exit_statuses)
{
    for (size_t k = 0; k < cmd_table_len; k++) {
        const CmdDef *cmd = cmd_table[k];
        char *text = NULL, want[1200];
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        cmd_print_usage(cmd, f);
        fclose(f);
        const char *section = strstr(text, "\nexit status");
        ck_assert_msg(section != NULL, "%s --help has no exit status lines", cmd->name);
        char *s = strdup(section);
        squeeze(s);
        snprintf(want, sizeof want, " 0 %s ", cmd->exit_ok);
        squeeze(want);
        ck_assert_msg(strstr(s, want) != NULL, "%s --help: \"%s\" not in \"%s\"", cmd->name, want, s);
        if (cmd->exit_not_found != NULL) {
            snprintf(want, sizeof want, " 1 %s ", cmd->exit_not_found);
            squeeze(want);
            ck_assert_msg(strstr(s, want) != NULL, "%s --help: \"%s\" not in \"%s\"", cmd->name,
                          want, s);
        } else {
            ck_assert_msg(strstr(s, " 1 ") == NULL, "%s --help lists status 1", cmd->name);
        }
        if (cmd->failure_exit == 0)
            ck_assert_ptr_nonnull(strstr(s, "5 i/o error"));
        free(s);
        free(text);
    }
}
END_TEST

START_TEST(exit_status_per_command)
{
    for (size_t k = 0; k < cmd_table_len; k++) {
        const CmdDef *cmd = cmd_table[k];
        ck_assert_int_eq(cmd_exit_status(cmd, PGP_ERR_OK), 0);
        /* 1 only where it is documented; an undocumented "not found" is an I/O error */
        ck_assert_int_eq(cmd_exit_status(cmd, PGP_ERR_NOT_FOUND),
                         cmd->exit_not_found != NULL ? 1 : 5);
        ck_assert_int_eq(cmd_exit_status(cmd, PGP_ERR_CORRUPT),
                         cmd->failure_exit != 0 ? cmd->failure_exit : 7);
        ck_assert(cmd_find(cmd->name) == cmd);
    }
    ck_assert_ptr_null(cmd_find("no-such-command"));
    ck_assert_int_eq(cmd_exit_status(NULL, PGP_ERR_NOT_FOUND), 5);
    ck_assert_int_eq(cmd_exit_status(NULL, PGP_ERR_USAGE), 2);
    /* ENOENT from a system call is I/O, never "not found" */
    ck_assert_int_eq(pgp_err_code_from_errno(ENOENT), PGP_ERR_IO);
    ck_assert_int_eq(pgp_err_code_from_errno(ENOSPC), PGP_ERR_NO_SPACE);
}
END_TEST

Suite *suite_exit_status(void)
{
    Suite *s = suite_create("exit_status");
    TCase *tc = tcase_create("docs");
    tcase_add_test(tc, statuses_table_matches_err_list);
    tcase_add_test(tc, commands_table_matches_cmd_defs);
    tcase_add_test(tc, help_lists_exit_statuses);
    tcase_add_test(tc, exit_status_per_command);
    suite_add_tcase(s, tc);
    return s;
}
