/*
 * config.c - reads the [global] section of an INI file with libinih into a small key list.
 * Knows the names of valid keys, nothing about what they mean.
 *
 * libinih reads an indented line as the continuation of the previous setting's value and
 * hands it over as a new value of that setting: "repo = /x" followed by an indented
 * "jobs = 4" would silently make repo "jobs = 4" and drop jobs. No pgpitr setting spans lines,
 * so such a line is refused; the reader tracks line numbers and indentation for that.
 */
#include "pgpitr/config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const known_keys[] = {
    "repo", "compress", "compress-level", "log-level", "pg-conn", "jobs", "archive-timeout",
    "primary-conn",
    "spool-path", "spool-size", "prefetch-jobs", "pg-bin",
    "lock-wait",
    "lease-ttl",
    "retain-full", "retain-days", "retain-daily", "retain-weekly", "retain-monthly",
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
} ParseState;

/* libinih's reader: fgets, noting where lines start. */
static char *read_line(char *buf, int size, void *user)
{
    ParseState *st = user;
    if (fgets(buf, size, st->f) == NULL)
        return NULL;
    if (st->at_line_start) {
        st->line++;
        st->indented = buf[0] == ' ' || buf[0] == '\t';
    }
    st->at_line_start = strchr(buf, '\n') != NULL;
    return buf;
}

static int key_index(const char *key)
{
    for (size_t i = 0; i < KNOWN_KEY_COUNT; i++)
        if (strcmp(known_keys[i], key) == 0)
            return (int)i;
    return -1;
}

/* Debian's libinih is built without line numbers in the handler, so messages name the
 * file and the setting, which is enough to find it. */
static int on_value(void *user, const char *section, const char *name, const char *value)
{
    ParseState *st = user;
    char q[PGP_QUOTE_BUF];   /* names are the file's bytes: quoted, never raw */
    if (strcmp(section, "global") != 0) {
        PGP_FAIL(st->err, PGP_ERR_CONFIG, "%s: unknown section \"[%s]\"", st->cfg->path,
                 pgp_quote(section, q));
        pgp_err_hint(st->err, "settings belong in the [global] section");
        st->failed = 1;
        return 0;
    }
    int idx = key_index(name);
    if (idx < 0) {
        PGP_FAIL(st->err, PGP_ERR_CONFIG, "%s: unknown setting \"%s\"", st->cfg->path,
                 pgp_quote(name, q));
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
        return PGP_FAIL_ERRNO(err, PGP_ERR_CONFIG, e, "cannot read configuration file \"%s\"",
                              path);
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

void config_free(PgpConfig *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < KNOWN_KEY_COUNT; i++)
        free(c->values[i]);
    free(c->path);
    free(c);
}
