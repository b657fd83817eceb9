/*
 * settings_crypto.h - private to src/cmd: the encryption settings (settings_crypto.c), read
 * by cmd_open_repo and handed to the repository as a RepoCryptoConfig (engines never read
 * configuration).
 */
#ifndef PGPITR_CMD_SETTINGS_CRYPTO_H
#define PGPITR_CMD_SETTINGS_CRYPTO_H

#include <limits.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/restore/restore.h"

/* encryption (none | aes-256-gcm) and the master key of whichever of encryption-key-file,
 * encryption-passphrase-file, encryption-key-command is set (out->master NULL when none).
 * PGP_ERR_CONFIG for another encryption value or more than one key source; the key sources'
 * own PGP_ERR_KEY (unreadable file, loose mode, failing command). */
int cmd_repo_crypto(const CmdSettings *s, RepoCryptoConfig *out, PgpErr *err);
/* The master key of whichever of file, passphrase, command is set (*out NULL when none);
 * PGP_ERR_CONFIG naming what (e.g. "encryption-key-file, ...") when more than one is. */
int cmd_master_key(const char *file, const char *pass, const char *cmd, const char *what,
                   CryptoMaster **out, PgpErr *err);

/* The encryption settings given by the environment (PGPITR_ENCRYPTION,
 * PGPITR_ENCRYPTION_KEY_FILE, ..._PASSPHRASE_FILE, ..._KEY_COMMAND), for the restore_command
 * of an encrypted repository: the server that runs it does not inherit restore's environment.
 * A key or passphrase file's path is made absolute (the server runs restore_command in its
 * data directory); a command is carried as given. Never a key: those settings name files and
 * programs. */
#define CMD_CRYPTO_ENV_MAX 4
typedef struct CmdCryptoEnv {
    RestoreCommandEnv v[CMD_CRYPTO_ENV_MAX];
    size_t n;
    char abs[CMD_CRYPTO_ENV_MAX][PATH_MAX];
} CmdCryptoEnv;
/* PGP_ERR_IO naming a key file that cannot be resolved (it was read just before: rare). */
int cmd_crypto_command_env(CmdCryptoEnv *out, PgpErr *err);

#endif
