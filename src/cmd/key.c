/*
 * key.c - the `pgpitr key rotate` command line (docs/encryption.md, "Rotation"): the
 * repository opened with the configured (current) master key, the new master key from the
 * --new-* option given, and the key document rewrapped (repo_key_rotate). No object is
 * touched. Owns only the command line.
 */
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "settings_crypto.h"

static int rotate(const CmdSettings *s, const CmdArgs *a, PgpErr *err)
{
    CryptoMaster *next = NULL;
    int rc = cmd_master_key(a->flag[CMD_OPT_NEW_KEY_FILE], a->flag[CMD_OPT_NEW_PASSPHRASE_FILE],
                            a->flag[CMD_OPT_NEW_KEY_COMMAND],
                            "--new-key-file, --new-passphrase-file and --new-key-command",
                            &next, err);
    if (rc == 0 && next == NULL)
        rc = PGP_FAIL(err, PGP_ERR_USAGE, "key rotate: give the new master key with "
                      "--new-key-file, --new-passphrase-file or --new-key-command");
    Storage *storage = NULL;
    Repo *repo = NULL;
    RepoLock *lock = NULL;
    if (rc == 0)
        rc = cmd_open_repo(s, false, &storage, &repo, err);
    /* One rotation at a time: two that read the same document and each wrote their own would
     * both report success, while the document left is wrapped by only one of the new keys.
     * repo_key_rotate reads the document again under the lock: a rotation that waited for
     * another finds it wrapped by a key it was not given and refuses (exit 14). */
    if (rc == 0)
        rc = cmd_lock_repo(s, storage, REPO_LOCK_KEY, "key rotate", a->flag[CMD_OPT_LOCK_WAIT],
                           &lock, err);
    if (rc == 0) {
        rc = repo_key_rotate(repo, next, err);   /* takes next */
        next = NULL;
    }
    repo_lock_release(lock);
    if (rc == 0)
        printf("the repository key of \"%s\" is now wrapped by the new master key: configure "
               "it in place of the old one\n", s->repo_path);
    crypto_master_free(next);
    repo_free(repo);
    storage_free(storage);
    return rc != 0 || fflush(stdout) == 0 ? rc : PGP_FAIL(err, PGP_ERR_IO, "cannot write the output");
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    /* "key rotate [OPTIONS]": the options are parsed after the subcommand (argv[0] for the
     * parser is then "rotate"); "key --help" alone prints the usage. */
    bool sub = argc >= 2 && strcmp(argv[1], "rotate") == 0;
    CmdParse p = {.cmd = &cmd_key};
    CmdArgs a;
    int rc = cmd_args_parse(&p, sub ? argc - 1 : argc, sub ? argv + 1 : argv, &a, err);
    if (rc != 0 || a.help)
        return rc;
    if (!sub)
        return cmd_usage_error(err, &cmd_key, "expected: key rotate");
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;
    rc = rotate(&s, &a, err);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_key = {
    .name = "key",
    .summary = "rotate the master key of an encrypted repository",
    .usage =
        "usage: pgpitr [--repo PATH] key rotate --new-key-file FILE\n"
        "       pgpitr [--repo PATH] key rotate --new-passphrase-file FILE\n"
        "       pgpitr [--repo PATH] key rotate --new-key-command COMMAND\n"
        "\n"
        "Rewraps the repository key of an encrypted repository, opened with the\n"
        "configured master key (encryption-key-file, ...), under a new master key, and\n"
        "writes the key document (keys/repo-key.json) again, atomically; no object is\n"
        "touched. From then on only the new master key opens the repository: configure it\n"
        "in place of the old one right away (commands with the old one fail with exit 14\n"
        "meanwhile; PostgreSQL retries archive_command). Keep the old key until a command\n"
        "has run with the new one. One rotation runs at a time (the key lock, exit 13\n"
        "for a second). docs/encryption.md describes the key hierarchy.\n"
        "\n"
        "options:\n"
        "  --new-key-file FILE     the new master key: a key file\n"
        "  --new-passphrase-file FILE\n"
        "                          the new master key: a passphrase file\n"
        "  --new-key-command COMMAND\n"
        "                          the new master key: a command printing it\n"
        "  --lock-wait SECONDS     wait that long for another key rotate (or an expire)\n"
        "                          holding the repository's key lock (default 0: fail)\n",
    .run = run,
    .exit_ok = "the key document now holds the repository key wrapped by the new master key",
};
