/*
 * restore_settings.c - standby or not, --set, restore_command's way to the repository, and the
 * next step restore prints (restore_settings.h). Decides and reads back; the text written into
 * postgresql.auto.conf is restore_conf.c's, the writing restore_run.c's.
 */
#include "pgpitr/restore/restore_settings.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/storage/storage.h"

#include "pgpitr/pg/pgrecovery.h"
#include "pgpitr/restore/restore_conf.h"

#define GUC_NAME_MAX 63
#define DEFAULT_PORT 5432
#define FREE_PORT_TRIES 1000
#define MAX_SOCKET_DIRS 16

/* ---- --set ------------------------------------------------------------------------------ */

/* What restore writes itself, and the option that says what the DBA wants instead. */
static const struct {
    const char *name;
    bool prefix;
    const char *instead;
} owned[] = {
    {"recovery_target", true, "give the target with --target-time, --target-lsn, --target-xid, "
     "--target-name or --target-immediate, and --target-timeline, --target-action, "
     "--target-exclusive"},
    {"restore_command", false, "restore writes it from the repository this restore used: give "
     "--repo or --config (the server runs it without restore's environment)"},
    {"archive_mode", false, "use --archive-mode off|preserve"},
};

/* primary_conninfo and primary_slot_name act in standby mode only. */
static bool standby_only(const char *name)
{
    return strcasecmp(name, "primary_conninfo") == 0 || strcasecmp(name, "primary_slot_name") == 0;
}

static bool ident_part(const char **p)
{
    const char *s = *p;
    if (!isalpha((unsigned char)*s) && *s != '_')
        return false;
    while (isalnum((unsigned char)*s) || *s == '_')
        s++;
    *p = s;
    return true;
}

/* PostgreSQL's parameter names: an identifier, or "extension.identifier". */
static bool guc_name_valid(const char *name)
{
    const char *p = name;
    if (strlen(name) > GUC_NAME_MAX || !ident_part(&p))
        return false;
    if (*p == '.') {
        p++;
        if (!ident_part(&p))
            return false;
    }
    return *p == '\0';
}

static int set_error(const char *arg, const char *why, PgpErr *err)
{
    char q[PGP_QUOTE_BUF];
    return PGP_FAIL(err, PGP_ERR_USAGE, "restore: invalid --set \"%s\": %s", pgp_quote(arg, q),
                    why);
}

int restore_set_parse(const char *arg, PgServerSetting *out, PgpErr *err)
{
    out->name = out->value = NULL;
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg) {
        set_error(arg, "expected NAME=VALUE", err);
        pgp_err_hint(err, "for example --set port=5433 (VALUE may be empty: --set NAME=)");
        return PGP_ERR_USAGE;
    }
    char *name = strndup(arg, (size_t)(eq - arg));
    if (name == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = 0;
    if (!guc_name_valid(name))
        rc = set_error(arg, "the name is not a configuration parameter name (letters, digits "
                       "and '_', an optional \"extension.\" prefix)", err);
    else if (strpbrk(eq + 1, "\r\n") != NULL)
        rc = set_error(arg, "the value holds a line break, which postgresql.auto.conf cannot "
                       "carry", err);
    for (size_t i = 0; rc == 0 && i < sizeof owned / sizeof owned[0]; i++) {
        size_t n = strlen(owned[i].name);
        if (owned[i].prefix ? strncasecmp(name, owned[i].name, n) == 0
                            : strcasecmp(name, owned[i].name) == 0) {
            PGP_FAIL(err, PGP_ERR_USAGE, "restore: --set cannot set %s: restore writes it itself",
                     name);
            pgp_err_hint(err, "%s", owned[i].instead);
            rc = PGP_ERR_USAGE;
        }
    }
    if (rc != 0) {
        free(name);
        return rc;
    }
    out->name = name;
    out->value = eq + 1;
    return 0;
}

int restore_set_check(const PgServerSetting *v, size_t n, bool standby, PgpErr *err)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(v[i].name, v[j].name) == 0)
                return PGP_FAIL(err, PGP_ERR_USAGE, "restore: --set %s is given twice", v[i].name);
        if (!standby && standby_only(v[i].name)) {
            PGP_FAIL(err, PGP_ERR_USAGE, "restore: --set %s needs --standby", v[i].name);
            pgp_err_hint(err, "without --standby the restored server promotes and never "
                         "connects to a primary; add --standby to build a standby of it");
            return PGP_ERR_USAGE;
        }
    }
    return 0;
}

int restore_standby_check(const RestoreRequest *req, PgpErr *err)
{
    if (!req->standby || req->target.kind == RESTORE_TARGET_LATEST)
        return 0;
    PGP_FAIL(err, PGP_ERR_USAGE, "restore: --standby takes no recovery target");
    pgp_err_hint(err, "a standby replays and follows its primary without stopping; for a "
                 "server that stops at a target, leave out --standby");
    return PGP_ERR_USAGE;
}

/* ---- restore_command ---------------------------------------------------------------------- */

int restore_command_paths(const RestoreEnv *s, RestoreCommandPaths *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    ssize_t n = readlink("/proc/self/exe", out->bin, sizeof out->bin - 1);
    if (n <= 0)
        return PGP_FAIL_SYS(err, errno, "cannot find the path of this program (/proc/self/exe)");
    out->bin[n] = '\0';
    const char *config = s->config_path;
    if (config != NULL && realpath(config, out->config) == NULL)
        return PGP_FAIL_SYS(err, errno, "cannot resolve the configuration file path \"%s\"",
                            config);
    if (s->repo_path == NULL || s->repo_path[0] == '\0')
        return PGP_FAIL(err, PGP_ERR_CONFIG, "no repository configured");
    /* From the configuration file, an absolute path is found there again by archive-get. */
    bool url = storage_is_s3_url(s->repo_path);
    if (s->repo_from_config && (s->repo_path[0] == '/' || url) && out->config[0] != '\0')
        return 0;
    if (url) {     /* as given: no file system path (its S3 settings: docs/s3.md) */
        snprintf(out->repo, sizeof out->repo, "%s", s->repo_path);
        return 0;
    }
    if (realpath(s->repo_path, out->repo) == NULL)
        return PGP_FAIL_SYS(err, errno, "cannot resolve the repository path \"%s\"",
                            s->repo_path);
    return 0;
}

/* ---- signal files -------------------------------------------------------------------------- */

bool restore_signal_entry(const ManifestEntry *e, bool *standby_signal)
{
    /* PostgreSQL stat()s the names: a symlink counts as the file. */
    if (e->tablespace != 0 || (e->type != MANIFEST_FILE && e->type != MANIFEST_SYMLINK))
        return false;
    if (strcmp(e->path, "standby.signal") == 0) {
        *standby_signal = true;
        return true;
    }
    return strcmp(e->path, "recovery.signal") == 0;
}

const char *restore_signal_name(bool standby)
{
    return standby ? "standby.signal" : "recovery.signal";
}

/* ---- reading the restored configuration back -------------------------------------------- */

static void print_sets(const RestoreNextStep *n)
{
    if (n->n_set == 0)
        return;
    printf("settings: given with --set, written into postgresql.auto.conf after restore's own:");
    for (size_t i = 0; i < n->n_set; i++)
        printf("%s %s", i ? "," : "", n->set[i].name);
    printf("\n");
}

/* Say it: a copy that archived would write its new timeline into production's repository. */
void restore_print_archiving(RestoreArchiveMode mode)
{
    if (mode == RESTORE_ARCHIVE_PRESERVE)
        printf("archiving: kept from the backup (--archive-mode preserve): once promoted, this "
               "server archives its new timeline as the backup's archive_command or "
               "archive_library says\n");
    else
        printf("archiving: archive_mode = off, so this copy will not archive into the "
               "repository; for a PITR that replaces production, restore with --archive-mode "
               "preserve (archiving turned on after the promotion would miss the new "
               "timeline's history file)\n");
}

void restore_print_standby(const RestoreNextStep *n)
{
    if (n->standby) {
        PgConfSetting v[] = {{.name = "primary_conninfo"}, {.name = "primary_slot_name"}};
        pg_conf_read(n->pgdata, v, 2);
        printf("recovery: a standby (standby.signal): replays the archived WAL, follows the "
               "newest timeline (recovery_target_timeline = 'latest') and never promotes by "
               "itself (pg_ctl promote)\n");
        if (v[0].value[0] != '\0')
            printf("standby: streams from the primary that primary_conninfo names (set in "
                   "\"%s\")%s%s\n", v[0].source, v[1].value[0] ? ", replication slot " : "",
                   v[1].value);
        else
            printf("standby: no primary_conninfo: it follows the archive only; to stream, "
                   "restore with --set primary_conninfo='host=... user=...'\n");
    } else if (n->backup_on_standby) {
        printf("standby: the backup was taken on a standby: its standby.signal was not "
               "restored and primary_conninfo, primary_slot_name are emptied, so this server "
               "promotes and never connects to that standby's primary (restore --standby "
               "builds a standby instead)\n");
    }
    print_sets(n);
}

/* ---- ports --------------------------------------------------------------------------------- */

typedef struct Listening {
    unsigned char bits[65536 / 8];
} Listening;

/* Ports of TCP sockets in LISTEN state ("0A"), from /proc/net/tcp or tcp6. */
static void read_listening(const char *path, Listening *l)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        char local[128], remote[128], state[8];
        if (sscanf(line, " %*[0-9]: %127s %127s %7s", local, remote, state) != 3 ||
            strcmp(state, "0A") != 0)
            continue;
        const char *colon = strrchr(local, ':');
        unsigned long port = colon != NULL ? strtoul(colon + 1, NULL, 16) : 0;
        if (port > 0 && port < 65536)
            l->bits[port / 8] |= (unsigned char)(1u << (port % 8));
    }
    fclose(f);
}

static bool listening(const Listening *l, int port)
{
    return (l->bits[port / 8] >> (port % 8)) & 1u;
}

/* unix_socket_directories: comma-separated, each possibly in double quotes; relative ones
 * are relative to the data directory (the server runs there); "@name" (abstract) has no
 * lock file. At most max entries. */
static size_t socket_dirs(const char *pgdata, const PgConfSetting *v, char dirs[][PATH_MAX],
                          size_t max)
{
    if (!v->found) {
        snprintf(dirs[0], PATH_MAX, "/var/run/postgresql");
        snprintf(dirs[1], PATH_MAX, "/tmp");
        return 2;
    }
    size_t n = 0;
    for (const char *p = v->value; *p != '\0' && n < max;) {
        while (isspace((unsigned char)*p) || *p == ',')
            p++;
        const char *start = p, *end;
        if (*p == '"') {
            start = ++p;
            end = strchr(p, '"');
            end = end != NULL ? end : p + strlen(p);
            p = *end != '\0' ? end + 1 : end;
        } else {
            end = p + strcspn(p, ",");
            p = end;
            while (end > start && isspace((unsigned char)end[-1]))
                end--;
        }
        int len = (int)(end - start);
        if (len == 0 || *start == '@')
            continue;
        if (*start == '/')
            snprintf(dirs[n++], PATH_MAX, "%.*s", len, start);
        else
            snprintf(dirs[n++], PATH_MAX, "%s/%.*s", pgdata, len, start);
    }
    return n;
}

/* The lock file of port in dir, when it names a live process: its text in holder. */
static bool socket_locked(const char *dir, int port, char *holder, size_t size)
{
    char path[PATH_MAX + 32], buf[PATH_MAX + 32] = "";
    snprintf(path, sizeof path, "%s/.s.PGSQL.%d.lock", dir, port);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return false;
    char datadir[PATH_MAX] = "";
    long pid = fgets(buf, sizeof buf, f) != NULL ? strtol(buf, NULL, 10) : 0;
    if (fgets(datadir, sizeof datadir, f) != NULL)
        datadir[strcspn(datadir, "\n")] = '\0';
    fclose(f);
    /* PostgreSQL writes the postmaster's pid; a stale file (no such process) is taken over. */
    if (pid <= 0 || pid > INT_MAX || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
        return false;
    int n = snprintf(holder, size, "socket lock file \"%s\" of process %ld%s%s%s", path, pid,
                     datadir[0] ? ", data directory \"" : "", datadir, datadir[0] ? "\"" : "");
    return n > 0;   /* a longer text is cut */
}

static bool port_held(int port, bool tcp, const Listening *l, char dirs[][PATH_MAX], size_t n,
                      char *holder, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (socket_locked(dirs[i], port, holder, size))
            return true;
    if (tcp && listening(l, port)) {
        snprintf(holder, size, "a TCP socket listens on port %d", port);
        return true;
    }
    return false;
}

void restore_port_probe(const char *pgdata, RestorePort *out)
{
    PgConfSetting v[] = {{.name = "port"}, {.name = "listen_addresses"},
                         {.name = "unix_socket_directories"}};
    memset(out, 0, sizeof *out);
    pg_conf_read(pgdata, v, 3);
    char *end = NULL;
    long port = v[0].found ? strtol(v[0].value, &end, 10) : DEFAULT_PORT;
    if (v[0].found && (end == v[0].value || *end != '\0' || port < 1 || port > 65535))
        return;   /* PostgreSQL refuses it at start, and says so */
    out->port = (int)port;
    snprintf(out->source, sizeof out->source, "%s", v[0].found ? v[0].source : "");
    /* listen_addresses defaults to localhost; '' means Unix sockets only. */
    bool tcp = !v[1].found || v[1].value[strspn(v[1].value, " \t,")] != '\0';
    char (*dirs)[PATH_MAX] = calloc(MAX_SOCKET_DIRS, PATH_MAX);
    Listening *l = calloc(1, sizeof *l);
    if (dirs == NULL || l == NULL) {
        free(dirs);
        free(l);
        return;
    }
    size_t n = socket_dirs(pgdata, &v[2], dirs, MAX_SOCKET_DIRS);
    read_listening("/proc/net/tcp", l);
    read_listening("/proc/net/tcp6", l);
    out->in_use = port_held(out->port, tcp, l, dirs, n, out->holder, sizeof out->holder);
    char scratch[PATH_MAX + 64];
    for (int p = out->port + 1, i = 0; out->in_use && p <= 65535 && i < FREE_PORT_TRIES; p++, i++) {
        if (!port_held(p, tcp, l, dirs, n, scratch, sizeof scratch)) {
            out->free_port = p;
            break;
        }
    }
    free(dirs);
    free(l);
}

/* ---- the next step ------------------------------------------------------------------------ */

/* pg_ctl of the backup's major version: pg-bin (PGPITR_PG_BIN), else Debian's and PGDG's
 * /usr/lib/postgresql/<major>/bin when it has one (not on PATH there), else the PATH's. */
static void pg_ctl_path(const RestoreNextStep *n, char *out, size_t size)
{
    const char *dir = n->pg_bin;
    if (dir != NULL) {
        snprintf(out, size, "%s/pg_ctl", dir);
        return;
    }
    snprintf(out, size, "/usr/lib/postgresql/%d/bin/pg_ctl", n->pg_major);
    if (n->pg_major <= 0 || access(out, X_OK) != 0)
        snprintf(out, size, "pg_ctl");
}

static void print_pg_ctl(const RestoreNextStep *n, int port)
{
    char pg_ctl[PATH_MAX + 16];
    pg_ctl_path(n, pg_ctl, sizeof pg_ctl);
    restore_sh_word(stdout, pg_ctl, false);
    fputs(" -D ", stdout);
    restore_sh_word(stdout, n->pgdata, false);
    if (port > 0)
        printf(" -o '-p %d'", port);
    fputs(" start\n", stdout);
}

/* Debian keeps postgresql.conf, pg_hba.conf and pg_ident.conf in /etc: a backup of such a
 * cluster has none, and pg_ctl start fails on the missing file. */
static void print_missing_conf(const RestoreNextStep *n)
{
    char path[PATH_MAX + 32];
    struct stat st;
    snprintf(path, sizeof path, "%s/postgresql.conf", n->pgdata);
    if (lstat(path, &st) == 0 || errno != ENOENT)
        return;
    printf("note: the backup has no postgresql.conf (Debian keeps it in /etc/postgresql): put "
           "one, with pg_hba.conf and pg_ident.conf, into the data directory first (without "
           "a data_directory, hba_file or ident_file setting that points at the source)\n");
}

void restore_print_next_step(const RestoreNextStep *n)
{
    RestorePort p;
    print_missing_conf(n);
    restore_port_probe(n->pgdata, &p);
    if (!p.in_use) {
        printf("next step: start the server: ");
        print_pg_ctl(n, 0);
        return;
    }
    printf("port: %d (%s%s%s) is in use on this host: %s; pg_ctl start would fail on it\n",
           p.port, p.source[0] ? "set in \"" : "the default", p.source, p.source[0] ? "\"" : "",
           p.holder);
    if (p.free_port == 0) {
        printf("next step: choose a free port N and start the server with: pg_ctl -D ... -o "
               "'-p N' start\n");
        return;
    }
    printf("next step: start the server on port %d, free now: ", p.free_port);
    print_pg_ctl(n, p.free_port);
    printf("  (to keep that port, restore with --set port=%d: it is then written into "
           "postgresql.auto.conf)\n", p.free_port);
}

void restore_print_recovery(const RestoreTargetSpec *t, uint32_t tli)
{
    const char *action = t->action == NULL || strcmp(t->action, "promote") == 0 ? "promotes"
                         : strcmp(t->action, "pause") == 0                      ? "pauses"
                                                                                : "shuts down";
    char target[160];
    restore_target_describe(t, target, sizeof target);
    if (t->kind == RESTORE_TARGET_LATEST)
        printf("recovery: replays all archived WAL along timeline %u, then promotes\n",
               (unsigned)tli);
    else if (t->kind == RESTORE_TARGET_IMMEDIATE)
        printf("recovery: replays archived WAL to the end of the backup (recovery_target = "
               "'immediate'), then %s\n", action);
    else
        printf("recovery: replays archived WAL along timeline %u to %s (%s), then %s\n",
               (unsigned)tli, target, t->exclusive ? "exclusive" : "inclusive",
               action);
}
