/*
 * serve_http.h - the HTTP server of `pgpitr serve` (libmicrohttpd): listening, TLS, the
 * per-request life (body limit, bearer token and role, routing, one log line per request) and
 * the endpoints (serve_api.c). docs/serve.md and docs/serve.openapi.yaml describe the API.
 *
 * libmicrohttpd runs SERVE_THREADS polling threads with epoll; a connection that sends its
 * request slowly or does not read its answer costs a connection slot (at most
 * SERVE_CONNECTIONS) until SERVE_CONN_TIMEOUT seconds without progress close it, never a
 * thread. Endpoints that run a child (info, metrics, health) hold their thread while it runs.
 */
#ifndef PGPITR_SERVE_HTTP_H
#define PGPITR_SERVE_HTTP_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/crypto/keyring.h"
#include "pgpitr/serve/serve_jobs.h"
#include "pgpitr/serve/serve_route.h"
#include "pgpitr/serve/serve_tokens.h"
#include "pgpitr/storage/storage.h"

#define SERVE_DEFAULT_PORT 8432
#define SERVE_THREADS 4
#define SERVE_CONNECTIONS 64
#define SERVE_CONN_TIMEOUT 15       /* seconds without progress on a connection */
#define SERVE_HEALTH_TTL 15         /* seconds a `check` result is reused by /health */
#define SERVE_CHILD_TIMEOUT 300     /* seconds info, metrics or check may take */
#define SERVE_DRILLS_LISTED 100     /* newest drill reports /api/v1/drills reads */

typedef struct ServeOptions {
    const char *listen;      /* "ADDR:PORT", "[V6ADDR]:PORT" */
    const char *tls_cert;    /* PEM files; both or neither */
    const char *tls_key;
} ServeOptions;

typedef struct ServeServer ServeServer;

/* The state the endpoints share (serve_api.c). */
typedef struct ServeApi {
    ServeJobs *jobs;
    Storage *storage;                /* the repository, for drill reports */
    const CryptoRepoKey *key;        /* its key (NULL: unencrypted), to read them */
    pthread_mutex_t storage_mu;      /* one request at a time on it */
    pthread_mutex_t health_mu;       /* guards the cache and health_running */
    json_t *health;                  /* the cached summary, NULL none */
    int64_t health_at;               /* when it was made (CLOCK_MONOTONIC seconds) */
    bool health_running;             /* a `check` child runs for /health */
} ServeApi;

/* An answer: status, content type and body (malloc'd, taken), extra header. */
typedef struct ServeReply {
    int status;
    const char *type;
    char *body;
    size_t len;
    const char *header, *value;     /* one extra header (Location, Allow), NULL none */
    char value_buf[SERVE_PARAM_MAX + 32];
} ServeReply;

/* Starts listening; takes *tokens (emptied). */
int serve_server_start(const ServeOptions *o, ServeApi *api, ServeTokens *tokens,
                       ServeServer **out, PgpErr *err);
/* Replaces the token set (SIGHUP); takes *tokens. */
void serve_server_set_tokens(ServeServer *s, ServeTokens *tokens);
/* Stops listening (requests under way are finished first) and frees s. */
void serve_server_stop(ServeServer *s);

/* Helpers for serve_api.c: a JSON reply (j taken), an {"error": message} reply. */
void serve_reply_json(ServeReply *r, int status, json_t *j);
void serve_reply_error(ServeReply *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The endpoints (serve_api.c): route r already matched, method allowed, token checked. */
void serve_api_init(ServeApi *a, ServeJobs *jobs, Storage *storage, const CryptoRepoKey *key);
void serve_api_free(ServeApi *a);
void serve_api_handle(ServeApi *a, const ServeRoute *r, bool post, const char *body, size_t len,
                      const char *token, ServeReply *out);

#endif
