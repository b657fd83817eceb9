/*
 * archive_push.c - `pgpitr archive-push PATH`, PostgreSQL's archive_command.
 * Parses options, resolves settings, starts encoding the file (wal_push_start), opens (or
 * creates) the repository meanwhile, and hands both to wal_push_finish(). Exit 0 tells
 * PostgreSQL it may recycle the segment, so every failure path must return non-zero.
 */
#include <stdlib.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"
#include "pgpitr/archive/wal_push.h"

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_archive_push, .positional = true, .unknown = "unknown option"};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || a.help)   /* help: the parser printed the usage */
        return rc;
    if (argc - a.first != 1)
        return cmd_usage_error(err, &cmd_archive_push, "expected exactly one file to archive");
    const char *path = argv[a.first];

    CmdSettings s;
    rc = cmd_settings_load(g, &s, err);
    if (rc != 0)
        return rc;
    Storage *storage = NULL;
    Repo *repo = NULL;
    WalPushJob *job = NULL;
    WalPushOptions opt;
    rc = cmd_compression(&s, a.flag[CMD_OPT_COMPRESS], a.flag[CMD_OPT_COMPRESS_LEVEL], &opt.codec,
                         &opt.level, err);
    /* The file is compressed while the repository is opened (see wal_push.c). */
    if (rc == 0)
        rc = wal_push_start(path, &opt, &job, err);
    if (rc == 0)
        rc = cmd_open_repo(&s, true, &storage, &repo, err);
    WalPushResult res;
    if (rc == 0) {
        rc = wal_push_finish(job, repo, &res, err);
        job = NULL;
    }
    wal_push_cancel(job);
    if (rc == 0 && res.already_archived)
        log_info("\"%s\" was already archived with the same content (sha256 %s)", path,
                 res.sha256_hex);
    else if (rc == 0)
        log_info("archived \"%s\" (%llu bytes, %llu stored as %s)", path,
                 (unsigned long long)res.size, (unsigned long long)res.stored_size,
                 pipe_codec_name(opt.codec));
    repo_free(repo);
    storage_free(storage);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_archive_push = {
    .name = "archive-push",
    .summary = "archive one WAL file (PostgreSQL's archive_command)",
    .usage =
        "usage: pgpitr [--repo PATH] archive-push [OPTIONS] PATH\n"
        "\n"
        "Archives the WAL segment, .partial, .backup or .history file at PATH into the\n"
        "repository, durably. Exit 0 only when the file is safely stored under its final\n"
        "name with a verified SHA-256. A file already archived with the same content is\n"
        "success; with different content it is an error naming both checksums.\n"
        "\n"
        "  archive_command = 'pgpitr --repo /var/lib/pgpitr archive-push %p'\n"
        "\n"
        "options:\n"
        "  --compress zstd|lz4|none   codec (default zstd; config: compress)\n"
        "  --compress-level N         zstd 1..19 (default 1), lz4 0..12 (default 0)\n"
        "                             (config: compress-level)\n",
    .run = run,
    .exit_ok =
        "the file is durable in the repository under its final name, or was already "
        "there with the same content",
};
