/*
 * settings_crypto.h - private to src/cmd: the encryption settings (settings_crypto.c), read
 * by cmd_open_repo and handed to the repository as a RepoCryptoConfig (engines never read
 * configuration).
 */
#ifndef PGPITR_CMD_SETTINGS_CRYPTO_H
#define PGPITR_CMD_SETTINGS_CRYPTO_H

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/repo/repo.h"

/* encryption (none | aes-256-gcm) and the master key of whichever of encryption-key-file,
 * encryption-passphrase-file, encryption-key-command is set (out->master NULL when none).
 * PGP_ERR_CONFIG for another encryption value or more than one key source; the key sources'
 * own PGP_ERR_KEY (unreadable file, loose mode, failing command). */
int cmd_repo_crypto(const CmdSettings *s, RepoCryptoConfig *out, PgpErr *err);
/* The master key of whichever of file, passphrase, command is set (*out NULL when none);
 * PGP_ERR_CONFIG naming what (e.g. "encryption-key-file, ...") when more than one is. */
int cmd_master_key(const char *file, const char *pass, const char *cmd, const char *what,
                   CryptoMaster **out, PgpErr *err);

#endif
