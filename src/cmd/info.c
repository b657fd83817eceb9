/*
 * info.c - the `pgpitr info` command line: options, opening the repository (never creating
 * it, never locking it: info is read-only and must work while a backup runs), then the model
 * (info_model.c) printed as text (info_text.c) or JSON (info_json.c). Owns only that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/cmd/info.h"

static int parse_options(int argc, char **argv, bool *json, bool *help, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_info};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    *json = a.json;
    *help = a.help;
    return rc;
}

static int print_info(const Info *info, bool json, PgpErr *err)
{
    if (!json) {
        info_print_text(info, stdout);
    } else {
        char *text = NULL;
        int rc = info_to_json(info, &text, err);
        if (rc != 0)
            return rc;
        fputs(text, stdout);
        free(text);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        return PGP_FAIL(err, PGP_ERR_IO, "cannot write the output");
    return 0;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    bool json, help;
    int rc = parse_options(argc, argv, &json, &help, err);
    if (rc != 0 || help)   /* help: the parser printed the usage */
        return rc;
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;
    Storage *storage = NULL;
    Repo *repo = NULL;
    Info info;
    memset(&info, 0, sizeof info);
    rc = cmd_open_repo(&s, false, &storage, &repo, err);
    if (rc == 0)
        rc = info_load(repo, s.repo_path, (int64_t)time(NULL), &info, err);
    if (rc == 0)
        rc = info_load_settings(&s, &info, err);
    if (rc == 0)
        rc = print_info(&info, json, err);
    info_free(&info);
    repo_free(repo);
    storage_free(storage);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_info = {
    .name = "info",
    .summary = "what is recoverable: backups, archived WAL, gaps, last drill",
    .usage =
        "usage: pgpitr [--repo PATH] info [--output text|json]\n"
        "\n"
        "Shows the cluster the repository belongs to, every backup (complete, running,\n"
        "failed or corrupt), who holds a repository lock, the archived WAL of each\n"
        "timeline with its gaps, the recoverable window of each timeline (and where a gap\n"
        "cuts it), how old the newest archived segment is, and the latest drill. Reads\n"
        "listings, manifests and lock objects only (pgpitr verify reads the data) and\n"
        "takes no lock, so it works while a backup runs. An empty repository\n"
        "(no repo.json yet) is not an error. docs/info.md describes the output.\n"
        "\n"
        "options:\n"
        "  --output text|json      text for people (default, fits 80 columns) or JSON\n"
        "                          (docs/info.schema.json)\n",
    .run = run,
    .exit_ok =
        "the repository could be read, whatever it reports (gaps and corrupt manifests "
        "are in the output, not in the status)",
};
