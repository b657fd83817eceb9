/*
 * main.c - argv -> command table (cmd_table.c); exits with the status cmd_exit_status() gives.
 * The global options are the option table's (cmd_options.c). Nothing else.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/suggest.h"

/* "see pgpitr --help", after "did you mean ...?" when word is close to one of names. */
static void help_hint(PgpErr *err, const char *word, const char *const *names, size_t n,
                      const char *prefix)
{
    const char *near = pgp_suggest(word, names, n);
    if (near != NULL)
        pgp_err_hint(err, "did you mean \"%s%s\"? see pgpitr --help", prefix, near);
    else
        pgp_err_hint(err, "see pgpitr --help");
}

static int bad_option(const char *arg, PgpErr *err)
{
    const char *names[CMD_OPT__COUNT + 1];
    size_t n = 0;
    for (size_t i = 0; i < cmd_options_len; i++)
        if (cmd_option_in(&cmd_options[i], CMD_OPT_GLOBAL))
            names[n++] = cmd_options[i].name;
    names[n++] = "help";
    char word[80] = "";
    if (strncmp(arg, "--", 2) == 0)    /* "--cofig=x" -> "cofig" */
        snprintf(word, sizeof word, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
    PGP_FAIL(err, PGP_ERR_USAGE, "unknown or incomplete option \"%s\"", arg);
    help_hint(err, word, names, n, "--");
    log_error_report(err);
    return pgp_err_exit_status(err->code);
}

int main(int argc, char **argv)
{
    struct option longopts[CMD_OPT_LONGOPTS_MAX];
    char shortopts[CMD_OPT_SHORTOPTS_MAX];
    cmd_options_getopt(CMD_OPT_GLOBAL, longopts, shortopts);
    CmdGlobal g = {0};
    PgpErr err;
    pgp_err_clear(&err);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (c) {
        case CMD_OPT_GETOPT_BASE + CMD_OPT_REPO: g.repo = optarg; break;
        case CMD_OPT_GETOPT_BASE + CMD_OPT_CONFIG: g.config = optarg; break;
        case CMD_OPT_GETOPT_BASE + CMD_OPT_LOG_LEVEL: g.log_level = optarg; break;
        case 'h': cmd_print_help(stdout); return 0;
        case CMD_OPT_GETOPT_BASE + CMD_OPT_VERSION:
            printf("pgpitr %s\n", PGPITR_VERSION);
            return 0;
        default:
            if (c >= CMD_OPT_GETOPT_BASE && c - CMD_OPT_GETOPT_BASE < CMD_GLOBAL_FLAGS) {
                g.flag[c - CMD_OPT_GETOPT_BASE] = optarg;   /* only global rows reach here */
                break;
            }
            return bad_option(argv[optind - 1], &err);
        }
    }
    if (optind >= argc) {
        cmd_print_help(stderr);
        return pgp_err_exit_status(PGP_ERR_USAGE);
    }
    const char *name = argv[optind];
    if (strcmp(name, "version") == 0) {
        printf("pgpitr %s\n", PGPITR_VERSION);
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        cmd_print_help(stdout);
        return 0;
    }
    const CmdDef *cmd = cmd_find(name);
    if (cmd != NULL) {
        /* The command sees its own name as argv[0]. */
        int rc = cmd->run(&g, argc - optind, argv + optind, &err);
        if (rc == 0)
            return 0;
        if (cmd->exit_from_run && rc > 0 && err.code == PGP_ERR_OK)
            return rc;   /* an answer (check's WARNING, CRITICAL), printed by the command */
        if (err.code == PGP_ERR_OK) /* never let a failure exit 0 for lack of a message */
            PGP_FAIL(&err, PGP_ERR_INTERNAL, "%s failed without an error message", cmd->name);
        if (!(cmd->quiet_not_found && err.code == PGP_ERR_NOT_FOUND))
            log_error_report(&err);
        return cmd_exit_status(cmd, err.code);
    }
    PGP_FAIL(&err, PGP_ERR_USAGE, "unknown command \"%s\"", name);
    const char *names[32];
    size_t n = 0;
    for (size_t i = 0; i < cmd_table_len && n < 32; i++)
        names[n++] = cmd_table[i]->name;
    help_hint(&err, name, names, n, "");
    log_error_report(&err);
    return pgp_err_exit_status(err.code);
}
