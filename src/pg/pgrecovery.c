/*
 * pgrecovery.c - the effective settings of a data directory's server, and whether it recovers
 * to a recovery target (pgrecovery.h).
 *
 * A small reader of PostgreSQL's configuration syntax: "name = value"
 * or "name value", values quoted ('...', with '' or \' inside) or bare (up to white space or
 * '#'), comments from '#', and the three include directives. It never fails: what it cannot
 * read is skipped, which can only make the answer "no target".
 */
#include "pgpitr/pg/pgrecovery.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgpitr/common/grow.h"

#define N_TARGETS 5
#define MAX_DEPTH 10
#define MAX_FILE (1u << 20)

static const char *const target_names[N_TARGETS] = {
    "recovery_target", "recovery_target_lsn", "recovery_target_name", "recovery_target_time",
    "recovery_target_xid",
};

typedef struct Scan {
    PgConfSetting *v;               /* the settings asked for */
    size_t n;
    char config_file[PATH_MAX];     /* from the command line, "" if not given */
} Scan;

static void assign(Scan *sc, const char *name, const char *value, const char *source)
{
    for (size_t i = 0; i < sc->n; i++) {
        if (strcasecmp(name, sc->v[i].name) == 0) {
            sc->v[i].found = true;
            snprintf(sc->v[i].value, sizeof sc->v[i].value, "%s", value);
            snprintf(sc->v[i].source, sizeof sc->v[i].source, "%s", source);
        }
    }
}

/* Whole file, NUL-terminated (NULL if unreadable or larger than MAX_FILE). */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf != NULL ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n > MAX_FILE) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* dir/name (dirlen bytes of dir) into out; false (out "") when it does not fit. */
static bool join(char out[PATH_MAX], const char *dir, int dirlen, const char *name)
{
    int n = snprintf(out, PATH_MAX, "%.*s/%s", dirlen, dir, name);
    if (n < 0 || n >= PATH_MAX) {
        out[0] = '\0';
        return false;
    }
    return true;
}

static bool copy_path(char out[PATH_MAX], const char *path)
{
    size_t n = strlen(path);
    out[0] = '\0';
    if (n >= PATH_MAX)
        return false;
    memcpy(out, path, n + 1);
    return true;
}

/* path, or path relative to the directory of `from` when it is not absolute. */
static bool relative_to(const char *from, const char *path, char out[PATH_MAX])
{
    const char *slash = strrchr(from, '/');
    if (path[0] == '/' || slash == NULL)
        return copy_path(out, path);
    return join(out, from, (int)(slash - from), path);
}

/* One value at *p: quoted or bare; returns false for a line that does not parse. */
static bool parse_value(const char **p, char out[PG_CONF_VALUE_MAX])
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '\'') {
        for (s++; *s != '\0' && *s != '\n'; s++) {
            if (*s == '\'' && s[1] == '\'')
                s++;
            else if (*s == '\\' && s[1] != '\0' && s[1] != '\n')
                s++;
            else if (*s == '\'')
                break;
            if (n + 1 < PG_CONF_VALUE_MAX)
                out[n++] = *s;
        }
        if (*s != '\'')
            return false;
        s++;
    } else {
        while (*s != '\0' && !isspace((unsigned char)*s) && *s != '#') {
            if (n + 1 < PG_CONF_VALUE_MAX)
                out[n++] = *s;
            s++;
        }
    }
    out[n] = '\0';
    *p = s;
    return true;
}

static void parse_file(Scan *sc, const char *path, int depth);

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* include_dir: its *.conf files (not hidden), in name order. */
static void parse_dir(Scan *sc, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
            continue;
        if (GROW(names, n, cap, 16, NULL, NULL) != 0)
            break;
        if ((names[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        if (join(path, dir, (int)strlen(dir), names[i]))
            parse_file(sc, path, depth);
        free(names[i]);
    }
    free(names);
}

static void parse_line(Scan *sc, const char *line, const char *path, int depth)
{
    const char *p = line;
    char name[128], value[PG_CONF_VALUE_MAX];
    size_t n = 0;
    while (isspace((unsigned char)*p))
        p++;
    while ((isalnum((unsigned char)*p) || *p == '_' || *p == '.') && n + 1 < sizeof name)
        name[n++] = *p++;
    name[n] = '\0';
    if (n == 0)
        return;   /* blank, comment or not a setting */
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '=')
        p++;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!parse_value(&p, value))
        return;
    char target[PATH_MAX];
    if (strcasecmp(name, "include") == 0 || strcasecmp(name, "include_if_exists") == 0) {
        if (relative_to(path, value, target))
            parse_file(sc, target, depth + 1);
    } else if (strcasecmp(name, "include_dir") == 0) {
        if (relative_to(path, value, target))
            parse_dir(sc, target, depth + 1);
    } else {
        assign(sc, name, value, path);
    }
}

static void parse_file(Scan *sc, const char *path, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    char *text = read_text(path);
    if (text == NULL)
        return;
    for (char *line = text, *next; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        parse_line(sc, line, path, depth);
    }
    free(text);
}

/* "name=value" from the command line ("-c" argument or "--name=value" without the dashes). */
static void command_line_option(Scan *sc, char *opt, bool dashes)
{
    char *eq = strchr(opt, '=');
    if (eq == NULL)
        return;
    *eq = '\0';
    if (dashes)   /* PostgreSQL turns "--config-file" into config_file */
        for (char *c = opt; *c != '\0'; c++)
            if (*c == '-')
                *c = '_';
    if (strcasecmp(opt, "config_file") == 0)
        snprintf(sc->config_file, sizeof sc->config_file, "%s", eq + 1);
    else
        assign(sc, opt, eq + 1, "the command line");
}

/* postmaster.opts: the binary, then every argument in double quotes. */
static void parse_opts(Scan *sc, const char *datadir)
{
    char path[PATH_MAX];
    char *text = join(path, datadir, (int)strlen(datadir), "postmaster.opts") ? read_text(path)
                                                                                : NULL;
    bool want_c = false;
    for (char *p = text != NULL ? strchr(text, '"') : NULL; p != NULL;) {
        char *end = strchr(p + 1, '"');
        if (end == NULL)
            break;
        *end = '\0';
        char *arg = p + 1;
        if (want_c)
            command_line_option(sc, arg, false);
        else if (strncmp(arg, "--", 2) == 0)
            command_line_option(sc, arg + 2, true);
        want_c = strcmp(arg, "-c") == 0;
        p = strchr(end + 1, '"');
    }
    free(text);
}

void pg_conf_read(const char *datadir, PgConfSetting *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        v[i].found = false;
        v[i].value[0] = v[i].source[0] = '\0';
    }
    /* The command line is read first (it may name the configuration file) but wins. */
    PgConfSetting *cmd = calloc(n > 0 ? n : 1, sizeof *cmd);
    if (cmd == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        cmd[i].name = v[i].name;
    Scan files = {.v = v, .n = n}, cmdline = {.v = cmd, .n = n};
    char path[PATH_MAX];
    parse_opts(&cmdline, datadir);
    int dlen = (int)strlen(datadir);
    bool ok;
    if (cmdline.config_file[0] == '/')
        ok = copy_path(path, cmdline.config_file);
    else if (cmdline.config_file[0] != '\0')   /* relative: to the data directory, a guess */
        ok = join(path, datadir, dlen, cmdline.config_file);
    else
        ok = join(path, datadir, dlen, "postgresql.conf");
    if (ok)
        parse_file(&files, path, 0);
    if (join(path, datadir, dlen, "postgresql.auto.conf"))
        parse_file(&files, path, 0);
    for (size_t i = 0; i < n; i++)
        if (cmd[i].found)
            v[i] = cmd[i];
    free(cmd);
}

void pg_recovery_target_read(const char *datadir, PgRecoveryTarget *out)
{
    PgConfSetting v[N_TARGETS];
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < N_TARGETS; i++)
        v[i].name = target_names[i];
    pg_conf_read(datadir, v, N_TARGETS);
    for (size_t i = 0; i < N_TARGETS && !out->set; i++) {
        if (v[i].found && v[i].value[0] != '\0') {
            out->set = true;
            snprintf(out->setting, sizeof out->setting, "%s", target_names[i]);
            memcpy(out->source, v[i].source, sizeof out->source);
        }
    }
}
