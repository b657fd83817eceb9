/*
 * test_options.c - the option table (src/cmd/cmd_options.c) and the places that must say the
 * same: each command's --help text (CmdDef.usage and `pgpitr --help`: the same flags, and the
 * variable and key an option's help names are its row's), the keys the configuration file
 * accepts (src/common/config.c), the table of docs/configuration.md and the PGPITR_*
 * variables the sources read;
 * and the shared parser: getopt's array built from the table, its messages, the --output
 * handling and the precedence flag > environment > configuration file. Run from the top
 * directory (make check-unit does), like test_docs.c.
 */
#include <check.h>
#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_err.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/config.h"

/* ---- the table itself ------------------------------------------------------------------- */

static bool is_command(const char *name)
{
    return strcmp(name, CMD_OPT_GLOBAL) == 0 || cmd_find(name) != NULL;
}

START_TEST(table_sound)
{
    ck_assert_uint_eq(cmd_options_len, CMD_OPT__COUNT);
    for (size_t i = 0; i < cmd_options_len; i++) {
        const CmdOption *o = &cmd_options[i];
        const char *what = o->name != NULL ? o->name : o->key;
        ck_assert_msg(o->id == (CmdOptId)i, "row %zu (%s) is not in CmdOptId order", i, what);
        ck_assert_ptr_eq(cmd_option(o->id), o);
        ck_assert_msg(o->help != NULL && o->help[0] != '\0', "%s has no help", what);
        ck_assert_msg(o->name != NULL || o->env != NULL || o->key != NULL,
                      "row %zu has neither a flag, a variable nor a key", i);
        ck_assert_msg(o->env == NULL || strncmp(o->env, "PGPITR_", 7) == 0, "%s: %s", what,
                      o->env);
        if (o->type == CMD_VAL_INT)
            ck_assert_msg(o->min <= o->max, "%s: range %ld..%ld", what, o->min, o->max);
        if (o->type == CMD_VAL_ENUM)
            ck_assert_msg(o->choices != NULL && strchr(o->choices, '|') != NULL, "%s", what);
        ck_assert_msg((o->type == CMD_VAL_FLAG) == (o->arg == NULL), "%s: placeholder", what);
        /* every command a row names exists */
        char list[128];
        snprintf(list, sizeof list, "%s", o->commands);
        for (char *save = NULL, *c = strtok_r(list, " ", &save); c != NULL;
             c = strtok_r(NULL, " ", &save))
            ck_assert_msg(is_command(c), "%s names a command \"%s\" that does not exist", what, c);
        /* one meaning per flag and command: no two rows of a command share a name or letter */
        for (size_t j = 0; j < i && o->name != NULL; j++) {
            const CmdOption *p = &cmd_options[j];
            if (p->name == NULL)
                continue;
            for (size_t k = 0; k < cmd_table_len; k++) {
                const char *cmd = cmd_table[k]->name;
                if (!cmd_option_in(o, cmd) || !cmd_option_in(p, cmd))
                    continue;
                ck_assert_msg(strcmp(o->name, p->name) != 0, "%s: --%s twice", cmd, o->name);
                ck_assert_msg(o->short_name == 0 || o->short_name != p->short_name,
                              "%s: -%c twice", cmd, o->short_name);
            }
        }
    }
}
END_TEST

/* ---- --help ----------------------------------------------------------------------------- */

/* Every "--name" in the option column of usage (lines starting "  -", up to the two blanks
 * before the description: "--all" in "run pg_amcheck --all" is not drill's), --help left out,
 * as " name1 name2 ... " in text order, duplicates once. */
static void help_flags(const char *usage, char *out, size_t size)
{
    size_t used = (size_t)snprintf(out, size, " ");
    for (const char *line = usage; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        const char *gap = strstr(line + 3, "  ");
        if (gap != NULL && gap < line + len)
            len = (size_t)(gap - line);
        for (size_t i = 0; strncmp(line, "  -", 3) == 0 && i + 2 < len; i++) {
            if (line[i] != '-' || line[i + 1] != '-' || (i > 0 && line[i - 1] == '-'))
                continue;
            size_t n = 0;
            while (i + 2 + n < len && (islower((unsigned char)line[i + 2 + n]) ||
                                       isdigit((unsigned char)line[i + 2 + n]) ||
                                       line[i + 2 + n] == '-'))
                n++;
            char word[64];
            snprintf(word, sizeof word, " %.*s ", (int)n, line + i + 2);
            if (n > 0 && strcmp(word, " help ") != 0 && strstr(out, word) == NULL)
                used += (size_t)snprintf(out + used, size - used, "%s", word + 1);
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
}

/* The flags the help text names are exactly the table's for cmd; a short option's letter is
 * on its line. */
static void check_help(const char *cmd, const char *usage)
{
    char said[2048];
    help_flags(usage, said, sizeof said);
    size_t rows = 0;
    for (size_t i = 0; i < cmd_options_len; i++) {
        const CmdOption *o = &cmd_options[i];
        if (!cmd_option_in(o, cmd))
            continue;
        rows++;
        char word[64];
        snprintf(word, sizeof word, " %s ", o->name);
        ck_assert_msg(strstr(said, word) != NULL, "%s: --%s is in the option table but not in "
                      "its --help (%s)", cmd, o->name, said);
        if (o->short_name != 0) {
            char both[80];
            snprintf(both, sizeof both, "  -%c, --%s", o->short_name, o->name);
            ck_assert_msg(strstr(usage, both) != NULL, "%s --help lacks \"%s\"", cmd, both);
        }
    }
    size_t words = 0;
    for (const char *p = said; (p = strchr(p + 1, ' ')) != NULL;)
        words++;
    ck_assert_msg(words == rows, "%s --help names %zu options (%s), the option table %zu", cmd,
                  words, said, rows);
}

/* The row of cmd named name (n bytes), NULL if none. */
static const CmdOption *row_of(const char *cmd, const char *name, size_t n)
{
    for (size_t i = 0; i < cmd_options_len; i++)
        if (cmd_option_in(&cmd_options[i], cmd) && strlen(cmd_options[i].name) == n &&
            strncmp(cmd_options[i].name, name, n) == 0)
            return &cmd_options[i];
    return NULL;
}

/* In the help of an option (its line and the indented lines after it), "env X" names the
 * row's variable and "config K" / "config: K" its key. */
static void check_help_sources(const char *cmd, const char *usage)
{
    const CmdOption *o = NULL;
    for (const char *line = usage; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);
        if (strncmp(line, "  --", 4) == 0)
            o = row_of(cmd, line + 4, strcspn(line + 4, " ,\n"));
        else if (strncmp(line, "    ", 4) != 0)
            o = NULL;   /* a blank line or text: the option's help is over */
        char word[64];
        /* "(env X", "config: K"; the name may be on the next line */
        for (const char *p = line; o != NULL && (p = strstr(p, "env")) != NULL &&
                                   p < line + len; p += 3) {
            if ((p[-1] != '(' && p[-1] != ' ') || (p[3] != ' ' && p[3] != '\n'))
                continue;
            const char *v = p + 3 + strspn(p + 3, " \n");
            snprintf(word, sizeof word, "%.*s", (int)strcspn(v, ",;) \n"), v);
            ck_assert_msg(o->env != NULL && strcmp(word, o->env) == 0, "%s --%s --help says "
                          "env %s, the table %s", cmd, o->name, word, o->env ? o->env : "none");
        }
        for (const char *p = line; o != NULL && (p = strstr(p, "config")) != NULL &&
                                   p < line + len; p += 6) {
            if ((p[-1] != '(' && p[-1] != ' ') || strchr(" :\n", p[6]) == NULL || p[6] == '\0')
                continue;
            const char *k = p + 6 + strspn(p + 6, ": \n");
            snprintf(word, sizeof word, "%.*s", (int)strcspn(k, ",;) \n"), k);
            ck_assert_msg(o->key != NULL && strcmp(word, o->key) == 0, "%s --%s --help says "
                          "config %s, the table %s", cmd, o->name, word, o->key ? o->key : "none");
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
}

START_TEST(help_matches_table)
{
    for (size_t i = 0; i < cmd_table_len; i++) {
        check_help(cmd_table[i]->name, cmd_table[i]->usage);
        check_help_sources(cmd_table[i]->name, cmd_table[i]->usage);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cmd_print_help(f);
    fclose(f);
    check_help(CMD_OPT_GLOBAL, text);
    check_help_sources(CMD_OPT_GLOBAL, text);
    free(text);
}
END_TEST

/* The check itself catches an option missing from either side. */
START_TEST(help_check_catches)
{
    char said[256];
    help_flags("options:\n  --output text|json  x, not --all\n  -D, --pgdata DIR  y\n"
               "  --a X | --b | --c\n  --help, --version\n   --not-an-option-line\n", said,
               sizeof said);
    ck_assert_str_eq(said, " output pgdata a b c version ");
}
END_TEST

/* ---- the configuration file and docs/configuration.md ----------------------------------- */

START_TEST(config_keys_match_table)
{
    size_t n = 0;
    const char *const *keys = config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; j < cmd_options_len && !found; j++)
            found = cmd_options[j].key != NULL && strcmp(cmd_options[j].key, keys[i]) == 0;
        ck_assert_msg(found, "config key \"%s\" is not in the option table", keys[i]);
    }
    for (size_t j = 0; j < cmd_options_len; j++) {
        if (cmd_options[j].key == NULL)
            continue;
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(cmd_options[j].key, keys[i]) == 0;
        ck_assert_msg(found, "table key \"%s\" is refused by the config file", cmd_options[j].key);
    }
}
END_TEST

/* Cell `col` (0-based) of a markdown table row, without backticks or surrounding blanks. */
static void cell(const char *row, int col, char *out, size_t size)
{
    const char *p = row + 1;
    for (int c = 0; c < col && p != NULL; c++)
        p = strchr(p, '|'), p = p != NULL ? p + 1 : NULL;
    ck_assert_ptr_nonnull(p);
    size_t len = strcspn(p, "|\n"), o = 0;
    for (size_t i = 0; i < len && o + 1 < size; i++)
        if (p[i] != '`')
            out[o++] = p[i];
    out[o] = '\0';
    while (o > 0 && out[o - 1] == ' ')
        out[--o] = '\0';
    memmove(out, out + strspn(out, " "), strlen(out + strspn(out, " ")) + 1);
}

/* The commands a table key applies to, "backup verify" (flag and setting alike). */
static void key_commands(const char *key, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < cmd_options_len; i++)
        if (cmd_options[i].key != NULL && strcmp(cmd_options[i].key, key) == 0 &&
            strcmp(cmd_options[i].commands, CMD_OPT_GLOBAL) != 0)
            snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? " " : "",
                     cmd_options[i].commands);
}

/* "(backup, verify; restore ...)" in a flag cell -> "backup verify"; "" without. */
static void doc_commands(const char *flag_cell, char *out, size_t size)
{
    out[0] = '\0';
    const char *open = strchr(flag_cell, '(');
    if (open == NULL)
        return;
    size_t len = strcspn(open + 1, ";)");
    for (size_t i = 0, o = 0; i < len && o + 1 < size; i++) {
        if (open[1 + i] != ',')
            out[o++] = open[1 + i];
        out[o] = '\0';
    }
}

/* Every word of `words` (space-separated) is one of `in`'s. */
static void words_within(const char *key, const char *what, const char *words, const char *where,
                         const char *in)
{
    char list[256], padded[256];
    snprintf(list, sizeof list, "%s", words);
    snprintf(padded, sizeof padded, " %s ", in);
    for (char *save = NULL, *w = strtok_r(list, " ", &save); w != NULL;
         w = strtok_r(NULL, " ", &save)) {
        char x[64];
        snprintf(x, sizeof x, " %s ", w);
        ck_assert_msg(strstr(padded, x) != NULL, "%s: %s command %s is not among %s (%s)", key,
                      what, w, where, in);
    }
}

static void check_doc_row(const char *row)
{
    char key[64], flag[256], env[64], def[128], want[128], said[128];
    cell(row, 0, key, sizeof key);
    cell(row, 1, flag, sizeof flag);
    cell(row, 2, env, sizeof env);
    cell(row, 3, def, sizeof def);
    const CmdOption *o = NULL;
    for (size_t i = 0; i < cmd_options_len && o == NULL; i++)
        if (cmd_options[i].key != NULL && strcmp(cmd_options[i].key, key) == 0)
            o = &cmd_options[i];
    ck_assert_msg(o != NULL, "docs/configuration.md: setting \"%s\" is not in the option table",
                  key);
    ck_assert_msg(strcmp(env, o->env != NULL ? o->env : "") == 0, "%s: docs say environment "
                  "\"%s\", the table \"%s\"", key, env, o->env ? o->env : "");
    ck_assert_msg(strcmp(def, o->def != NULL ? o->def : "") == 0, "%s: docs say default \"%s\", "
                  "the table \"%s\"", key, def, o->def ? o->def : "");
    if (o->name == NULL) {
        ck_assert_msg(flag[0] == '\0', "%s: docs give a flag \"%s\", the table none", key, flag);
        return;
    }
    snprintf(want, sizeof want, "--%s", o->name);
    ck_assert_msg(strncmp(flag, want, strlen(want)) == 0, "%s: docs say flag \"%s\", the table "
                  "%s", key, flag, want);
    key_commands(key, want, sizeof want);
    doc_commands(flag, said, sizeof said);
    words_within(key, "the table's", want, "the docs'", said);
    words_within(key, "the docs'", said, "the table's", want);
}

START_TEST(docs_match_table)
{
    FILE *f = fopen("docs/configuration.md", "r");
    ck_assert_msg(f != NULL, "cannot read docs/configuration.md (run from the top directory)");
    char line[1024];
    size_t rows = 0;
    bool in_table = false;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "| setting |", 10) == 0) {
            in_table = true;
            continue;
        }
        if (in_table && strncmp(line, "| ---", 5) == 0)
            continue;
        if (in_table && line[0] != '|')
            in_table = false;
        if (in_table) {
            check_doc_row(line);
            rows++;
        }
    }
    fclose(f);
    size_t keys = 0;
    for (size_t i = 0; i < cmd_options_len; i++) {
        bool first = cmd_options[i].key != NULL;
        for (size_t j = 0; j < i && first; j++)
            first = cmd_options[j].key == NULL || strcmp(cmd_options[j].key,
                                                         cmd_options[i].key) != 0;
        keys += first;
    }
    ck_assert_msg(rows == keys, "docs/configuration.md has %zu settings, the option table %zu",
                  rows, keys);
}
END_TEST

/* Every environment variable the sources read ("PGPITR_..." as a string of its own) is a
 * row's: none escapes the table, and so the documentation. */
START_TEST(env_literals_in_table)
{
    glob_t g;
    ck_assert_int_eq(glob("src/*.c", 0, NULL, &g), 0);
    ck_assert_int_eq(glob("src/*/*.c", GLOB_APPEND, NULL, &g), 0);
    ck_assert_uint_gt(g.gl_pathc, 50);
    size_t seen = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        ck_assert_ptr_nonnull(f);
        char line[1024];
        for (const char *p; fgets(line, sizeof line, f) != NULL;) {
            for (p = line; (p = strstr(p, "\"PGPITR_")) != NULL; p++) {
                size_t n = strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
                if (p[1 + n] != '"')
                    continue;
                bool found = false;
                for (size_t j = 0; j < cmd_options_len && !found; j++)
                    found = cmd_options[j].env != NULL && strlen(cmd_options[j].env) == n &&
                            strncmp(cmd_options[j].env, p + 1, n) == 0;
                ck_assert_msg(found, "%s reads %.*s, which is not in the option table",
                              g.gl_pathv[i], (int)n, p + 1);
                seen++;
            }
        }
        fclose(f);
    }
    globfree(&g);
    ck_assert_uint_gt(seen, 10);
}
END_TEST

/* ---- the parser ------------------------------------------------------------------------- */

typedef struct Seen {
    char log[512];
} Seen;

static int record(void *ud, CmdOptId id, const char *arg, PgpErr *err)
{
    Seen *s = ud;
    snprintf(s->log + strlen(s->log), sizeof s->log - strlen(s->log), "%s=%s;",
             cmd_option(id)->name, arg);
    if (strcmp(arg, "fail") == 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "refused \"%s\"", arg);
    return 0;
}

static int parse(const CmdDef *cmd, bool positional, Seen *seen, CmdArgs *a, PgpErr *err,
                 char **argv)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    CmdParse p = {.cmd = cmd, .each = record, .ud = seen, .positional = positional};
    memset(seen, 0, sizeof *seen);
    pgp_err_clear(err);
    return cmd_args_parse(&p, argc, argv, a, err);
}

START_TEST(getopt_array)
{
    struct option lo[CMD_OPT_LONGOPTS_MAX];
    char so[CMD_OPT_SHORTOPTS_MAX];
    size_t n = cmd_options_getopt("restore", lo, so);
    ck_assert_str_eq(so, "+hD:j:");
    ck_assert_str_eq(lo[n].name, "help");
    ck_assert_ptr_null(lo[n + 1].name);
    n = cmd_options_getopt("info", lo, so);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(lo[0].name, "output");
    ck_assert_int_eq(lo[0].has_arg, required_argument);
    ck_assert_str_eq(so, "+h");
    n = cmd_options_getopt(CMD_OPT_GLOBAL, lo, so);
    ck_assert_uint_eq(n, 16);   /* repo, config, log-level, version; io-timeout, 11 s3-* */
    ck_assert_str_eq(lo[3].name, "version");
    ck_assert_int_eq(lo[3].has_arg, no_argument);
}
END_TEST

START_TEST(parser_values_in_order)
{
    Seen seen;
    CmdArgs a;
    PgpErr err;
    char *argv[] = {"restore", "-D", "/d", "--set", "a=1", "--delta", "--set=b=2", "-j4",
                    "--target-imm", NULL};
    ck_assert_int_eq(parse(&cmd_restore, false, &seen, &a, &err, argv), 0);
    ck_assert_str_eq(seen.log, "pgdata=/d;set=a=1;delta=;set=b=2;jobs=4;target-immediate=;");
    ck_assert_str_eq(a.flag[CMD_OPT_PGDATA], "/d");
    ck_assert_str_eq(a.flag[CMD_OPT_SET], "b=2");   /* the last; each went to the callback */
    ck_assert_str_eq(a.flag[CMD_OPT_DELTA], "");
    ck_assert_ptr_null(a.flag[CMD_OPT_KEEP_OLD]);
    ck_assert(!a.help && !a.json);
    char *out[] = {"info", "--output", "json", NULL};
    ck_assert_int_eq(parse(&cmd_info, false, &seen, &a, &err, out), 0);
    ck_assert(a.json);
    ck_assert_str_eq(seen.log, "");   /* --output is the parser's */
    char *pos[] = {"archive-get", "--spool-size", "0", "NAME", "DEST", NULL};
    ck_assert_int_eq(parse(&cmd_archive_get, true, &seen, &a, &err, pos), 0);
    ck_assert_int_eq(a.first, 3);
    /* --help prints the usage and stops there: what follows is not looked at */
    char *help[] = {"backup", "--label", "x", "--help", "--bogus", NULL};
    fflush(stdout);
    int saved = dup(1), null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    int rc = parse(&cmd_backup, false, &seen, &a, &err, help);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(null);
    ck_assert_int_eq(rc, 0);
    ck_assert(a.help);
    ck_assert_str_eq(seen.log, "label=x;");
    /* a callback's error stops parsing */
    char *fail[] = {"backup", "--max-rate", "fail", "--label", "x", NULL};
    ck_assert_int_eq(parse(&cmd_backup, false, &seen, &a, &err, fail), PGP_ERR_CONFIG);
    ck_assert_str_eq(seen.log, "max-rate=fail;");
}
END_TEST

START_TEST(parser_messages)
{
    Seen seen;
    CmdArgs a;
    PgpErr err;
    char *unknown[] = {"verify", "--bogus", NULL};
    ck_assert_int_eq(parse(&cmd_verify, false, &seen, &a, &err, unknown), PGP_ERR_USAGE);
    ck_assert_str_eq(err.msg, "verify: unknown or incomplete option \"--bogus\"");
    ck_assert_str_eq(err.hint, "see pgpitr verify --help");
    char *incomplete[] = {"restore", "--pgdata", NULL};
    ck_assert_int_eq(parse(&cmd_restore, false, &seen, &a, &err, incomplete), PGP_ERR_USAGE);
    ck_assert_str_eq(err.msg, "restore: unknown or incomplete option \"--pgdata\"");
    char *other[] = {"drill", "--keep", "extra", NULL};
    ck_assert_int_eq(parse(&cmd_drill, false, &seen, &a, &err, other), PGP_ERR_USAGE);
    ck_assert_str_eq(err.msg, "drill: unexpected argument \"extra\"");
    char *output[] = {"expire", "--output", "yaml", NULL};
    ck_assert_int_eq(parse(&cmd_expire, false, &seen, &a, &err, output), PGP_ERR_USAGE);
    ck_assert_str_eq(err.msg, "expire: --output must be text or json");
    char *ckpt[] = {"backup", "--checkpoint", "slow", NULL};
    ck_assert_int_eq(parse(&cmd_backup, false, &seen, &a, &err, ckpt), PGP_ERR_USAGE);
    ck_assert_str_eq(err.msg, "backup: --checkpoint must be fast or spread");
    /* an enum its command checks reaches the command as given */
    char *mode[] = {"restore", "--archive-mode", "on", NULL};
    ck_assert_int_eq(parse(&cmd_restore, false, &seen, &a, &err, mode), 0);
    ck_assert_str_eq(seen.log, "archive-mode=on;");
    /* a flag of another command is unknown here */
    char *foreign[] = {"info", "--jobs", "2", NULL};
    ck_assert_int_eq(parse(&cmd_info, false, &seen, &a, &err, foreign), PGP_ERR_USAGE);
    ck_assert_str_eq(err.msg, "info: unknown or incomplete option \"--jobs\"");
    long v = 0;
    ck_assert_int_eq(cmd_opt_int_flag(&cmd_drill, CMD_OPT_TIMEOUT, "0", &v, &err),
                     PGP_ERR_USAGE);
    ck_assert_str_eq(err.msg, "drill: invalid --timeout \"0\" (expected 1..604800)");
    ck_assert_int_eq(cmd_opt_int_flag(&cmd_restore, CMD_OPT_RESTORE_JOBS, "256", &v, &err), 0);
    ck_assert_int_eq(v, 256);
}
END_TEST

/* flag > environment > configuration file > unset, with the table's variable and key. */
START_TEST(setting_precedence)
{
    static const char conf[] = "[global]\njobs = 3\nretain-full = 9\n";
    FILE *f = fmemopen((void *)conf, sizeof conf - 1, "r");
    CmdSettings s = {0};
    PgpErr err;
    ck_assert_int_eq(config_read(f, "t.conf", &s.config, &err), 0);
    fclose(f);
    unsetenv("PGPITR_JOBS");
    long v = 0;
    ck_assert_int_eq(cmd_opt_int_setting(&s, CMD_OPT_JOBS, NULL, &v, &err), 0);
    ck_assert_int_eq(v, 3);
    setenv("PGPITR_JOBS", "5", 1);
    ck_assert_int_eq(cmd_opt_int_setting(&s, CMD_OPT_JOBS, NULL, &v, &err), 0);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(cmd_opt_int_setting(&s, CMD_OPT_JOBS, "7", &v, &err), 0);
    ck_assert_int_eq(v, 7);
    setenv("PGPITR_JOBS", "", 1);       /* empty: as if unset */
    ck_assert_int_eq(cmd_opt_int_setting(&s, CMD_OPT_JOBS, NULL, &v, &err), 0);
    ck_assert_int_eq(v, 3);
    ck_assert_int_eq(cmd_opt_int_setting(&s, CMD_OPT_JOBS, "0", &v, &err), PGP_ERR_CONFIG);
    ck_assert_str_eq(err.msg, "invalid jobs \"0\" (expected 1..256)");
    v = -1;   /* unset: left alone */
    ck_assert_int_eq(cmd_opt_int_setting(&s, CMD_OPT_ARCHIVE_TIMEOUT, NULL, &v, &err), 0);
    ck_assert_int_eq(v, -1);
    ck_assert_str_eq(cmd_opt_setting(&s, CMD_OPT_RETAIN_FULL, NULL), "9");
    unsetenv("PGPITR_JOBS");
    config_free(s.config);
}
END_TEST

Suite *suite_options(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, table_sound);
    tcase_add_test(tc, help_matches_table);
    tcase_add_test(tc, help_check_catches);
    tcase_add_test(tc, config_keys_match_table);
    tcase_add_test(tc, docs_match_table);
    tcase_add_test(tc, env_literals_in_table);
    tcase_add_test(tc, getopt_array);
    tcase_add_test(tc, parser_values_in_order);
    tcase_add_test(tc, parser_messages);
    tcase_add_test(tc, setting_precedence);
    suite_add_tcase(s, tc);
    return s;
}
