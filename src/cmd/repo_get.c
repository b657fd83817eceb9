/*
 * repo_get.c - `pgpitr repo-get [--raw | --no-decompress] PATH`: one repository object's
 * content on stdout, authenticated and decrypted in an encrypted repository and decompressed
 * by its extension, so that a DBA (or a test) can read a manifest, a drill report or an
 * archived segment without knowing the repository's format or holding the key material
 * outside pgpitr.
 *
 * Owns only the command line and the chain storage -> [decrypt] -> [decompress] -> stdout;
 * which associated data a path is sealed with is repo_seal.h's. Nothing is written to the
 * repository, and no lock is taken: an object is written once and never changed in place.
 * A failed authentication is PGP_ERR_CORRUPT (exit 7) after whatever was already written to
 * stdout: the caller must not use the output of a non-zero exit.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/repo/repo_seal.h"

#define READ_SIZE (256u << 10)

static int write_stdout(void *ud, const void *buf, size_t len, PgpErr *err)
{
    (void)ud;
    if (len > 0 && fwrite(buf, 1, len, stdout) != len)
        return PGP_FAIL_SYS(err, errno, "cannot write to stdout");
    return 0;
}

/* The filters in front of stdout; head is where stored bytes go in. */
typedef struct GetChain {
    PipeFilter *decrypt, *decompress, *head;
} GetChain;

static int chain_build(const ObjectSeal *seal, PipeCodec codec, GetChain *c, PgpErr *err)
{
    PipeSink sink = {write_stdout, NULL};
    int rc = 0;
    if (codec != PIPE_CODEC_NONE) {
        rc = pipe_decompress_new(codec, sink, &c->decompress, err);
        sink = pipe_filter_sink(c->decompress);
    }
    if (rc == 0 && seal->key != NULL) {
        rc = pipe_decrypt_new(seal->key, seal->ad, sink, &c->decrypt, err);
        sink = pipe_filter_sink(c->decrypt);
    }
    c->head = c->decrypt != NULL ? c->decrypt : c->decompress;
    return rc;
}

static void chain_free(GetChain *c)
{
    pipe_filter_free(c->decrypt);
    pipe_filter_free(c->decompress);
}

static int copy_out(Storage *st, const char *path, GetChain *c, PgpErr *err)
{
    static char buf[READ_SIZE];
    StorageReader *rd = NULL;
    int rc = storage_open_read(st, path, &rd, err);
    while (rc == 0) {
        size_t got = 0;
        rc = storage_read(rd, buf, sizeof buf, &got, err);
        if (rc != 0 || got == 0)
            break;
        rc = c->head != NULL ? pipe_filter_push(c->head, buf, got, err)
                             : write_stdout(NULL, buf, got, err);
    }
    if (rc == 0 && c->head != NULL)
        rc = pipe_filter_finish(c->head, err);
    storage_reader_close(rd);
    if (rc == 0 && fflush(stdout) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot write to stdout");
    return rc;
}

static int get(const CmdSettings *s, const char *path, bool raw, bool decompress, PgpErr *err)
{
    Storage *st = NULL;
    Repo *repo = NULL;
    /* --raw needs no key: the bytes as stored, for a copy or a forensic look */
    int rc = raw ? cmd_open_storage(s, false, &st, err) : cmd_open_repo(s, false, &st, &repo, err);
    ObjectSeal seal = {NULL, NULL};
    char ad[REPO_PATH_MAX];
    PipeCodec codec = PIPE_CODEC_NONE;
    if (rc == 0 && !raw)
        rc = repo_seal_of(repo_crypto_key(repo), path, &seal, ad, err);
    if (rc == 0 && !raw && decompress && repo_seal_kind(path) != REPO_SEAL_PLAIN)
        (void)repo_object_codec(path, &codec);    /* no known extension: as stored */
    GetChain c = {0};
    if (rc == 0)
        rc = chain_build(&seal, codec, &c, err);
    if (rc == 0 && (rc = copy_out(st, path, &c, err)) != 0)
        pgp_err_context(err, "%s", path);
    chain_free(&c);
    repo_free(repo);
    storage_free(st);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_repo_get, .positional = true};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || a.help)
        return rc;
    if (argc - a.first != 1)
        return cmd_usage_error(err, &cmd_repo_get, "expected one repository path");
    const char *path = argv[a.first];
    if (!repo_path_valid(path))
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "\"%.200s\" is not a repository path (relative, "
                        "no \".\" or \"..\" or empty component)", path);
    bool raw = a.flag[CMD_OPT_RAW] != NULL;
    bool no_decompress = a.flag[CMD_OPT_NO_DECOMPRESS] != NULL;
    if (raw && no_decompress)
        return cmd_usage_error(err, &cmd_repo_get, "--raw and --no-decompress exclude each other");
    CmdSettings s;
    if ((rc = cmd_settings_load(g, &s, err)) != 0)
        return rc;
    rc = get(&s, path, raw, !no_decompress, err);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_repo_get = {
    .name = "repo-get",
    .summary = "print one repository object's content (decrypted, decompressed)",
    .usage =
        "usage: pgpitr [--repo PATH] repo-get [--raw | --no-decompress] OBJECT\n"
        "\n"
        "Writes the content of the repository object OBJECT (a path relative to the\n"
        "repository, as `pgpitr verify` and the manifests name them) to stdout. In an\n"
        "encrypted repository it is authenticated and decrypted with the configured\n"
        "master key first; a .zst or .lz4 object is then decompressed. repo.json, keys/,\n"
        "locks/ and leases/ are never encrypted and are printed as stored. A non-zero\n"
        "exit means the output is not the object's content, even if some was written.\n"
        "\n"
        "options:\n"
        "  --raw                   the bytes as stored (no key needed)\n"
        "  --no-decompress         decrypt but keep the compression\n",
    .run = run,
    .exit_ok = "the object's whole content was written to stdout",
    .exit_not_found = "the object does not exist",
    .exit_other = "7 when the object failed authentication or decompression (discard the output)",
};
