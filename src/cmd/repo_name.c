/*
 * repo_name.c - `pgpitr repo-name [SHA256...]`: where the content-addressed object of each
 * SHA-256 (as manifests and chunk lists record them) lives: "objects/<xx>/<hex>", without
 * the codec's extension. In an encrypted repository <hex> is the keyed name, which cannot be
 * computed without the repository key (docs/encryption.md, "Names"), so a DBA following a
 * chunk list by hand, or a test checking which objects a backup references, asks here.
 *
 * Owns only the command line; the name is object_io_name_hex_of's. With no argument the
 * digests are read from stdin, one a line, so that thousands of chunks take one process.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/repo_layout.h"

static int print_name(const CryptoRepoKey *key, const char *sha, PgpErr *err)
{
    char hex[PIPE_SHA256_HEX_LEN + 1];
    char path[REPO_PATH_MAX];
    int rc = object_io_name_hex_of(key, sha, hex, NULL);
    if (rc != 0)
        return PGP_FAIL(err, PGP_ERR_USAGE, "\"%.80s\" is not a SHA-256 (64 lowercase hex "
                        "digits)", sha);
    if ((rc = repo_object_path(hex, PIPE_CODEC_NONE, path, err)) != 0)
        return rc;
    if (printf("%s\n", path) < 0)
        return PGP_FAIL_SYS(err, errno, "cannot write to stdout");
    return 0;
}

static int from_stdin(const CryptoRepoKey *key, PgpErr *err)
{
    char line[256];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '\0')
            rc = print_name(key, line, err);
    }
    if (rc == 0 && ferror(stdin))
        rc = PGP_FAIL_SYS(err, errno, "cannot read stdin");
    return rc;
}

static int names(const CmdSettings *s, int n, char **shas, PgpErr *err)
{
    Storage *st = NULL;
    Repo *repo = NULL;
    int rc = cmd_open_repo(s, false, &st, &repo, err);
    const CryptoRepoKey *key = rc == 0 ? repo_crypto_key(repo) : NULL;
    if (rc == 0 && repo_encrypted(repo) && key == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOT_FOUND, "the encrypted repository holds nothing yet");
    for (int i = 0; rc == 0 && i < n; i++)
        rc = print_name(key, shas[i], err);
    if (rc == 0 && n == 0)
        rc = from_stdin(key, err);
    if (rc == 0 && fflush(stdout) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot write to stdout");
    repo_free(repo);
    storage_free(st);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_repo_name, .positional = true};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || a.help)
        return rc;
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;
    rc = names(&s, argc - a.first, argv + a.first, err);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_repo_name = {
    .name = "repo-name",
    .summary = "print where the object of a content SHA-256 lives (keyed name if encrypted)",
    .usage =
        "usage: pgpitr [--repo PATH] repo-name [SHA256...]\n"
        "\n"
        "Prints, one a line, the repository path (objects/XX/HEX, without the codec's\n"
        "extension) of the content-addressed object holding content with each SHA-256,\n"
        "as a backup's manifest or chunk list records it. In an encrypted repository the\n"
        "name is keyed by the repository key and cannot be derived from the SHA-256\n"
        "alone. Without arguments the SHA-256s are read from stdin, one a line.\n"
        "Whether the object exists is not checked: `pgpitr repo-get` reads it.\n",
    .run = run,
    .exit_ok = "every name was printed",
    .exit_not_found = "an encrypted repository that holds nothing yet (no key to name with)",
};
