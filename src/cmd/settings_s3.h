/*
 * settings_s3.h - private to src/cmd: an S3 repository's settings (settings_s3.c), read by
 * cmd_open_repo when the repository is an s3:// URL.
 */
#ifndef PGPITR_CMD_SETTINGS_S3_H
#define PGPITR_CMD_SETTINGS_S3_H

#include <limits.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/restore/restore.h"
#include "pgpitr/storage/s3.h"

typedef struct CmdS3Config {
    StorageS3Config cfg;        /* strings point into the settings or the buffers below */
    char key[256], secret[256], token[4096];    /* from the shared credentials file */
} CmdS3Config;

/* PGP_ERR_CONFIG naming the setting for a bad value. */
int cmd_s3_config(const CmdSettings *s, CmdS3Config *c, PgpErr *err);
/* Wipes the buffers (the secret) once the driver has its copy. */
void cmd_s3_config_wipe(CmdS3Config *c);

/* The S3 settings given to this process by a flag or the environment, as assignments for the
 * restore_command restore writes (settings_s3_env.c): the server runs it without restore's
 * environment. CA paths made absolute. Never the secret key or the token: secret_env names
 * the environment variable the credentials came from (NULL: the configuration file or the
 * default credentials file, which the server finds as restore did), for a warning. */
#define CMD_S3_ENV_MAX 12
typedef struct CmdS3Env {
    RestoreCommandEnv v[CMD_S3_ENV_MAX];
    size_t n;
    char abs[2][PATH_MAX];
    const char *secret_env;
} CmdS3Env;
/* PGP_ERR_IO naming a CA path that cannot be resolved (it was checked just before: rare). */
int cmd_s3_command_env(const CmdSettings *s, CmdS3Env *out, PgpErr *err);

#endif
