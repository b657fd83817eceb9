/*
 * settings_s3_env.c - what of an S3 repository's settings restore writes into restore_command
 * (settings_s3.h). PostgreSQL runs restore_command with the server's environment, not
 * restore's: an endpoint or CA file given to restore by a flag or an environment variable
 * would be missing there, and recovery would stop at its first WAL fetch (a TLS failure
 * against the default endpoint) after a restore that said it succeeded. So every such setting
 * is carried as an assignment before the program, like the encryption settings; the
 * configuration file's are found again through --config. Never a secret: the secret key and
 * the token stay out of postgresql.auto.conf (which later base backups copy); where they come
 * from the environment, the caller warns instead.
 */
#include "settings_s3.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "pgpitr/cmd/cmd_options.h"

/* Given by a flag or the environment: the value (flag first), else NULL (unset, or only in the
 * configuration file). */
static const char *not_from_config(const CmdSettings *s, CmdOptId id)
{
    const char *flag = s->global_flag != NULL ? s->global_flag[id] : NULL;
    if (flag != NULL && flag[0] != '\0')
        return flag;
    const char *env = getenv(cmd_option(id)->env);
    return env != NULL && env[0] != '\0' ? env : NULL;
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0';
}

/* The environment variable the credentials come from (settings_s3.c's order), or NULL. */
static const char *secret_from_env(const CmdSettings *s)
{
    if (cmd_opt_setting(s, CMD_OPT_S3_KEY, s->global_flag ? s->global_flag[CMD_OPT_S3_KEY]
                                                          : NULL) != NULL) {
        if (env_set(cmd_option(CMD_OPT_S3_KEY_SECRET)->env))
            return cmd_option(CMD_OPT_S3_KEY_SECRET)->env;
        return env_set(cmd_option(CMD_OPT_S3_TOKEN)->env) ? cmd_option(CMD_OPT_S3_TOKEN)->env
                                                           : NULL;
    }
    if (env_set("AWS_ACCESS_KEY_ID"))
        return "AWS_SECRET_ACCESS_KEY";
    if (env_set("AWS_SHARED_CREDENTIALS_FILE"))
        return "AWS_SHARED_CREDENTIALS_FILE";
    return env_set("AWS_PROFILE") ? "AWS_PROFILE" : NULL;
}

int cmd_s3_command_env(const CmdSettings *s, CmdS3Env *out, PgpErr *err)
{
    static const CmdOptId ids[CMD_S3_ENV_MAX] = {
        CMD_OPT_S3_ENDPOINT, CMD_OPT_S3_REGION, CMD_OPT_S3_URI_STYLE, CMD_OPT_S3_KEY,
        CMD_OPT_S3_CA_FILE, CMD_OPT_S3_CA_PATH, CMD_OPT_S3_VERIFY_TLS, CMD_OPT_S3_SSE,
        CMD_OPT_S3_KMS_KEY_ID, CMD_OPT_S3_STORAGE_CLASS, CMD_OPT_S3_PART_SIZE,
        CMD_OPT_IO_TIMEOUT};
    out->n = 0;
    size_t n_abs = 0;
    for (size_t i = 0; i < CMD_S3_ENV_MAX; i++) {
        const char *v = not_from_config(s, ids[i]);
        if (v == NULL)
            continue;
        const char *name = cmd_option(ids[i])->env;
        /* restore_command runs in the data directory: a relative CA path would miss */
        if (ids[i] == CMD_OPT_S3_CA_FILE || ids[i] == CMD_OPT_S3_CA_PATH) {
            if (realpath(v, out->abs[n_abs]) == NULL)
                return PGP_FAIL_SYS(err, errno, "cannot resolve the path of %s \"%s\"",
                                    name, v);
            v = out->abs[n_abs++];
        }
        out->v[out->n++] = (RestoreCommandEnv){name, v};
    }
    out->secret_env = secret_from_env(s);
    return 0;
}
