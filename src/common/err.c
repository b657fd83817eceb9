/*
 * err.c - filling and decorating PgpErr (context, hints, and for a permission error the user
 * asking and the owner of the path). Owns nothing else: no printing, no exiting (main.c
 * decides what to print and which status to exit with).
 */
#include "pgpitr/common/err.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const err_names[] = {
#define PGP_ERR_NAME(name, exitcode, text) #name,
    PGP_ERR_LIST(PGP_ERR_NAME)
#undef PGP_ERR_NAME
};

static const char *const err_texts[] = {
#define PGP_ERR_TEXT(name, exitcode, text) text,
    PGP_ERR_LIST(PGP_ERR_TEXT)
#undef PGP_ERR_TEXT
};

static const int err_exits[] = {
#define PGP_ERR_EXIT(name, exitcode, text) exitcode,
    PGP_ERR_LIST(PGP_ERR_EXIT)
#undef PGP_ERR_EXIT
};

int pgp_err_set(PgpErr *err, PgpErrCode code, int sys_errno, const char *file, int line,
                const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    err->sys_errno = sys_errno;
    err->file = file;
    err->line = line;
    err->hint[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (sys_errno != 0) {
        size_t used = strlen(err->msg);
        /* A short write with errno 0 is reported by callers as ENOSPC already. */
        snprintf(err->msg + used, sizeof err->msg - used, ": %s", strerror(sys_errno));
    }
    return code;
}

PgpErrCode pgp_err_code_from_errno(int e)
{
    switch (e) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return PGP_ERR_NO_SPACE;
    case ENOMEM:
        return PGP_ERR_NOMEM;
    default:
        return PGP_ERR_IO;
    }
}

/* The name of a user (or group) id, else the number. */
static void id_name(bool group, unsigned long id, char *out, size_t size)
{
    char buf[4096];
    const char *name = NULL;
    if (group) {
        struct group gr, *res = NULL;
        if (getgrgid_r((gid_t)id, &gr, buf, sizeof buf, &res) == 0 && res != NULL)
            name = gr.gr_name;
    } else {
        struct passwd pw, *res = NULL;
        if (getpwuid_r((uid_t)id, &pw, buf, sizeof buf, &res) == 0 && res != NULL)
            name = pw.pw_name;
    }
    if (name != NULL)
        snprintf(out, size, "%s", name);
    else
        snprintf(out, size, "%lu", id);
}

/* path, or the nearest ancestor lstat can see, into out (cut at slashes); false if none. */
static bool nearest_existing(const char *path, char out[PATH_MAX], struct stat *st)
{
    if (snprintf(out, PATH_MAX, "%s", path) >= PATH_MAX)
        return false;
    for (;;) {
        if (lstat(out, st) == 0)
            return true;
        char *slash = strrchr(out, '/');
        if (slash == NULL) {                    /* relative: the working directory */
            snprintf(out, PATH_MAX, ".");
            return lstat(out, st) == 0;
        }
        if (slash == out) {
            out[1] = '\0';
            return lstat(out, st) == 0;
        }
        *slash = '\0';
    }
}

int pgp_err_path(PgpErr *err, int code, const char *path)
{
    if (err == NULL || path == NULL || (err->sys_errno != EACCES && err->sys_errno != EPERM))
        return code;
    char me[64], owner[64], group[64], at[PATH_MAX];
    id_name(false, geteuid(), me, sizeof me);
    struct stat st;
    size_t used = strlen(err->msg);
    if (!nearest_existing(path, at, &st)) {
        snprintf(err->msg + used, sizeof err->msg - used, " (running as user \"%s\")", me);
        return code;
    }
    id_name(false, st.st_uid, owner, sizeof owner);
    id_name(true, st.st_gid, group, sizeof group);
    snprintf(err->msg + used, sizeof err->msg - used, " (running as user \"%s\"; \"%s\" belongs "
             "to %s:%s, mode %04o)", me, at, owner, group, (unsigned)(st.st_mode & 07777));
    if (err->hint[0] == '\0')
        pgp_err_hint(err, "run pgpitr as a user that may use \"%s\" (the PostgreSQL server's "
                     "user, usually postgres), or change its owner or mode", at);
    return code;
}

int pgp_err_context(PgpErr *err, const char *fmt, ...)
{
    if (err == NULL)
        return PGP_ERR_INTERNAL;
    char prefix[PGP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[2 * PGP_ERR_MSG_MAX + 2];
    int n = snprintf(joined, sizeof joined, "%s: %s", prefix, err->msg);
    if (n < 0)
        return err->code;
    joined[PGP_ERR_MSG_MAX - 1] = '\0'; /* keep the start: the context and the cause's head */
    memcpy(err->msg, joined, PGP_ERR_MSG_MAX);
    return err->code;
}

void pgp_err_hint(PgpErr *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof err->hint, fmt, ap);
    va_end(ap);
}

void pgp_err_clear(PgpErr *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof *err);
}

const char *pgp_err_name(PgpErrCode code)
{
    if ((int)code < 0 || code >= PGP_ERR__COUNT)
        return "UNKNOWN";
    return err_names[code];
}

const char *pgp_err_text(PgpErrCode code)
{
    if ((int)code < 0 || code >= PGP_ERR__COUNT)
        return "unknown error";
    return err_texts[code];
}

int pgp_err_exit_status(PgpErrCode code)
{
    if ((int)code < 0 || code >= PGP_ERR__COUNT)
        return 70;
    return err_exits[code];
}

const char *pgp_quote(const char *s, char buf[PGP_QUOTE_BUF])
{
    size_t o = 0, i;
    for (i = 0; s[i] != '\0' && i < PGP_QUOTE_MAX_IN; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            buf[o++] = (char)c;
        } else {
            snprintf(buf + o, 5, "\\x%02X", c);
            o += 4;
        }
    }
    if (s[i] != '\0') {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}
