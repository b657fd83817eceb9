/*
 * settings_crypto.c - the encryption settings (settings_crypto.h): which master key, from
 * where. Nothing here reads a key's bytes: the key ring does (crypto/keyring.h), and the
 * repository decides what the key opens (repo_open_crypto).
 */
#include "settings_crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/cmd/cmd_options.h"

#define KEY_COMMAND_ARGS 32
/* A KMS or secret manager call over the network may take a while, but not forever. */
#define KEY_COMMAND_TIMEOUT_S 60

/* The key command split on blanks into argv (no shell, so no quoting: a program that needs
 * one is wrapped in a script). copy is the command's writable copy. */
static int key_command(const char *text, char *copy, size_t cap, CryptoMaster **out,
                       PgpErr *err)
{
    char *argv[KEY_COMMAND_ARGS + 1];
    int n = 0;
    if (strlen(text) >= cap)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "encryption-key-command is too long");
    strcpy(copy, text);
    char *save = NULL;
    for (char *t = strtok_r(copy, " \t", &save); t != NULL; t = strtok_r(NULL, " \t", &save)) {
        if (n == KEY_COMMAND_ARGS)
            return PGP_FAIL(err, PGP_ERR_CONFIG, "encryption-key-command has more than %d words",
                            KEY_COMMAND_ARGS);
        argv[n++] = t;
    }
    if (n == 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "encryption-key-command is empty");
    argv[n] = NULL;
    return crypto_master_from_command(argv, KEY_COMMAND_TIMEOUT_S, out, err);
}

int cmd_repo_crypto(const CmdSettings *s, RepoCryptoConfig *out, PgpErr *err)
{
    *out = (RepoCryptoConfig){0};
    const char *enc = cmd_opt_setting(s, CMD_OPT_ENCRYPTION, NULL);
    if (enc != NULL && strcmp(enc, "aes-256-gcm") == 0)
        out->encrypt = true;
    else if (enc != NULL && strcmp(enc, "none") != 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "encryption must be none or aes-256-gcm, not "
                        "\"%s\"", enc);
    return cmd_master_key(cmd_opt_setting(s, CMD_OPT_ENCRYPTION_KEY_FILE, NULL),
                          cmd_opt_setting(s, CMD_OPT_ENCRYPTION_PASSPHRASE_FILE, NULL),
                          cmd_opt_setting(s, CMD_OPT_ENCRYPTION_KEY_COMMAND, NULL),
                          "encryption-key-file, encryption-passphrase-file and "
                          "encryption-key-command", &out->master, err);
}

int cmd_master_key(const char *file, const char *pass, const char *cmd, const char *what,
                   CryptoMaster **out, PgpErr *err)
{
    *out = NULL;
    if ((file != NULL) + (pass != NULL) + (cmd != NULL) > 1)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "set only one of %s", what);
    if (file != NULL)
        return crypto_master_from_key_file(file, out, err);
    if (pass != NULL)
        return crypto_master_from_passphrase_file(pass, out, err);
    if (cmd != NULL) {
        char copy[4096];
        return key_command(cmd, copy, sizeof copy, out, err);
    }
    return 0;
}

int cmd_crypto_command_env(CmdCryptoEnv *out, PgpErr *err)
{
    static const CmdOptId ids[CMD_CRYPTO_ENV_MAX] = {
        CMD_OPT_ENCRYPTION, CMD_OPT_ENCRYPTION_KEY_FILE, CMD_OPT_ENCRYPTION_PASSPHRASE_FILE,
        CMD_OPT_ENCRYPTION_KEY_COMMAND};
    out->n = 0;
    for (size_t i = 0; i < CMD_CRYPTO_ENV_MAX; i++) {
        const char *name = cmd_option(ids[i])->env;
        const char *v = getenv(name);
        if (v == NULL || v[0] == '\0')   /* unset or empty: cmd_setting ignores it too */
            continue;
        bool file = ids[i] == CMD_OPT_ENCRYPTION_KEY_FILE ||
                    ids[i] == CMD_OPT_ENCRYPTION_PASSPHRASE_FILE;
        if (file && realpath(v, out->abs[i]) == NULL)
            return PGP_FAIL_SYS(err, errno, "cannot resolve the path of %s \"%s\"", name, v);
        out->v[out->n++] = (RestoreCommandEnv){name, file ? out->abs[i] : v};
    }
    return 0;
}
