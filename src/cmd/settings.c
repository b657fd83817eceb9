/*
 * settings.c - option precedence and repository opening shared by every command.
 * Commands read settings only through here so that the precedence rule is in one place; the
 * environment variables and configuration keys are the option table's (cmd_options.c).
 */
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/archive/spool.h"
#include "pgpitr/common/log.h"
#include "pgpitr/storage/s3.h"
#include "settings_crypto.h"
#include "settings_s3.h"

int cmd_settings_load(const CmdGlobal *g, CmdSettings *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    out->global_flag = g->flag;
    const char *path = g->config;
    bool must_exist = true;
    if (path == NULL)
        path = getenv(cmd_option(CMD_OPT_CONFIG)->env);
    if (path == NULL || path[0] == '\0') {
        path = PGPITR_DEFAULT_CONFIG;
        must_exist = false;
    }
    int rc = config_load(path, must_exist, &out->config, err);
    if (rc != 0)
        return rc;
    const char *level = cmd_opt_setting(out, CMD_OPT_LOG_LEVEL, g->log_level);
    if (level != NULL) {
        LogLevel lv;
        rc = log_level_parse(level, &lv, err);
        if (rc != 0) {
            cmd_settings_free(out);
            return rc;
        }
        log_set_level(lv);
    }
    out->repo_path = cmd_opt_setting(out, CMD_OPT_REPO, g->repo);
    const char *env = getenv(cmd_option(CMD_OPT_REPO)->env);
    out->repo_source = g->repo != NULL                  ? CMD_SOURCE_FLAG
                       : env != NULL && env[0] != '\0' ? CMD_SOURCE_ENV
                       : out->repo_path != NULL         ? CMD_SOURCE_CONFIG
                                                        : CMD_SOURCE_NONE;
    return 0;
}

void cmd_settings_free(CmdSettings *s)
{
    if (s == NULL)
        return;
    config_free(s->config);
    s->config = NULL;
}

const char *cmd_setting(const CmdSettings *s, const char *flag, const char *env, const char *key)
{
    if (flag != NULL)
        return flag;
    const char *v = env ? getenv(env) : NULL;
    if (v != NULL && v[0] != '\0')
        return v;
    return config_get(s->config, key);
}

int cmd_parse_int(const char *what, const char *text, long min, long max, long *out, PgpErr *err)
{
    return config_parse_int(what, text, min, max, out, err);
}

int cmd_open_storage(const CmdSettings *s, bool create, Storage **storage, PgpErr *err)
{
    *storage = NULL;
    if (s->repo_path == NULL || s->repo_path[0] == '\0') {
        PGP_FAIL(err, PGP_ERR_CONFIG, "no repository configured");
        pgp_err_hint(err, "give --repo PATH, set PGPITR_REPO, or set repo in %s",
                     PGPITR_DEFAULT_CONFIG);
        return PGP_ERR_CONFIG;
    }
    int rc = 0;
    if (storage_is_s3_url(s->repo_path)) {
        CmdS3Config s3;
        rc = cmd_s3_config(s, &s3, err);
        if (rc == 0)
            rc = storage_open(s->repo_path, &s3.cfg, create, storage, err);
        cmd_s3_config_wipe(&s3);
    } else {
        rc = storage_open(s->repo_path, NULL, create, storage, err);
    }
    if (rc == PGP_ERR_NOT_FOUND) /* a wrong setting, never "not archived" or "no backup" */
        err->code = rc = PGP_ERR_CONFIG;
    return rc;
}

int cmd_open_repo(const CmdSettings *s, bool create, Storage **storage, Repo **repo, PgpErr *err)
{
    *repo = NULL;
    int rc = cmd_open_storage(s, create, storage, err);
    if (rc != 0)
        return rc;
    rc = cmd_open_repo_on(s, *storage, repo, err);
    if (rc != 0) {
        storage_free(*storage);
        *storage = NULL;
        return pgp_err_context(err, "cannot open repository \"%s\"", s->repo_path);
    }
    return 0;
}

int cmd_open_repo_on(const CmdSettings *s, Storage *st, Repo **repo, PgpErr *err)
{
    RepoCryptoConfig cc;
    int rc = cmd_repo_crypto(s, &cc, err);
    return rc != 0 ? rc : repo_open_crypto(st, cc, repo, err);
}

int cmd_usage_error(PgpErr *err, const CmdDef *cmd, const char *fmt, ...)
{
    char msg[PGP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    PGP_FAIL(err, PGP_ERR_USAGE, "%s: %s", cmd->name, msg);
    pgp_err_hint(err, "see pgpitr %s --help", cmd->name);
    return PGP_ERR_USAGE;
}

int cmd_compression(const CmdSettings *s, const char *codec_flag, const char *level_flag,
                    PipeCodec *codec, int *level, PgpErr *err)
{
    const CmdOption *co = cmd_option(CMD_OPT_COMPRESS), *lo = cmd_option(CMD_OPT_COMPRESS_LEVEL);
    const char *name = cmd_opt_setting(s, CMD_OPT_COMPRESS, codec_flag);
    int rc = pipe_codec_parse(name ? name : "zstd", codec, err);
    if (rc != 0)
        return rc;
    /* A level only makes sense with the codec it was chosen for: when the codec comes from a
     * stronger source (flag over environment over file) than the level, that level is
     * ignored and the codec's default applies. */
    const char *env_codec = getenv(co->env);
    bool env_has_codec = env_codec != NULL && env_codec[0] != '\0';
    const char *text = cmd_opt_setting(s, CMD_OPT_COMPRESS_LEVEL, level_flag);
    if (level_flag == NULL && codec_flag != NULL)
        text = NULL;
    else if (level_flag == NULL && getenv(lo->env) == NULL && env_has_codec)
        text = NULL;
    int min, max;
    pipe_codec_level_range(*codec, &min, &max);
    long v = *codec == PIPE_CODEC_ZSTD ? 1 : 0; /* zstd 1: the speed archive_command needs */
    if (text != NULL && (rc = cmd_parse_int(lo->key, text, min, max, &v, err)) != 0)
        return rc;
    *level = (int)v;
    return 0;
}

int cmd_push_backlog_policy(const CmdSettings *s, PushBacklogPolicy *b, PgpErr *err)
{
    *b = (PushBacklogPolicy){.alert_after = PUSH_BACKLOG_ALERT_DEFAULT};
    int rc = cmd_opt_duration_setting(s, CMD_OPT_PUSH_ALERT_AFTER, NULL, &b->alert_after, err);
    const char *max = cmd_opt_setting(s, CMD_OPT_PUSH_QUEUE_MAX, NULL);
    if (rc == 0 && max != NULL && (rc = spool_parse_size(max, &b->queue_max, err)) != 0)
        return pgp_err_context(err, "archive-push-queue-max");
    const char *full = cmd_opt_setting(s, CMD_OPT_PUSH_QUEUE_FULL, NULL);
    if (rc != 0 || full == NULL || strcmp(full, "fail") == 0)
        return rc;
    if (strcmp(full, "drop") != 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "archive-push-queue-full must be fail or drop, "
                        "not \"%s\"", full);
    if (b->queue_max == 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "archive-push-queue-full = drop needs "
                        "archive-push-queue-max (the ready WAL beyond which to drop)");
    b->drop = true;
    return 0;
}
