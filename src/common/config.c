/*
 * config.c - reads the [global] section of an INI file with libinih into a small key list.
 * Knows the names of valid keys, nothing about what they mean.
 *
 * libinih reads an indented line as the continuation of the previous setting's value and
 * hands it over as a new value of that setting: "repo = /x" followed by an indented
 * "jobs = 4" would silently make repo "jobs = 4" and drop jobs. No pgpitr setting spans lines,
 * so such a line is refused; the reader tracks line numbers and indentation for that.
 */
#include "pgpitr/common/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/suggest.h"

static const char *const known_keys[] = {
    "repo", "compress", "compress-level", "log-level", "pg-conn", "jobs", "archive-timeout",
    "primary-conn", "server-compress",
    "spool-path", "spool-size", "prefetch-jobs", "pg-bin", "archive-push-jobs",
    "archive-push-alert-after", "archive-push-queue-max", "archive-push-queue-full",
    "lock-wait",
    "lease-ttl",
    "retain-full", "retain-days", "retain-daily", "retain-weekly", "retain-monthly",
    "io-timeout", "s3-endpoint", "s3-region", "s3-uri-style", "s3-key", "s3-key-secret",
    "s3-token", "s3-ca-file", "s3-ca-path", "s3-verify-tls", "s3-sse", "s3-kms-key-id",
    "s3-storage-class", "s3-part-size",
    "rpo-objective", "rto-objective", "backup-max-age", "drill-max-age",
    "notify-command", "notify-timeout",
    "encryption", "encryption-key-file", "encryption-passphrase-file", "encryption-key-command",
    "serve-listen", "serve-token-file", "serve-tls-cert", "serve-tls-key",
};
#define KNOWN_KEY_COUNT (sizeof known_keys / sizeof known_keys[0])

struct PgpConfig {
    char *path;
    char *values[KNOWN_KEY_COUNT];
};

typedef struct ParseState {
    PgpConfig *cfg;
    PgpErr *err;
    int failed;
    FILE *f;
    int line;                 /* of the text libinih is handling */
    bool at_line_start;       /* the next read starts a line (not the rest of a long one) */
    bool indented;            /* that line starts with white space */
    int prev_idx;             /* the setting the previous value was for, -1 none */
    int nul_line;             /* the line holding a NUL byte, 0 none */
} ParseState;

/* libinih's reader: one line (or as much of a long one as fits), noting where lines start.
 * Byte by byte rather than fgets, because a NUL byte would hide the rest of the line from
 * libinih and the '\n' from fgets' caller, so the next line's indentation would go unseen;
 * a configuration file has no business holding one: it is refused. */
static char *read_line(char *buf, int size, void *user)
{
    ParseState *st = user;
    int n = 0, c = EOF;
    while (n < size - 1 && (c = getc(st->f)) != EOF) {
        if (c == '\0') {
            st->nul_line = st->line + (st->at_line_start ? 1 : 0);
            return NULL;
        }
        buf[n++] = (char)c;
        if (c == '\n')
            break;
    }
    if (n == 0)
        return NULL;
    buf[n] = '\0';
    if (st->at_line_start) {
        st->line++;
        /* libinih's lskip skips every isspace() byte, so \v, \f and \r indent too */
        st->indented = buf[0] != '\n' && isspace((unsigned char)buf[0]);
    }
    st->at_line_start = buf[n - 1] == '\n';
    return buf;
}

static int key_index(const char *key)
{
    if (key == NULL)   /* a setting without a key (a flag or variable only): never in a file */
        return -1;
    for (size_t i = 0; i < KNOWN_KEY_COUNT; i++)
        if (strcmp(known_keys[i], key) == 0)
            return (int)i;
    return -1;
}

/* A mistyped key: the one it probably meant, else every key (the list is short). */
static void unknown_key_hint(PgpErr *err, const char *name)
{
    const char *near = pgp_suggest(name, known_keys, KNOWN_KEY_COUNT);
    if (near != NULL) {
        pgp_err_hint(err, "did you mean \"%s\"? (settings: docs/configuration.md)", near);
        return;
    }
    char list[PGP_ERR_HINT_MAX - 64] = "";
    size_t len = 0;
    for (size_t i = 0; i < KNOWN_KEY_COUNT && len < sizeof list; i++) {
        int n = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", known_keys[i]);
        len += n > 0 ? (size_t)n : 0;
    }
    pgp_err_hint(err, "settings: %s (docs/configuration.md)", list);
}

/* Debian's libinih is built without line numbers in the handler: the reader counts them
 * (st->line is the line of this setting). */
static int on_value(void *user, const char *section, const char *name, const char *value)
{
    ParseState *st = user;
    char q[PGP_QUOTE_BUF], q2[PGP_QUOTE_BUF];   /* names are the file's bytes: quoted */
    if (strcmp(section, "global") != 0) {
        /* libinih reports a section through its first setting: that is the line known */
        PGP_FAIL(st->err, PGP_ERR_CONFIG, "%s:%d: unknown section \"[%s]\" (setting \"%s\")",
                 st->cfg->path, st->line, pgp_quote(section, q), pgp_quote(name, q2));
        static const char *const sections[] = {"global"};
        if (pgp_suggest(section, sections, 1) != NULL)
            pgp_err_hint(st->err, "did you mean \"[global]\"? settings belong in the [global] "
                         "section");
        else
            pgp_err_hint(st->err, "settings belong in the [global] section");
        st->failed = 1;
        return 0;
    }
    int idx = key_index(name);
    if (idx < 0) {
        PGP_FAIL(st->err, PGP_ERR_CONFIG, "%s:%d: unknown setting \"%s\"", st->cfg->path,
                 st->line, pgp_quote(name, q));
        unknown_key_hint(st->err, name);
        st->failed = 1;
        return 0;
    }
    if (st->indented && idx == st->prev_idx) {
        PGP_FAIL(st->err, PGP_ERR_CONFIG, "%s:%d: indented line would continue the value of "
                 "\"%s\"", st->cfg->path, st->line, known_keys[idx]);
        pgp_err_hint(st->err, "each setting is one line: remove the leading white space");
        st->failed = 1;
        return 0;
    }
    st->prev_idx = idx;
    char *copy = strdup(value);
    if (copy == NULL) {
        PGP_FAIL(st->err, PGP_ERR_NOMEM, "out of memory reading \"%s\"", st->cfg->path);
        st->failed = 1;
        return 0;
    }
    free(st->cfg->values[idx]);
    st->cfg->values[idx] = copy;
    return 1;
}

int config_read(FILE *f, const char *name, PgpConfig **out, PgpErr *err)
{
    *out = NULL;
    PgpConfig *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL || (cfg->path = strdup(name)) == NULL) {
        config_free(cfg);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    ParseState st = {.cfg = cfg, .err = err, .f = f, .at_line_start = true, .prev_idx = -1};
    int rc = ini_parse_stream(read_line, &st, on_value, &st);
    if (!st.failed && st.nul_line > 0) {
        PGP_FAIL(err, PGP_ERR_CONFIG, "%s:%d: the file holds a NUL byte: not a text file", name,
                 st.nul_line);
        st.failed = 1;
    }
    if (st.failed) {
        config_free(cfg);
        return err ? (int)err->code : PGP_ERR_CONFIG;
    }
    if (rc != 0) {
        config_free(cfg);
        if (rc == -2)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        return PGP_FAIL(err, PGP_ERR_CONFIG, "%s:%d: syntax error", name, rc);
    }
    *out = cfg;
    return 0;
}

int config_load(const char *path, bool must_exist, PgpConfig **out, PgpErr *err)
{
    *out = NULL;
    if (path == NULL) {
        *out = calloc(1, sizeof **out);
        return *out != NULL ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        if (e == ENOENT && !must_exist)
            return config_load(NULL, false, out, err);
        return pgp_err_path(err, PGP_FAIL_ERRNO(err, PGP_ERR_CONFIG, e, "cannot read "
                                                "configuration file \"%s\"", path), path);
    }
    int rc = config_read(f, path, out, err);
    fclose(f);
    return rc;
}

const char *config_get(const PgpConfig *c, const char *key)
{
    int idx = key_index(key);
    return (c == NULL || idx < 0) ? NULL : c->values[idx];
}

const char *config_path(const PgpConfig *c) { return c ? c->path : NULL; }

const char *const *config_keys(size_t *n)
{
    *n = KNOWN_KEY_COUNT;
    return known_keys;
}

void config_free(PgpConfig *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < KNOWN_KEY_COUNT; i++)
        free(c->values[i]);
    free(c->path);
    free(c);
}

/* The seconds of a unit of config_parse_duration, 0 for none. */
static int64_t duration_unit(const char *u, size_t len)
{
    static const struct { const char *name; int64_t secs; } units[] = {
        {"s", 1}, {"min", 60}, {"h", 3600}, {"d", 86400}, {"w", 7 * 86400},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strlen(units[i].name) == len && strncmp(units[i].name, u, len) == 0)
            return units[i].secs;
    return 0;
}

int config_parse_duration(const char *what, const char *text, int64_t min_s, int64_t max_s,
                          int64_t *out, PgpErr *err)
{
    int64_t total = 0;
    bool ok = text[0] != '\0';
    for (const char *p = text; ok && *p != '\0';) {
        if (*p < '0' || *p > '9') {   /* strtoll would take a sign or spaces */
            ok = false;
            break;
        }
        char *end = NULL;
        errno = 0;
        long long n = strtoll(p, &end, 10);
        size_t ulen = strspn(end, "abcdefghijklmnopqrstuvwxyz");
        int64_t unit = ulen == 0 ? (end == text + strlen(text) && p == text ? 1 : 0)
                                 : duration_unit(end, ulen);
        if (errno != 0 || unit == 0 || n > max_s / unit || total > max_s - n * unit) {
            ok = false;
            break;
        }
        total += n * unit;
        p = end + ulen;
    }
    if (!ok || total < min_s || total > max_s) {
        char q[PGP_QUOTE_BUF];
        return PGP_FAIL(err, PGP_ERR_CONFIG,
                        "invalid %s \"%s\" (expected a duration such as 90s, 30min, 1h, 7d or "
                        "2w, from %llds to %llds)",
                        what, pgp_quote(text, q), (long long)min_s, (long long)max_s);
    }
    *out = total;
    return 0;
}

int config_parse_int(const char *what, const char *text, long min, long max, long *out, PgpErr *err)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        char q[PGP_QUOTE_BUF];
        return PGP_FAIL(err, PGP_ERR_CONFIG, "invalid %s \"%s\" (expected %ld..%ld)", what,
                        pgp_quote(text, q), min, max);
    }
    *out = v;
    return 0;
}
