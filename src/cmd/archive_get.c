/*
 * archive_get.c - `pgpitr archive-get NAME DEST`, PostgreSQL's restore_command.
 * Exit 1 (silently) only when NAME is truly not archived: PostgreSQL asks for files that
 * do not exist as a matter of course. Every other failure exits 255 (see CmdDef.failure_exit)
 * because PostgreSQL would take exit 1 as "end of WAL" and finish recovery early, silently
 * missing data; a status above 125 makes it stop recovery instead.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd.h"
#include "pgpitr/log.h"
#include "pgpitr/wal_get.h"
#include "pgpitr/walname.h"

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(cmd_archive_get.usage, stdout);
            return 0;
        }
        return cmd_usage_error(err, &cmd_archive_get, "unknown option \"%s\"", argv[optind - 1]);
    }
    if (argc - optind != 2)
        return cmd_usage_error(err, &cmd_archive_get, "expected NAME and DEST");
    const char *name = argv[optind], *dest = argv[optind + 1];
    PgWalName parsed;
    int rc = pg_walname_parse(name, &parsed, err);
    if (rc != 0)
        return rc;

    CmdSettings s;
    rc = cmd_settings_load(g, &s, err);
    if (rc != 0)
        return rc == PGP_ERR_NOT_FOUND ? (int)(err->code = PGP_ERR_CONFIG) : rc;
    Storage *storage = NULL;
    Repo *repo = NULL;
    rc = cmd_open_repo(&s, false, &storage, &repo, err);
    if (rc == PGP_ERR_NOT_FOUND) /* a missing repository is a broken setup, not "not archived" */
        rc = err->code = PGP_ERR_CONFIG;
    WalGetResult res;
    if (rc == 0)
        rc = wal_get_file(repo, name, dest, &res, err);
    if (rc == 0)
        log_info("restored \"%s\" (%llu bytes) from \"%s\"", name, (unsigned long long)res.size,
                 res.object.path);
    repo_free(repo);
    storage_free(storage);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_archive_get = {
    .name = "archive-get",
    .summary = "restore one WAL file (PostgreSQL's restore_command)",
    .usage =
        "usage: pgpitr [--repo PATH] archive-get NAME DEST\n"
        "\n"
        "Fetches the archived WAL file NAME, decompresses it, verifies its SHA-256 and\n"
        "writes it to DEST atomically.\n"
        "\n"
        "  restore_command = 'pgpitr --repo /var/lib/pgpitr archive-get %f \"%p\"'\n"
        "\n"
        "exit status: 0 restored; 1 not in the archive (normal at the end of WAL);\n"
        "255 any other failure (corrupt object, checksum mismatch, unreadable repository):\n"
        "PostgreSQL stops recovery instead of ending it early with missing data.\n",
    .run = run,
    .failure_exit = 255,
    .quiet_not_found = true,
};
