/*
 * serve_http.c - the libmicrohttpd server of `pgpitr serve` (serve_http.h): the daemon, the
 * request context (start time, bounded body, token name), authentication, the order in which
 * a request is judged (route 404, method 405, token 401/403, size 413, parameter 400, then the
 * endpoint) and the log line written when a request completes.
 */
#include "pgpitr/serve/serve_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pgpitr/common/log.h"

struct ServeServer {
    struct MHD_Daemon *d;
    ServeApi *api;
    pthread_rwlock_t tokens_lock;
    ServeTokens tokens;
    char *cert, *key;                /* PEM text, kept while the daemon runs */
};

typedef struct Req {
    int64_t start_ns;
    char *body;
    size_t len;
    bool too_big;
    int status;                      /* the answer's, 0 before one */
    char token[SERVE_TOKEN_NAME_MAX + 1];
    char method[8];
    char path[160];                  /* for the log line, printable */
} Req;

/* A printable copy of a path for the log (it comes from the client). */
static void printable(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (; in != NULL && *in != '\0' && o + 1 < size; in++)
        out[o++] = (unsigned char)*in >= 0x20 && (unsigned char)*in < 0x7f ? *in : '?';
    out[o] = '\0';
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void serve_reply_json(ServeReply *r, int status, json_t *j)
{
    r->status = status;
    r->type = "application/json";
    char *text = j != NULL ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    /* with a final newline, like the commands' --output json */
    r->body = text != NULL ? realloc(text, strlen(text) + 2) : NULL;
    if (r->body != NULL)
        strcat(r->body, "\n");
    else
        free(text);
    if (r->body == NULL) {
        r->status = 500;
        r->body = strdup("{\"error\": \"out of memory\"}");
    }
    r->len = r->body != NULL ? strlen(r->body) : 0;
}

void serve_reply_error(ServeReply *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    serve_reply_json(r, status, json_pack("{s:s}", "error", msg));
}

static enum MHD_Result send_reply(struct MHD_Connection *c, Req *q, ServeReply *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->len, r->body != NULL ? r->body : (char *)"", r->body != NULL ? MHD_RESPMEM_MUST_FREE
                                                                        : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(r->body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r->type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (r->header != NULL)
        MHD_add_response_header(resp, r->header, r->value);
    if (r->status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"pgpitr\"");
    q->status = r->status;
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* The token of "Authorization: Bearer TOKEN": its name and role; false when absent or no
 * token of the file matches (the same answer either way). */
static bool authenticate(ServeServer *s, struct MHD_Connection *c, Req *q, ServeRole *role)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *t = h + 7;
    t += strspn(t, " ");
    size_t n = strcspn(t, " \t");
    if (n == 0 || n > SERVE_TOKEN_LEN_MAX || t[n + strspn(t + n, " \t")] != '\0')
        return false;   /* "Bearer TOKEN junk" is no token */
    pthread_rwlock_rdlock(&s->tokens_lock);
    const ServeToken *m = serve_tokens_match(&s->tokens, t, n);
    if (m != NULL) {
        snprintf(q->token, sizeof q->token, "%s", m->name);
        *role = m->role;
    }
    pthread_rwlock_unlock(&s->tokens_lock);
    return m != NULL;
}

/* The whole request is in: judge it, answer. */
static void dispatch(ServeServer *s, struct MHD_Connection *c, Req *q, const char *url,
                     const char *method, ServeReply *r)
{
    ServeRoute route;
    serve_route_match(url, &route);
    ServeRole role = SERVE_ROLE_READ;
    bool post = strcmp(method, "POST") == 0;
    if (route.id == SERVE_R_NONE) {
        serve_reply_error(r, 404, "no such endpoint");
    } else if (!serve_route_allows(&route, method)) {
        serve_reply_error(r, 405, "method %s is not allowed on %s", q->method, q->path);
        r->header = "Allow";
        r->value = route.allow;
    } else if (serve_route_needs_token(&route) && !authenticate(s, c, q, &role)) {
        serve_reply_error(r, 401, "a valid bearer token is required");
    } else if (post && role != SERVE_ROLE_OPERATE) {
        serve_reply_error(r, 403, "token \"%s\" has the read role; starting a job needs operate",
                          q->token);
    } else if (q->too_big) {
        serve_reply_error(r, 413, "request body over %d bytes", SERVE_BODY_MAX);
    } else if (route.param_bad) {
        serve_reply_error(r, 400, "invalid %s in the path",
                          route.id == SERVE_R_BACKUP  ? "backup label"
                          : route.id == SERVE_R_DRILL ? "drill id"
                                                      : "job id");
    } else {
        serve_api_handle(s->api, &route, post, q->body != NULL ? q->body : "", q->len, q->token,
                         r);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **ctx)
{
    ServeServer *s = cls;
    Req *q = *ctx;
    (void)version;
    ServeReply r = {0};
    if (q == NULL) {   /* the headers are in */
        if ((q = calloc(1, sizeof *q)) == NULL)
            return MHD_NO;
        q->start_ns = mono_ns();
        snprintf(q->token, sizeof q->token, "-");
        printable(method, q->method, sizeof q->method);
        printable(url, q->path, sizeof q->path);
        *ctx = q;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl == NULL || strtoull(cl, NULL, 10) <= SERVE_BODY_MAX)
            return MHD_YES;
        /* answered now, without reading the body (the connection is closed after): an
         * answer that needs no body (404, 405, 401, 403 or 413) */
        q->too_big = true;
        dispatch(s, c, q, url, method, &r);
        return send_reply(c, q, &r);
    }
    if (*upload_size > 0) {
        if (!q->too_big && q->len + *upload_size <= SERVE_BODY_MAX) {
            char *b = realloc(q->body, q->len + *upload_size + 1);
            if (b == NULL)
                return MHD_NO;
            memcpy(b + q->len, upload_data, *upload_size);
            q->body = b;
            q->len += *upload_size;
            q->body[q->len] = '\0';
        } else {
            q->too_big = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    dispatch(s, c, q, url, method, &r);
    return send_reply(c, q, &r);
}

/* One line per request, whatever its fate: never the token or the Authorization header. */
static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode why)
{
    Req *q = *ctx;
    (void)cls;
    (void)c;
    if (q == NULL)
        return;
    double ms = (double)(mono_ns() - q->start_ns) / 1e6;
    if (q->status != 0)
        log_info("serve: %s %s %d %.1f ms token %s", q->method, q->path, q->status, ms, q->token);
    else
        log_info("serve: %s %s no answer (%s) %.1f ms token %s", q->method, q->path,
                 why == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timed out" : "connection closed",
                 ms, q->token);
    free(q->body);
    free(q);
    *ctx = NULL;
}

/* ---- the daemon ---------------------------------------------------------------------------- */

/* "ADDR:PORT" or "[V6]:PORT", numeric. */
static int parse_listen(const char *text, struct sockaddr_storage *sa, bool *v6, PgpErr *err)
{
    char host[64];
    const char *colon = strrchr(text, ':');
    memset(sa, 0, sizeof *sa);
    long port = colon != NULL ? strtol(colon + 1, NULL, 10) : 0;
    size_t hl = colon != NULL ? (size_t)(colon - text) : 0;
    bool ok = colon != NULL && port >= 1 && port <= 65535 && hl > 0 && hl < sizeof host &&
              strspn(colon + 1, "0123456789") == strlen(colon + 1);
    if (ok) {
        memcpy(host, text, hl);
        host[hl] = '\0';
        *v6 = host[0] == '[';
        if (*v6 && host[hl - 1] == ']') {
            host[hl - 1] = '\0';
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons((uint16_t)port);
            ok = inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
        } else {
            struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
            s4->sin_family = AF_INET;
            s4->sin_port = htons((uint16_t)port);
            ok = !*v6 && inet_pton(AF_INET, host, &s4->sin_addr) == 1;
        }
    }
    if (!ok)
        return PGP_FAIL(err, PGP_ERR_CONFIG,
                        "invalid listen address \"%.80s\" (expected ADDR:PORT, e.g. "
                        "127.0.0.1:%d or [::1]:%d)", text, SERVE_DEFAULT_PORT, SERVE_DEFAULT_PORT);
    return 0;
}

static int read_pem(const char *what, const char *path, char **out, PgpErr *err)
{
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return PGP_FAIL_PATH(err, errno, path, "cannot open TLS %s \"%s\"", what, path);
    char *buf = malloc(1 << 20);
    size_t n = buf != NULL ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    bool bad = ferror(f) || n == 0;
    fclose(f);
    if (buf == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (bad) {
        free(buf);
        return PGP_FAIL(err, PGP_ERR_CONFIG, "cannot read TLS %s \"%s\" (empty?)", what, path);
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static void server_free(ServeServer *s)
{
    pthread_rwlock_destroy(&s->tokens_lock);
    serve_tokens_free(&s->tokens);
    free(s->cert);
    free(s->key);
    free(s);
}

int serve_server_start(const ServeOptions *o, ServeApi *api, ServeTokens *tokens,
                       ServeServer **out, PgpErr *err)
{
    struct sockaddr_storage sa;
    bool v6 = false;
    int rc = parse_listen(o->listen, &sa, &v6, err);
    if (rc != 0)
        return rc;
    ServeServer *s = calloc(1, sizeof *s);
    if (s == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    pthread_rwlock_init(&s->tokens_lock, NULL);
    s->api = api;
    s->tokens = *tokens;
    memset(tokens, 0, sizeof *tokens);
    bool tls = o->tls_cert != NULL;
    if (tls && (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES))
        rc = PGP_FAIL(err, PGP_ERR_CONFIG, "this libmicrohttpd has no TLS support");
    if (rc == 0 && tls && (rc = read_pem("certificate", o->tls_cert, &s->cert, err)) == 0)
        rc = read_pem("key", o->tls_key, &s->key, err);
    if (rc != 0) {
        server_free(s);
        return rc;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     (v6 ? MHD_USE_IPv6 : 0) | (tls ? MHD_USE_TLS : 0);
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)SERVE_THREADS, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)SERVE_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVE_CONN_TIMEOUT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert,
        MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_END);
    if (s->d == NULL) {
        server_free(s);
        return PGP_FAIL(err, PGP_ERR_CONFIG,
                        "cannot listen on %s%s (address in use, not local, or a bad TLS "
                        "certificate or key)", o->listen, tls ? " with TLS" : "");
    }
    *out = s;
    return 0;
}

void serve_server_set_tokens(ServeServer *s, ServeTokens *tokens)
{
    pthread_rwlock_wrlock(&s->tokens_lock);
    serve_tokens_free(&s->tokens);
    s->tokens = *tokens;
    memset(tokens, 0, sizeof *tokens);
    pthread_rwlock_unlock(&s->tokens_lock);
}

void serve_server_stop(ServeServer *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->d);
    server_free(s);
}
