/*
 * settings_s3.c - the settings of an S3 repository (--repo s3://...) into the driver's
 * StorageS3Config: the s3-* rows of the option table, and the credentials in this order:
 * the s3-key / s3-key-secret / s3-token settings, else AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials) with profile AWS_PROFILE
 * (default "default"). A set is taken whole from one place, never mixed.
 * The secret never leaves here but into the driver: no message names it.
 */
#include "settings_s3.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/archive/spool.h"
#include "pgpitr/cmd/cmd_options.h"

static const char *opt(const CmdSettings *s, CmdOptId id)
{
    /* the secret and the token have no flag (and ids beyond CmdGlobal.flag) */
    const char *flag = s->global_flag != NULL && id < CMD_GLOBAL_FLAGS ? s->global_flag[id]
                                                                       : NULL;
    const char *v = cmd_opt_setting(s, id, flag);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

typedef struct Profile {
    const char *name;
    CmdS3Config *out;
    bool seen;
} Profile;

static int on_cred(void *ud, const char *section, const char *name, const char *value)
{
    Profile *p = ud;
    if (strcmp(section, p->name) != 0)
        return 1;
    p->seen = true;
    char *dst = strcmp(name, "aws_access_key_id") == 0       ? p->out->key
                : strcmp(name, "aws_secret_access_key") == 0 ? p->out->secret
                : strcmp(name, "aws_session_token") == 0     ? p->out->token
                                                             : NULL;
    size_t size = dst == p->out->token ? sizeof p->out->token : sizeof p->out->key;
    if (dst != NULL)
        snprintf(dst, size, "%s", value);
    return 1;
}

/* The profile's keys from the shared credentials file; a missing file is no error. */
static int credentials_file(CmdS3Config *c, PgpErr *err)
{
    char path[4096];
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE");
    const char *home = getenv("HOME");
    if (file != NULL && file[0] != '\0')
        snprintf(path, sizeof path, "%s", file);
    else if (home != NULL && home[0] != '\0')
        snprintf(path, sizeof path, "%s/.aws/credentials", home);
    else
        return 0;
    const char *profile = getenv("AWS_PROFILE");
    Profile p = {.name = profile != NULL && profile[0] ? profile : "default", .out = c};
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int line = ini_parse_file(f, on_cred, &p);
    fclose(f);
    if (line != 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "cannot read the S3 credentials file \"%s\" "
                        "(line %d)", path, line);
    if (!p.seen)
        return 0;
    c->cfg.key = c->key[0] ? c->key : NULL;
    c->cfg.secret = c->secret[0] ? c->secret : NULL;
    c->cfg.token = c->token[0] ? c->token : NULL;
    return 0;
}

static int credentials(const CmdSettings *s, CmdS3Config *c, PgpErr *err)
{
    if ((c->cfg.key = opt(s, CMD_OPT_S3_KEY)) != NULL) {
        c->cfg.secret = opt(s, CMD_OPT_S3_KEY_SECRET);
        c->cfg.token = opt(s, CMD_OPT_S3_TOKEN);
        return 0;
    }
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    if (id != NULL && id[0] != '\0') {
        c->cfg.key = id;
        c->cfg.secret = getenv("AWS_SECRET_ACCESS_KEY");
        c->cfg.token = getenv("AWS_SESSION_TOKEN");
        if (c->cfg.token != NULL && c->cfg.token[0] == '\0')
            c->cfg.token = NULL;
        return 0;
    }
    return credentials_file(c, err);
}

static int enum_of(const CmdSettings *s, CmdOptId id, const char *a, const char *b,
                   const char **out, PgpErr *err)
{
    const char *v = opt(s, id);
    *out = v;
    if (v == NULL || strcmp(v, a) == 0 || strcmp(v, b) == 0)
        return 0;
    PGP_FAIL(err, PGP_ERR_CONFIG, "%s must be %s or %s, not \"%s\"", cmd_option(id)->key, a, b,
             v);
    return PGP_ERR_CONFIG;
}

/* The CA file or directory must be there and readable now: libcurl would only say so at the
 * first request, as a TLS failure that hides the cause. */
static int check_ca(CmdOptId id, const char *path, bool dir, PgpErr *err)
{
    if (path == NULL)
        return 0;
    struct stat st;
    const char *key = cmd_option(id)->key;
    int e = stat(path, &st) == 0 ? 0 : errno;
    if (e == 0 && !(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)))
        return PGP_FAIL(err, PGP_ERR_CONFIG, "%s \"%s\" is not a %s", key, path,
                        dir ? "directory" : "regular file");
    if (e == 0 && access(path, R_OK | (dir ? X_OK : 0)) != 0)
        e = errno;
    if (e == 0)
        return 0;
    PGP_FAIL(err, PGP_ERR_CONFIG, "%s \"%s\" cannot be read: %s", key, path, strerror(e));
    pgp_err_hint(err, "give the %s of the CA that signed the store's certificate, readable by "
                 "this OS user", dir ? "hashed certificate directory" : "certificate file");
    return PGP_ERR_CONFIG;
}

int cmd_s3_config(const CmdSettings *s, CmdS3Config *c, PgpErr *err)
{
    memset(c, 0, sizeof *c);
    StorageS3Config *cfg = &c->cfg;
    cfg->endpoint = opt(s, CMD_OPT_S3_ENDPOINT);
    cfg->region = opt(s, CMD_OPT_S3_REGION);
    cfg->ca_file = opt(s, CMD_OPT_S3_CA_FILE);
    cfg->ca_path = opt(s, CMD_OPT_S3_CA_PATH);
    cfg->kms_key_id = opt(s, CMD_OPT_S3_KMS_KEY_ID);
    cfg->storage_class = opt(s, CMD_OPT_S3_STORAGE_CLASS);
    const char *style = NULL, *verify = NULL;
    int rc = check_ca(CMD_OPT_S3_CA_FILE, cfg->ca_file, false, err);
    if (rc == 0)
        rc = check_ca(CMD_OPT_S3_CA_PATH, cfg->ca_path, true, err);
    if (rc == 0)
        rc = enum_of(s, CMD_OPT_S3_URI_STYLE, "host", "path", &style, err);
    if (rc == 0)
        rc = enum_of(s, CMD_OPT_S3_VERIFY_TLS, "on", "off", &verify, err);
    if (rc == 0)
        rc = enum_of(s, CMD_OPT_S3_SSE, "AES256", "aws:kms", &cfg->sse, err);
    if (rc != 0)
        return rc;
    cfg->path_style = style != NULL && strcmp(style, "path") == 0;
    cfg->no_verify_tls = verify != NULL && strcmp(verify, "off") == 0;
    long timeout = 60;
    rc = cmd_opt_int_setting(s, CMD_OPT_IO_TIMEOUT, s->global_flag ?
                             s->global_flag[CMD_OPT_IO_TIMEOUT] : NULL, &timeout, err);
    if (rc != 0)
        return rc;
    cfg->io_timeout_s = (unsigned)timeout;
    const char *part = opt(s, CMD_OPT_S3_PART_SIZE);
    uint64_t size = STORAGE_S3_PART_DEFAULT;
    if (part != NULL && (rc = spool_parse_size(part, &size, err)) != 0)
        return pgp_err_context(err, "s3-part-size");
    if (size < STORAGE_S3_PART_MIN || size > STORAGE_S3_PART_MAX)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "s3-part-size must be 5MiB to 1GiB, not \"%s\"",
                        part);
    cfg->part_size = (size_t)size;
    return credentials(s, c, err);
}

void cmd_s3_config_wipe(CmdS3Config *c)
{
    explicit_bzero(c, sizeof *c);
}
