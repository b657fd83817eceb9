/*
 * cmd_table.c - the list of commands (main.c dispatches through it) and what every command's
 * exit statuses mean: the "exit status:" lines of `pgpitr CMD --help` and the status main.c
 * exits with. docs/exit-status.md says the same in one table; test_exit_status.c compares the
 * two, so a status changed here without the table (or the other way round) fails a test.
 */
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"

const CmdDef *const cmd_table[] = {
    &cmd_archive_push,
    &cmd_archive_get,
    &cmd_backup,
    &cmd_restore,
    &cmd_drill,
    &cmd_info,
    &cmd_verify,
    &cmd_expire,
    &cmd_check,
    &cmd_metrics,
    &cmd_notify,
    &cmd_serve,
    &cmd_key,
    &cmd_repo_get,
    &cmd_repo_name,
    &cmd_repo_put,
};
const size_t cmd_table_len = sizeof cmd_table / sizeof cmd_table[0];

/* The global options' lines are compared with the option table by test_options.c. */
void cmd_print_help(FILE *out)
{
    fputs("usage: pgpitr [GLOBAL OPTIONS] COMMAND [ARGS]\n"
          "\n"
          "PostgreSQL WAL archiving and point-in-time recovery.\n"
          "\n"
          "global options:\n"
          "  --repo PATH         repository (env PGPITR_REPO, config: repo)\n"
          "  --config FILE       configuration file (env PGPITR_CONFIG,\n"
          "                      default " PGPITR_DEFAULT_CONFIG " if present)\n"
          "  --log-level LEVEL   error|warn|info|debug (env PGPITR_LOG_LEVEL, default warn)\n"
          "\n"
          "  an S3 repository, --repo s3://BUCKET/PREFIX (docs/s3.md); the secret and\n"
          "  token are settings only (env PGPITR_S3_KEY_SECRET, PGPITR_S3_TOKEN, AWS_*):\n"
          "  --s3-endpoint URL   https://host[:port]\n"
          "                      (env PGPITR_S3_ENDPOINT, config: s3-endpoint)\n"
          "  --s3-region REGION  (env PGPITR_S3_REGION, config: s3-region,\n"
          "                      default us-east-1)\n"
          "  --s3-uri-style host|path (default host)\n"
          "                      (env PGPITR_S3_URI_STYLE, config: s3-uri-style)\n"
          "  --s3-key ID         access key (env PGPITR_S3_KEY, config: s3-key)\n"
          "  --s3-ca-file FILE   (env PGPITR_S3_CA_FILE, config: s3-ca-file)\n"
          "  --s3-ca-path DIR    (env PGPITR_S3_CA_PATH, config: s3-ca-path)\n"
          "  --s3-verify-tls on|off (default on)\n"
          "                      (env PGPITR_S3_VERIFY_TLS, config: s3-verify-tls)\n"
          "  --s3-sse AES256|aws:kms (env PGPITR_S3_SSE, config: s3-sse)\n"
          "  --s3-kms-key-id ID  (env PGPITR_S3_KMS_KEY_ID, config: s3-kms-key-id)\n"
          "  --s3-storage-class CLASS\n"
          "                      (env PGPITR_S3_STORAGE_CLASS, config: s3-storage-class)\n"
          "  --s3-part-size SIZE (env PGPITR_S3_PART_SIZE, config: s3-part-size,\n"
          "                      default 16MiB)\n"
          "  --io-timeout S      (env PGPITR_IO_TIMEOUT, config: io-timeout, default 60)\n"
          "\n"
          "  --help, --version\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < cmd_table_len; i++)
        fprintf(out, "  %-14s %s\n", cmd_table[i]->name, cmd_table[i]->summary);
    fprintf(out, "  %-14s %s\n", "version", "print the version");
    fputs("\nRun 'pgpitr COMMAND --help' for a command's options and exit statuses\n"
          "(all in docs/exit-status.md).\n", out);
}

const CmdDef *cmd_find(const char *name)
{
    for (size_t i = 0; i < cmd_table_len; i++)
        if (strcmp(cmd_table[i]->name, name) == 0)
            return cmd_table[i];
    return NULL;
}

int cmd_exit_status(const CmdDef *cmd, PgpErrCode code)
{
    if (code == PGP_ERR_OK)
        return 0;
    /* "Not found" is an answer only where the command documents one; anywhere else it is a
     * thing that vanished under us, an I/O failure (never the exit 1 a caller may act on). */
    if (code == PGP_ERR_NOT_FOUND && (cmd == NULL || cmd->exit_not_found == NULL))
        code = PGP_ERR_IO;
    if (cmd != NULL && cmd->failure_exit != 0 && code != PGP_ERR_NOT_FOUND)
        return cmd->failure_exit;
    return pgp_err_exit_status(code);
}

/* "  N  text" with text wrapped at 79 columns, continuation lines indented like it. */
static void put_status(FILE *out, const char *status, const char *text)
{
    enum { WIDTH = 79, INDENT = 9 };
    int col = fprintf(out, "  %-*s", INDENT - 2, status);
    const char *p = text;
    while (*p != '\0') {
        size_t word = strcspn(p, " ");
        if (col > INDENT && col + 1 + (int)word > WIDTH) {
            fprintf(out, "\n%*s", INDENT, "");
            col = INDENT;
        } else if (col > INDENT) {
            fputc(' ', out);
            col++;
        }
        col += fprintf(out, "%.*s", (int)word, p);
        p += word;
        p += strspn(p, " ");
    }
    fputc('\n', out);
}

void cmd_print_usage(const CmdDef *cmd, FILE *out)
{
    fputs(cmd->usage, out);
    fputs("\nexit status (docs/exit-status.md):\n", out);
    put_status(out, "0", cmd->exit_ok);
    if (cmd->exit_not_found != NULL)
        put_status(out, "1", cmd->exit_not_found);
    if (cmd->failure_exit != 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", cmd->failure_exit);
        put_status(out, n, cmd->exit_other);
        return;
    }
    char list[1024] = "";
    size_t used = 0;
    for (int c = PGP_ERR_NOT_FOUND + 1; c < PGP_ERR__COUNT && used < sizeof list; c++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%d %s",
                                 used > 0 ? ", " : "", pgp_err_exit_status((PgpErrCode)c),
                                 pgp_err_text((PgpErrCode)c));
    if (cmd->exit_other != NULL && used < sizeof list)
        snprintf(list + used, sizeof list - used, "; %s", cmd->exit_other);
    put_status(out, "errors", list);
}
