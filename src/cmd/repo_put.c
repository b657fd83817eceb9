/*
 * repo_put.c - `pgpitr repo-put [--replace] OBJECT`: stdin stored as the repository object
 * OBJECT, sealed as its path's kind is in an encrypted repository (repo_seal.h), the
 * inverse of `pgpitr repo-get --no-decompress`: the bytes are taken as that prints them
 * (compressed if the name's extension says so; nothing is compressed or checked here).
 *
 * For repairs by hand and for tests that must plant an object (a fabricated drill report, a
 * stashed segment put back) in an encrypted repository, where a plain copy would fail
 * authentication. Owns only the command line. Nothing is visible before stdin has ended and
 * the object is durable; without --replace an existing object is never touched (exit 8).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/repo/meta_io.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/repo/repo_seal.h"

#define READ_SIZE (256u << 10)

static int copy_in(MetaWriter *w, PgpErr *err)
{
    static char buf[READ_SIZE];
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return PGP_FAIL_SYS(err, errno, "cannot read stdin");
        if (n == 0)
            return 0;
        int rc = meta_write(w, buf, (size_t)n, err);
        if (rc != 0)
            return rc;
    }
}

static int put(const CmdSettings *s, const char *path, bool replace, PgpErr *err)
{
    Storage *st = NULL;
    Repo *repo = NULL;
    int rc = cmd_open_repo(s, false, &st, &repo, err);
    if (rc == 0 && repo_encrypted(repo) && repo_crypto_key(repo) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOT_FOUND, "the encrypted repository holds nothing yet: "
                      "no repository key to seal with");
    ObjectSeal seal = {NULL, NULL};
    char ad[REPO_PATH_MAX];
    if (rc == 0)
        rc = repo_seal_of(repo_crypto_key(repo), path, &seal, ad, err);
    MetaWriter *w = NULL;
    if (rc == 0)
        rc = meta_writer_open_ad(st, seal.key, seal.ad, path, replace ? STORAGE_WRITE_REPLACE : 0,
                                 &w, err);
    bool opened = rc == 0;   /* errors from here on are about path: say so */
    if (rc == 0)
        rc = copy_in(w, err);
    if (rc == 0)
        rc = meta_writer_commit(w, err);   /* frees w, also on error */
    else
        meta_writer_abort(w);
    if (rc != 0 && opened)
        pgp_err_context(err, "%s", path);
    repo_free(repo);
    storage_free(st);
    return rc;
}

/* The repository's identity and its key document are pgpitr's own: a wrong repo.json binds
 * the repository to nothing (or to another cluster), a wrong keys/repo-key.json makes every
 * encrypted object unreadable for good. A repair tool must not be one typo away from that;
 * they are written when a cluster is bound and by `pgpitr key rotate`. */
static int refuse_identity(const char *path, PgpErr *err)
{
    const char *slash = strchr(REPO_LAYOUT_KEY_DOC, '/');
    size_t keys = (size_t)(slash - REPO_LAYOUT_KEY_DOC) + 1;   /* "keys/" */
    bool key_dir = strncmp(path, REPO_LAYOUT_KEY_DOC, keys) == 0;
    if (!key_dir && strcmp(path, REPO_LAYOUT_IDENTITY) != 0)
        return 0;
    PGP_FAIL(err, PGP_ERR_USAGE, "refusing to write \"%s\": %s", path,
             key_dir ? "the repository key is written only by pgpitr key rotate"
                     : "the repository's identity is written only when a cluster is bound");
    pgp_err_hint(err, "nothing was written");
    return PGP_ERR_USAGE;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_repo_put, .positional = true};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || a.help)
        return rc;
    if (argc - a.first != 1)
        return cmd_usage_error(err, &cmd_repo_put, "expected one repository path");
    const char *path = argv[a.first];
    if (!repo_path_valid(path))
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "\"%.200s\" is not a repository path "
                        "(relative, no \".\" or \"..\" or empty component)", path);
    if ((rc = refuse_identity(path, err)) != 0)
        return rc;
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;
    rc = put(&s, path, a.flag[CMD_OPT_REPLACE] != NULL, err);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_repo_put = {
    .name = "repo-put",
    .summary = "store stdin as one repository object (encrypted as its kind is)",
    .usage =
        "usage: pgpitr [--repo PATH] repo-put [--replace] OBJECT < CONTENT\n"
        "\n"
        "Stores stdin as the repository object OBJECT (a path relative to the\n"
        "repository), encrypted in an encrypted repository as objects of its kind are,\n"
        "so that `pgpitr repo-get --no-decompress OBJECT` gives stdin back. Nothing is\n"
        "compressed or checked: a wrong content is a corrupt object. For repairs by hand;\n"
        "`pgpitr verify` afterwards. Nothing is visible until stdin ends. repo.json\n"
        "and keys/ are refused (exit 2): pgpitr alone writes them.\n"
        "\n"
        "options:\n"
        "  --replace               replace an existing object (default: refuse, exit 8)\n",
    .run = run,
    .exit_ok = "the object is stored durably",
    .exit_not_found = "an encrypted repository that holds nothing yet (no key to seal with)",
    .exit_other = "8 when the object exists and --replace was not given (it is untouched)",
};
