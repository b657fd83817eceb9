/*
 * settings_s3.h - private to src/cmd: an S3 repository's settings (settings_s3.c), read by
 * cmd_open_repo when the repository is an s3:// URL.
 */
#ifndef PGPITR_CMD_SETTINGS_S3_H
#define PGPITR_CMD_SETTINGS_S3_H

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/storage/s3.h"

typedef struct CmdS3Config {
    StorageS3Config cfg;        /* strings point into the settings or the buffers below */
    char key[256], secret[256], token[4096];    /* from the shared credentials file */
} CmdS3Config;

/* PGP_ERR_CONFIG naming the setting for a bad value. */
int cmd_s3_config(const CmdSettings *s, CmdS3Config *c, PgpErr *err);
/* Wipes the buffers (the secret) once the driver has its copy. */
void cmd_s3_config_wipe(CmdS3Config *c);

#endif
