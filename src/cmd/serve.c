/*
 * serve.c - `pgpitr serve`: the HTTP API (docs/serve.md). Resolves the settings, loads the
 * token file, opens the repository (drill reports are read from it), starts the server
 * (src/serve/serve_http.c) and then waits for signals: SIGHUP reloads the token file (a bad
 * new file keeps the old tokens, with a warning saying why), SIGTERM or SIGINT stops it.
 *
 * Signals are blocked in every thread (the mask is set before any thread starts) and taken
 * here with sigwaitinfo, so no handler runs inside libmicrohttpd or a job thread; children get
 * the default mask back (serve_jobs.c).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/sdnotify.h"
#include "pgpitr/serve/serve_http.h"
#include "pgpitr/serve/serve_jobs.h"
#include "pgpitr/serve/serve_tokens.h"

#define DEFAULT_LISTEN "127.0.0.1:8432"
/* "pgpitr", --repo, --log-level and every global flag, each with its value */
#define BASE_MAX (1 + 2 * (CMD_GLOBAL_FLAGS + 3))

typedef struct ServeCmd {
    ServeOptions o;
    const char *token_file;
} ServeCmd;

static int parse_options(int argc, char **argv, const CmdSettings *s, ServeCmd *c, bool *help,
                         PgpErr *err)
{
    CmdParse p = {.cmd = &cmd_serve};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || (*help = a.help))
        return rc;
    memset(c, 0, sizeof *c);
    c->o.listen = cmd_opt_setting(s, CMD_OPT_LISTEN, a.flag[CMD_OPT_LISTEN]);
    if (c->o.listen == NULL)
        c->o.listen = DEFAULT_LISTEN;
    c->token_file = cmd_opt_setting(s, CMD_OPT_TOKEN_FILE, a.flag[CMD_OPT_TOKEN_FILE]);
    c->o.tls_cert = cmd_opt_setting(s, CMD_OPT_TLS_CERT, a.flag[CMD_OPT_TLS_CERT]);
    c->o.tls_key = cmd_opt_setting(s, CMD_OPT_TLS_KEY, a.flag[CMD_OPT_TLS_KEY]);
    if (c->token_file == NULL) {
        PGP_FAIL(err, PGP_ERR_CONFIG, "serve needs a token file");
        pgp_err_hint(err, "give --token-file FILE or set serve-token-file (docs/serve.md)");
        return PGP_ERR_CONFIG;
    }
    if ((c->o.tls_cert == NULL) != (c->o.tls_key == NULL))
        return cmd_usage_error(err, &cmd_serve, "--tls-cert and --tls-key go together");
    return 0;
}

/* What every child gets before its command: the server's repository and global flags (the
 * environment, with PGPITR_CONFIG and the S3 secrets, is inherited as it is). */
static size_t base_args(const CmdGlobal *g, const CmdSettings *s, const char *base[BASE_MAX])
{
    size_t n = 0;
    base[n++] = "pgpitr";
    if (g->config != NULL) {
        base[n++] = "--config";
        base[n++] = g->config;
    }
    base[n++] = "--repo";
    base[n++] = s->repo_path;
    if (g->log_level != NULL) {
        base[n++] = "--log-level";
        base[n++] = g->log_level;
    }
    for (int id = 0; id < CMD_GLOBAL_FLAGS && id < CMD_OPT__COUNT; id++) {
        const CmdOption *o = cmd_option((CmdOptId)id);
        if (g->flag[id] == NULL || o->name == NULL || id == CMD_OPT_REPO ||
            id == CMD_OPT_CONFIG || id == CMD_OPT_LOG_LEVEL)
            continue;
        char *flag = NULL;
        if (asprintf(&flag, "--%s=%s", o->name, g->flag[id]) < 0)
            continue;
        base[n++] = flag;   /* freed by free_base */
    }
    return n;
}

static void free_base(const char *base[BASE_MAX], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(base[i], "--", 2) == 0 && strchr(base[i], '=') != NULL)
            free((char *)base[i]);
}

/* SIGHUP: the token file again; a file that does not load keeps the tokens in use. */
static void reload_tokens(ServeServer *srv, const char *path)
{
    ServeTokens t = {0};
    PgpErr err = {0};
    if (serve_tokens_load(path, &t, &err) != 0) {
        log_warn("serve: token file \"%s\" not reloaded, the previous tokens stay in use: %s",
                 path, err.msg);
        return;
    }
    log_info("serve: token file \"%s\" reloaded: %zu token%s", path, t.n, t.n == 1 ? "" : "s");
    serve_server_set_tokens(srv, &t);
}

/* systemd's view of the service (pgpitr-serve.service is Type=notify); without systemd, or
 * when it cannot be told, the service runs on. */
static void notify_systemd(const char *state)
{
    int e = sdnotify(state);
    if (e != 0)
        log_warn("serve: cannot notify systemd (\"%.*s\"): %s", (int)strcspn(state, "\n"),
                 state, strerror(e));
}

static void wait_for_signals(ServeServer *srv, const char *token_file, const sigset_t *set)
{
    for (;;) {
        int sig = sigwaitinfo(set, NULL);
        if (sig == SIGHUP) {
            notify_systemd("RELOADING=1");
            reload_tokens(srv, token_file);
            notify_systemd("READY=1");
        } else if (sig == SIGTERM || sig == SIGINT) {
            break;
        }
    }
}

/* Listens until a signal stops it, then stops the jobs. */
static int serve_main(const ServeCmd *c, const char *const *base, size_t n_base,
                      Storage *storage, const CryptoRepoKey *key, ServeTokens *tokens,
                      const sigset_t *set, PgpErr *err)
{
    ServeJobs jobs;
    ServeApi api;
    ServeServer *srv = NULL;
    int rc = serve_jobs_init(&jobs, (char *const *)base, n_base, err);
    serve_api_init(&api, &jobs, storage, key);
    if (rc == 0)
        rc = serve_server_start(&c->o, &api, tokens, &srv, err);
    if (rc == 0) {
        log_info("serve: listening on %s%s", c->o.listen, c->o.tls_cert != NULL ? " (TLS)" : "");
        char ready[300];
        snprintf(ready, sizeof ready, "READY=1\nSTATUS=listening on %.200s%s", c->o.listen,
                 c->o.tls_cert != NULL ? " (TLS)" : "");
        notify_systemd(ready);
        wait_for_signals(srv, c->token_file, set);
        log_info("serve: stopping");
        notify_systemd("STOPPING=1");
        serve_server_stop(srv);   /* no new request; the ones under way are answered */
    }
    serve_jobs_shutdown(&jobs);
    serve_api_free(&api);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdSettings s;
    int rc = cmd_settings_load(g, &s, err);
    if (rc != 0)
        return rc;
    ServeCmd c;
    bool help = false;
    ServeTokens tokens = {0};
    Storage *storage = NULL;
    Repo *repo = NULL;
    if ((rc = parse_options(argc, argv, &s, &c, &help, err)) != 0 || help)
        goto out;
    if ((rc = serve_tokens_load(c.token_file, &tokens, err)) != 0)
        goto out;
    if ((rc = cmd_open_repo(&s, false, &storage, &repo, err)) != 0)
        goto out;
    /* before any thread: every thread inherits the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    const char *base[BASE_MAX];
    size_t n_base = base_args(g, &s, base);
    rc = serve_main(&c, base, n_base, storage, repo_crypto_key(repo), &tokens, &set, err);
    free_base(base, n_base);
out:
    serve_tokens_free(&tokens);
    repo_free(repo);
    storage_free(storage);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_serve = {
    .name = "serve",
    .summary = "HTTP API for other systems: status, metrics, start backups and drills",
    .usage =
        "usage: pgpitr [--repo PATH] serve [--listen ADDR:PORT] [--token-file FILE]\n"
        "                                  [--tls-cert FILE --tls-key FILE]\n"
        "\n"
        "Serves a JSON API (docs/serve.md, docs/serve.openapi.yaml): GET /health (no\n"
        "token), /metrics, /api/v1/info, backups, drills and jobs; POST /api/v1/backups,\n"
        "drills, verify and expire start the command as a job (operate role). Runs until\n"
        "SIGTERM (running jobs are sent SIGTERM and waited for); SIGHUP reloads the\n"
        "token file. Requests are logged at info level (--log-level info).\n"
        "\n"
        "options:\n"
        "  --listen ADDR:PORT      (env PGPITR_SERVE_LISTEN, config: serve-listen,\n"
        "                          default 127.0.0.1:8432)\n"
        "  --token-file FILE       NAME ROLE SHA256HEX per line, not group/world readable\n"
        "                          (env PGPITR_SERVE_TOKEN_FILE, config: serve-token-file)\n"
        "  --tls-cert FILE         PEM certificate: serve HTTPS\n"
        "                          (env PGPITR_SERVE_TLS_CERT, config: serve-tls-cert)\n"
        "  --tls-key FILE          PEM private key\n"
        "                          (env PGPITR_SERVE_TLS_KEY, config: serve-tls-key)\n",
    .run = run,
    .exit_ok = "the server stopped on SIGTERM or SIGINT",
};
