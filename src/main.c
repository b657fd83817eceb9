/*
 * main.c - argv -> command table (cmd_table.c); exits with the status cmd_exit_status() gives.
 * Nothing else.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/suggest.h"

static void print_help(FILE *out)
{
    fputs("usage: pgpitr [GLOBAL OPTIONS] COMMAND [ARGS]\n"
          "\n"
          "PostgreSQL WAL archiving and point-in-time recovery.\n"
          "\n"
          "global options:\n"
          "  --repo PATH         repository (env PGPITR_REPO, config: repo)\n"
          "  --config FILE       configuration file (env PGPITR_CONFIG,\n"
          "                      default " PGPITR_DEFAULT_CONFIG " if present)\n"
          "  --log-level LEVEL   error|warn|info|debug (env PGPITR_LOG_LEVEL, default warn)\n"
          "  --help, --version\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < cmd_table_len; i++)
        fprintf(out, "  %-14s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
    fprintf(out, "  %-14s %s\n", "version", "print the version");
    fputs("\nRun 'pgpitr COMMAND --help' for a command's options and exit statuses\n"
          "(all in docs/exit-status.md).\n", out);
}

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
    static const char *const names[] = {"repo", "config", "log-level", "help", "version"};
    char word[80] = "";
    if (strncmp(arg, "--", 2) == 0)    /* "--cofig=x" -> "cofig" */
        snprintf(word, sizeof word, "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
    PGP_FAIL(err, PGP_ERR_USAGE, "unknown or incomplete option \"%s\"", arg);
    help_hint(err, word, names, sizeof names / sizeof names[0], "--");
    log_error_report(err);
    return pgp_err_exit_status(err->code);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"repo", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    CmdGlobal g = {0};
    PgpErr err;
    pgp_err_clear(&err);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': g.repo = optarg; break;
        case 'c': g.config = optarg; break;
        case 'L': g.log_level = optarg; break;
        case 'h': print_help(stdout); return 0;
        case 'V': printf("pgpitr %s\n", PGPITR_VERSION); return 0;
        default:
            return bad_option(argv[optind - 1], &err);
        }
    }
    if (optind >= argc) {
        print_help(stderr);
        return pgp_err_exit_status(PGP_ERR_USAGE);
    }
    const char *name = argv[optind];
    if (strcmp(name, "version") == 0) {
        printf("pgpitr %s\n", PGPITR_VERSION);
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        print_help(stdout);
        return 0;
    }
    const CmdDef *cmd = cmd_find(name);
    if (cmd != NULL) {
        /* The command sees its own name as argv[0]. */
        int rc = cmd->run(&g, argc - optind, argv + optind, &err);
        if (rc == 0)
            return 0;
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
