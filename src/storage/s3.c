/*
 * s3.c - the HTTP client of the S3 driver (s3_http.h): the only file that includes curl.h.
 *
 * libcurl is loaded at run time on the first S3 repository opened (like libpq, see
 * pgpitr/common/dynlib.h): a posix repository's archive-push never pays for loading it and
 * what it pulls in. Every request goes through one multi handle per pooled connection, so
 * one code path serves whole answers (exec) and streamed GETs (paused when the reader's
 * buffer is full: memory stays bounded whatever the object's size).
 *
 * Signing: CURLOPT_AWS_SIGV4 signs the URL exactly as written (s3_url.c writes it
 * canonical) and every CURLOPT_HTTPHEADER header; libcurl 7.88.1 does not add
 * x-amz-content-sha256, which S3 requires, so it is added here with the body's digest.
 * Secrets go to libcurl only (CURLOPT_USERNAME/PASSWORD); no message carries them.
 */
#define CURL_DISABLE_TYPECHECK 1    /* the calls go through the table below */
#include <curl/curl.h>

#include "s3_http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "pgpitr/common/dynlib.h"
#include "pgpitr/common/log.h"

/* ---- libcurl, loaded on first use ------------------------------------------------------------ */

#define S3_CURL_FUNCS(X)                                                                     \
    X(CURLcode, curl_global_init, (long flags))                                             \
    X(CURL *, curl_easy_init, (void))                                                        \
    X(void, curl_easy_cleanup, (CURL *curl))                                                 \
    X(void, curl_easy_reset, (CURL *curl))                                                   \
    X(CURLcode, curl_easy_setopt, (CURL *curl, CURLoption option, ...))                      \
    X(CURLcode, curl_easy_getinfo, (CURL *curl, CURLINFO info, ...))                         \
    X(const char *, curl_easy_strerror, (CURLcode code))                                     \
    X(CURLcode, curl_easy_pause, (CURL *handle, int bitmask))                                \
    X(CURLM *, curl_multi_init, (void))                                                      \
    X(CURLMcode, curl_multi_cleanup, (CURLM *multi_handle))                                  \
    X(CURLMcode, curl_multi_add_handle, (CURLM *multi_handle, CURL *curl_handle))            \
    X(CURLMcode, curl_multi_remove_handle, (CURLM *multi_handle, CURL *curl_handle))         \
    X(CURLMcode, curl_multi_perform, (CURLM *multi_handle, int *running_handles))            \
    X(CURLMcode, curl_multi_poll, (CURLM *multi_handle, struct curl_waitfd extra_fds[],      \
                                   unsigned int extra_nfds, int timeout_ms, int *ret))       \
    X(CURLMsg *, curl_multi_info_read, (CURLM *multi_handle, int *msgs_in_queue))            \
    X(struct curl_slist *, curl_slist_append, (struct curl_slist *list, const char *string)) \
    X(void, curl_slist_free_all, (struct curl_slist *list))

typedef struct S3Curl {
#define S3_CURL_SLOT(ret, name, params) ret (*name) params;
    S3_CURL_FUNCS(S3_CURL_SLOT)
#undef S3_CURL_SLOT
} S3Curl;

#define S3_CURL_CHECK(ret, name, params)                                                     \
    _Static_assert(_Generic(&name, ret (*) params: 1, default: 0),                           \
                   "prototype of " #name " differs from curl.h");
S3_CURL_FUNCS(S3_CURL_CHECK)
#undef S3_CURL_CHECK

static S3Curl lc;
enum {
#define S3_CURL_INDEX(ret, name, params) CURL_I_##name,
    S3_CURL_FUNCS(S3_CURL_INDEX)
#undef S3_CURL_INDEX
    CURL_N
};
static const char *const curl_names[CURL_N] = {
#define S3_CURL_NAME(ret, name, params) #name,
    S3_CURL_FUNCS(S3_CURL_NAME)
#undef S3_CURL_NAME
};
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static PgpErr load_err;

static void load(void)
{
    PgpDynFn fns[CURL_N];
    load_rc = pgp_dynlib_open("libcurl", "libcurl.so.4", curl_names, CURL_N, fns, &load_err);
    if (load_rc != 0) {
        pgp_err_hint(&load_err, "install libcurl (Debian/Ubuntu: apt-get install libcurl4; "
                     "RHEL: dnf install libcurl)");
        return;
    }
#define S3_CURL_FILL(ret, name, params) lc.name = (ret (*) params)fns[CURL_I_##name];
    S3_CURL_FUNCS(S3_CURL_FILL)
#undef S3_CURL_FILL
    CURLcode c = lc.curl_global_init(CURL_GLOBAL_DEFAULT);
    if (c != CURLE_OK)
        load_rc = PGP_FAIL(&load_err, PGP_ERR_CONFIG, "cannot initialize libcurl: %s",
                           lc.curl_easy_strerror(c));
}

static int curl_load(PgpErr *err)
{
    pthread_once(&load_once, load);
    if (load_rc != 0 && err != NULL)
        *err = load_err;
    return load_rc;
}

/* ---- the client and its connections ------------------------------------------------------ */

typedef struct S3Conn {
    CURLM *multi;               /* its connection cache keeps the connection alive */
    CURL *easy;
    struct S3Conn *next;
} S3Conn;

struct S3Http {
    S3Endpoint ep;
    bool path_style, no_verify_tls;
    char *bucket, *sigv4, *key, *secret, *token, *ca_file, *ca_path;
    unsigned timeout_s;
    pthread_mutex_t mu;
    S3Conn *idle;               /* connections not in use */
};

#define BODY_MAX (8u << 20)         /* an answer held whole: listings, errors (~300 KiB) */
#define STREAM_BUF (256u << 10)     /* a streamed GET's buffer, > CURL_MAX_WRITE_SIZE */
#define S3_KEY_TEXT_MAX 2100        /* ' key "<key>"' */
#define URL_MAX 8192                /* a 1024-byte key encoded thrice, host, query */

static char *dup_opt(const char *s, bool *ok)
{
    if (s == NULL || s[0] == '\0')
        return NULL;
    char *d = strdup(s);
    if (d == NULL)
        *ok = false;
    return d;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void s3_http_free(S3Http *h)
{
    if (h == NULL)
        return;
    for (S3Conn *c = h->idle, *next; c != NULL; c = next) {
        next = c->next;
        lc.curl_easy_cleanup(c->easy);
        lc.curl_multi_cleanup(c->multi);
        free(c);
    }
    pthread_mutex_destroy(&h->mu);
    free(h->bucket);
    free(h->sigv4);
    free(h->key);
    wipe_free(h->secret);
    wipe_free(h->token);
    free(h->ca_file);
    free(h->ca_path);
    free(h);
}

int s3_http_new(const S3HttpConfig *cfg, S3Http **out, PgpErr *err)
{
    *out = NULL;
    int rc = curl_load(err);
    if (rc != 0)
        return rc;
    S3Http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&h->mu, NULL);
    h->ep = cfg->ep;
    h->path_style = cfg->path_style;
    h->no_verify_tls = cfg->no_verify_tls;
    h->timeout_s = cfg->timeout_s;
    bool ok = true;
    char sigv4[128];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", cfg->region);
    h->bucket = dup_opt(cfg->bucket, &ok);
    h->sigv4 = dup_opt(sigv4, &ok);
    h->key = dup_opt(cfg->key, &ok);
    h->secret = dup_opt(cfg->secret, &ok);
    h->token = dup_opt(cfg->token, &ok);
    h->ca_file = dup_opt(cfg->ca_file, &ok);
    h->ca_path = dup_opt(cfg->ca_path, &ok);
    if (!ok) {
        s3_http_free(h);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    *out = h;
    return 0;
}

const char *s3_http_bucket(const S3Http *h)
{
    return h->bucket;
}

static S3Conn *conn_get(S3Http *h, PgpErr *err)
{
    pthread_mutex_lock(&h->mu);
    S3Conn *c = h->idle;
    if (c != NULL)
        h->idle = c->next;
    pthread_mutex_unlock(&h->mu);
    if (c != NULL)
        return c;
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->multi = lc.curl_multi_init()) == NULL ||
        (c->easy = lc.curl_easy_init()) == NULL) {
        if (c != NULL && c->multi != NULL)
            lc.curl_multi_cleanup(c->multi);
        free(c);
        PGP_FAIL(err, PGP_ERR_NOMEM, "cannot create an S3 connection (out of memory)");
        return NULL;
    }
    return c;
}

static void conn_put(S3Http *h, S3Conn *c)
{
    pthread_mutex_lock(&h->mu);
    c->next = h->idle;
    h->idle = c;
    pthread_mutex_unlock(&h->mu);
}

/* ---- one attempt --------------------------------------------------------------------------- */

typedef struct Attempt {
    S3Response *rs;
    const S3Request *rq;
    size_t sent;                /* of rq->body */
    bool headers_done;          /* the final answer's headers are in */
    /* streamed GET: body bytes go to the buffer unless capture */
    bool stream, capture, paused;
    unsigned char *buf;
    size_t head, tail;
    bool overflow;              /* captured body over BODY_MAX */
    bool req_sent;              /* the request line and headers went out */
    int code;                   /* libcurl's result once the transfer ended; -1 running */
} Attempt;

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
    Attempt *a = ud;
    size_t want = size * n, left = a->rq->body_len - a->sent;
    if (want > left)
        want = left;
    memcpy(dst, (const char *)a->rq->body + a->sent, want);
    a->sent += want;
    return want;
}

/* libcurl rewinds the body when it sends the request again by itself (a kept-alive
 * connection found closed): without this it fails with CURLE_SEND_FAIL_REWIND. */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
    Attempt *a = ud;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > a->rq->body_len)
        return CURL_SEEKFUNC_FAIL;
    a->sent = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static size_t capture(Attempt *a, const char *data, size_t n)
{
    S3Response *rs = a->rs;
    if (rs->body_len + n > BODY_MAX) {
        a->overflow = true;
        return 0;                               /* aborts the transfer */
    }
    char *b = realloc(rs->body, rs->body_len + n + 1);
    if (b == NULL)
        return 0;
    memcpy(b + rs->body_len, data, n);
    rs->body = b;
    rs->body_len += n;
    b[rs->body_len] = '\0';
    return n;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    Attempt *a = ud;
    size_t len = size * n;
    if (!a->stream || a->capture)
        return capture(a, data, len);
    if (a->tail + len > STREAM_BUF && a->head > 0) {
        memmove(a->buf, a->buf + a->head, a->tail - a->head);
        a->tail -= a->head;
        a->head = 0;
    }
    if (a->tail + len > STREAM_BUF) {
        a->paused = true;
        return CURL_WRITEFUNC_PAUSE;            /* delivered again once unpaused */
    }
    memcpy(a->buf + a->tail, data, len);
    a->tail += len;
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    Attempt *a = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {         /* a new answer (after 100) */
        a->rs->etag[0] = '\0';
        const char *sp = memchr(data, ' ', len);
        a->rs->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
    } else if (len <= 2 && a->rs->status >= 200) {
        a->headers_done = true;
        if (a->stream && a->rs->status != 200 && a->rs->status != 206)
            a->capture = true;                  /* an error document, read whole */
    } else if (len > 5 && strncasecmp(data, "etag:", 5) == 0) {
        const char *v = data + 5;
        size_t vn = len - 5;
        while (vn > 0 && (*v == ' ' || *v == '\t'))
            v++, vn--;
        while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
            vn--;
        snprintf(a->rs->etag, sizeof a->rs->etag, "%.*s", (int)vn, v);
    }
    return len;
}

static S3Net net_of(CURLcode c)
{
    switch (c) {
    case CURLE_OK: return S3_NET_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return S3_NET_CONNECT;
    case CURLE_OPERATION_TIMEDOUT: return S3_NET_TIMEOUT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:                         /* a reset during the handshake */
    case CURLE_SEND_FAIL_REWIND: return S3_NET_BROKEN;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM: return S3_NET_TLS;
    default: return S3_NET_OTHER;
    }
}

/* The request's options on the connection's handle; *hdrs is the header list to free. */
static int setup(S3Http *h, S3Conn *c, Attempt *a, const char *url, struct curl_slist **hdrs,
                 PgpErr *err)
{
    const S3Request *rq = a->rq;
    CURL *e = c->easy;
    lc.curl_easy_reset(e);
    char sha[65], line[256];
    int rc = s3_http_sha256_hex(rq->body_len ? rq->body : "", rq->body_len, sha, err);
    if (rc != 0)
        return rc;
    struct curl_slist *l = NULL;
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", sha);
    bool ok = (l = lc.curl_slist_append(l, line)) != NULL;
    if (ok && h->token != NULL) {
        char *t = malloc(strlen(h->token) + 32);
        ok = t != NULL;
        if (ok) {
            sprintf(t, "x-amz-security-token: %s", h->token);
            struct curl_slist *n = lc.curl_slist_append(l, t);
            explicit_bzero(t, strlen(t));
            free(t);
            ok = n != NULL;
        }
    }
    for (size_t i = 0; ok && rq->headers != NULL && rq->headers[i] != NULL; i++)
        ok = lc.curl_slist_append(l, rq->headers[i]) != NULL;
    /* No "Expect: 100-continue" before bodies over 1 MiB: that waits a round trip (or a
     * second when the server ignores it) for nothing, since a refusal costs a retry anyway. */
    if (ok && rq->body_len > 0)
        ok = lc.curl_slist_append(l, "Expect:") != NULL;
    *hdrs = l;
    if (!ok)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    lc.curl_easy_setopt(e, CURLOPT_URL, url);
    lc.curl_easy_setopt(e, CURLOPT_AWS_SIGV4, h->sigv4);
    lc.curl_easy_setopt(e, CURLOPT_USERNAME, h->key != NULL ? h->key : "");
    lc.curl_easy_setopt(e, CURLOPT_PASSWORD, h->secret != NULL ? h->secret : "");
    lc.curl_easy_setopt(e, CURLOPT_HTTPHEADER, l);
    lc.curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    lc.curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)h->timeout_s);
    /* a stall of timeout_s fails the attempt, however large the object */
    lc.curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    lc.curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)h->timeout_s);
    lc.curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    lc.curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
    lc.curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    lc.curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    lc.curl_easy_setopt(e, CURLOPT_FILETIME, 1L);
    lc.curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (h->ca_file != NULL)
        lc.curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (h->ca_path != NULL)
        lc.curl_easy_setopt(e, CURLOPT_CAPATH, h->ca_path);
    if (h->no_verify_tls) {
        lc.curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        lc.curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (strcmp(rq->method, "HEAD") == 0) {
        lc.curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0 || strcmp(rq->method, "POST") == 0) {
        lc.curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        lc.curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
        lc.curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        lc.curl_easy_setopt(e, CURLOPT_READDATA, a);
        lc.curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
        lc.curl_easy_setopt(e, CURLOPT_SEEKDATA, a);
        if (strcmp(rq->method, "POST") == 0)
            lc.curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (strcmp(rq->method, "GET") != 0) {
        lc.curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    return 0;
}

/* Drives the transfer until it is done, or (until_headers) its final headers are in, or
 * (stream) data or a pause is there. Returns the transfer's result once done, else -1. */
static int drive(S3Conn *c, Attempt *a, bool until_headers)
{
    for (;;) {
        int running = 0, left = 0;
        lc.curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        while ((m = lc.curl_multi_info_read(c->multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE)
                return (int)m->data.result;
        if (until_headers && a->headers_done && !a->capture)
            return -1;
        if (!until_headers && a->stream && (a->tail > a->head || a->paused))
            return -1;
        lc.curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
    }
}

static void fill_info(S3Conn *c, S3Response *rs)
{
    long status = 0;
    curl_off_t len = -1, ftime = -1;
    lc.curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    lc.curl_easy_getinfo(c->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
    lc.curl_easy_getinfo(c->easy, CURLINFO_FILETIME_T, &ftime);
    if (status != 0)
        rs->status = status;
    rs->length = len > 0 ? (uint64_t)len : 0;
    rs->mtime = ftime > 0 ? (int64_t)ftime : 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* The message of a request that got no answer. */
static int net_fail(S3Http *h, const S3Request *rq, CURLcode code, const S3Response *rs,
                    PgpErr *err)
{
    char where[S3_HOST_MAX + 16], what[S3_KEY_TEXT_MAX];
    if (h->ep.port != 0)
        snprintf(where, sizeof where, "%s:%u", h->ep.host, h->ep.port);
    else
        snprintf(where, sizeof where, "%s", h->ep.host);
    snprintf(what, sizeof what, "%s%s%s", rq->key ? " key \"" : "", rq->key ? rq->key : "",
             rq->key ? "\"" : "");
    PGP_FAIL(err, PGP_ERR_IO, "S3 %s of bucket \"%s\"%s got no answer from \"%s\": %s (%u "
             "attempt%s)", rq->method, h->bucket, what, where, lc.curl_easy_strerror(code),
             rs->attempts, rs->attempts == 1 ? "" : "s");
    if (rs->net == S3_NET_TLS)
        pgp_err_hint(err, "check s3-ca-file / s3-ca-path (the CA that signed the endpoint's "
                     "certificate) and that the endpoint's name matches it");
    else if (code == CURLE_COULDNT_RESOLVE_HOST && !h->path_style)
        pgp_err_hint(err, "host-style requests need \"%s.%s\" to resolve: set s3-uri-style "
                     "path for MinIO, Ceph and most self-hosted stores", h->bucket, h->ep.host);
    else
        pgp_err_hint(err, "check s3-endpoint and that the store is up and reachable from here "
                     "(io-timeout bounds the retries)");
    return PGP_ERR_IO;
}

void s3_response_free(S3Response *rs)
{
    free(rs->body);
    rs->body = NULL;
    rs->body_len = 0;
}

static int url_of(S3Http *h, const S3Request *rq, char *url, PgpErr *err)
{
    if (s3_url_build(&h->ep, h->path_style, h->bucket, rq->key, rq->query, url, URL_MAX) >=
        URL_MAX)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "S3 request URL too long for key \"%.64s\"",
                        rq->key ? rq->key : "");
    return 0;
}

/* One attempt up to its end (exec) or its headers (stream); rc is libcurl's result, or -1
 * for a stream left running. */
static int attempt_run(S3Http *h, S3Conn *c, Attempt *a, const char *url, int *code,
                       PgpErr *err)
{
    struct curl_slist *hdrs = NULL;
    S3Response *rs = a->rs;
    s3_response_free(rs);
    rs->status = 0;
    rs->etag[0] = '\0';
    a->sent = 0;
    a->headers_done = a->capture = a->paused = a->overflow = a->req_sent = false;
    a->head = a->tail = 0;
    int rc = setup(h, c, a, url, &hdrs, err);
    if (rc == 0) {
        lc.curl_multi_add_handle(c->multi, c->easy);
        *code = drive(c, a, a->stream);
        if (*code >= 0 || !a->stream)
            lc.curl_multi_remove_handle(c->multi, c->easy);
        fill_info(c, rs);
        long req_size = 0;
        lc.curl_easy_getinfo(c->easy, CURLINFO_REQUEST_SIZE, &req_size);
        a->req_sent = req_size > 0;
    }
    lc.curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    lc.curl_slist_free_all(hdrs);
    return rc;
}

/* Attempts until an answer that is not retried, or the retry budget (s3_retry_in_budget:
 * io-timeout, not counting up to S3_STALLS_MAX - 1 attempts whose answer never came). */
static int run_retried(S3Http *h, S3Conn *c, Attempt *a, PgpErr *err)
{
    char url[URL_MAX];
    int rc = url_of(h, a->rq, url, err);
    S3Response *rs = a->rs;
    uint64_t start = now_ms(), stalled = 0;
    unsigned stalls = 0;
    for (;;) {
        int code = 0;
        uint64_t began = now_ms();
        rs->attempts++;
        if (rc == 0)
            rc = attempt_run(h, c, a, url, &code, err);
        if (rc != 0)
            return rc;
        /* sent, and no answer for io-timeout: by our timer, or the peer gave up first */
        uint64_t took = now_ms() - began;
        if (a->req_sent && (code == CURLE_OPERATION_TIMEDOUT ||
                            (took >= (uint64_t)h->timeout_s * 1000 &&
                             net_of((CURLcode)code) == S3_NET_BROKEN))) {
            stalls++;
            stalled += took;
        }
        a->code = code;
        if (code == CURLE_WRITE_ERROR && a->overflow)
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "S3 answer to %s \"%s\" is over %u bytes",
                            a->rq->method, a->rq->key ? a->rq->key : "", BODY_MAX);
        rs->net = code < 0 ? S3_NET_OK : net_of((CURLcode)code);
        bool write = strcmp(a->rq->method, "PUT") == 0 || strcmp(a->rq->method, "POST") == 0;
        if (write && s3_retry_outcome_unknown(rs->net, rs->status))
            rs->maybe_stored = true;
        if (!s3_retry_wanted(rs->net, rs->status))
            return rs->net == S3_NET_OK ? 0 : net_fail(h, a->rq, (CURLcode)code, rs, err);
        uint64_t rnd = 0;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) < 0)
            rnd = now_ms();
        uint64_t delay = s3_retry_delay_ms(rs->attempts, h->timeout_s, rnd), spent = now_ms() - start;
        if (!s3_retry_in_budget(h->timeout_s, spent, stalled, stalls, delay))
            return rs->net == S3_NET_OK ? 0 : net_fail(h, a->rq, (CURLcode)code, rs, err);
        log_debug("S3 %s \"%s\": %s %ld, retrying in %llu ms", a->rq->method,
                  a->rq->key ? a->rq->key : "", rs->net == S3_NET_OK ? "status" : "no answer,",
                  rs->status, (unsigned long long)delay);
        sleep_ms(delay);
    }
}

int s3_http_exec(S3Http *h, const S3Request *rq, S3Response *rs, PgpErr *err)
{
    memset(rs, 0, sizeof *rs);
    S3Conn *c = conn_get(h, err);
    if (c == NULL)
        return PGP_ERR_NOMEM;
    Attempt a = {.rs = rs, .rq = rq};
    int rc = run_retried(h, c, &a, err);
    conn_put(h, c);
    return rc;
}

/* ---- streamed GET --------------------------------------------------------------------------- */

struct S3Stream {
    S3Http *h;
    S3Conn *c;
    Attempt a;
    S3Request rq;
    S3Response rs;
    uint64_t delivered;
    uint64_t total;             /* Content-Length of the first answer */
    char etag[S3_ETAG_MAX];     /* of the first answer: a resumed GET must read the same */
    unsigned resumes;           /* in a row without a byte gained */
    uint64_t resumed_at;        /* delivered at the last resume */
    char range[64], if_match[S3_ETAG_MAX + 16];
    const char *resume_headers[3];
    char *key;                  /* the caller's may go away after s3_http_get */
    bool done;
    int code;
};

/* A GET broken mid-body goes on where it stopped ("Range: bytes=N-"), from the same object
 * only ("If-Match" with the first answer's ETag): archive-get under a flaky network must not
 * fail, which would stop PostgreSQL's recovery. */
#define RESUMES_MAX 5

void s3_stream_close(S3Stream *s)
{
    if (s == NULL)
        return;
    if (!s->done)   /* a half-read answer: the connection cannot be reused, drop it */
        lc.curl_multi_remove_handle(s->c->multi, s->c->easy);
    conn_put(s->h, s->c);
    s3_response_free(&s->rs);
    free(s->a.buf);
    free(s->key);
    free(s);
}

int s3_http_get(S3Http *h, const char *key, S3Stream **out, S3Response *rs, PgpErr *err)
{
    *out = NULL;
    memset(rs, 0, sizeof *rs);
    S3Stream *s = calloc(1, sizeof *s);
    if (s == NULL || (s->a.buf = malloc(STREAM_BUF)) == NULL ||
        (s->key = strdup(key)) == NULL) {
        if (s != NULL)
            free(s->a.buf);
        free(s);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    s->h = h;
    s->rq = (S3Request){.method = "GET", .key = s->key};
    s->a.rq = &s->rq;
    s->a.rs = &s->rs;
    s->a.stream = true;
    if ((s->c = conn_get(h, err)) == NULL) {
        free(s->a.buf);
        free(s->key);
        free(s);
        return PGP_ERR_NOMEM;
    }
    int rc = run_retried(h, s->c, &s->a, err);
    *rs = s->rs;
    rs->body = NULL;
    if (rc == 0 && s->rs.status != 200 && s->rs.body != NULL) {
        rs->body = s->rs.body;                  /* the error document goes to the caller */
        s->rs.body = NULL;
    }
    s->total = s->rs.length;
    memcpy(s->etag, s->rs.etag, sizeof s->etag);
    /* a small object may have arrived whole with its headers: the transfer is over then */
    s->done = s->a.code >= 0;
    s->code = s->a.code;
    if (rc != 0 || s->rs.status != 200) {
        s->done = true;
        s3_stream_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Asks again for the rest of the object after a broken transfer; 0 when it comes (206). */
static int stream_resume(S3Stream *s, PgpErr *err)
{
    if (s->delivered > s->resumed_at)
        s->resumes = 0;                         /* progress since: a new stretch */
    s->resumed_at = s->delivered;
    s->resumes++;
    snprintf(s->range, sizeof s->range, "Range: bytes=%llu-",
             (unsigned long long)s->delivered);
    snprintf(s->if_match, sizeof s->if_match, "If-Match: %s", s->etag);
    s->resume_headers[0] = s->range;
    s->resume_headers[1] = s->etag[0] ? s->if_match : NULL;
    s->resume_headers[2] = NULL;
    s->rq.headers = s->resume_headers;
    log_debug("S3 GET \"%s\" broke after %llu bytes (%s): resuming", s->rq.key,
              (unsigned long long)s->delivered, lc.curl_easy_strerror(s->code));
    int rc = run_retried(s->h, s->c, &s->a, err);
    s->done = s->a.code >= 0;
    s->code = s->a.code;
    if (rc == 0 && s->rs.status != 206) {
        s->done = true;
        if (s->a.code < 0)
            lc.curl_multi_remove_handle(s->c->multi, s->c->easy);
        rc = PGP_FAIL(err, PGP_ERR_IO, "S3 GET of bucket \"%s\" key \"%s\" broke after %llu "
                      "bytes and could not go on: HTTP %ld%s", s->h->bucket, s->rq.key,
                      (unsigned long long)s->delivered, s->rs.status,
                      s->rs.status == 412 ? " (the object changed meanwhile)" : "");
    }
    return rc;
}

/* Whether the ended transfer stopped short for a reason worth resuming. */
static bool stream_broken(const S3Stream *s)
{
    if (s->resumes >= RESUMES_MAX && s->delivered == s->resumed_at)
        return false;                           /* no byte gained over the last tries */
    if (s->code != CURLE_OK)
        return s3_retry_wanted(net_of((CURLcode)s->code), 0);
    return s->total > 0 && s->delivered < s->total;
}

int s3_stream_read(S3Stream *s, void *buf, size_t len, size_t *got, PgpErr *err)
{
    *got = 0;
    Attempt *a = &s->a;
    while (len > 0) {
        if (a->tail > a->head) {
            size_t n = a->tail - a->head < len ? a->tail - a->head : len;
            memcpy(buf, a->buf + a->head, n);
            a->head += n;
            s->delivered += n;
            *got = n;
            return 0;
        }
        a->head = a->tail = 0;
        if (s->done && stream_broken(s)) {
            int rc = stream_resume(s, err);
            if (rc != 0)
                return rc;
            continue;
        }
        if (s->done)
            break;
        if (a->paused) {
            a->paused = false;
            lc.curl_easy_pause(s->c->easy, CURLPAUSE_CONT);
            continue;
        }
        int code = drive(s->c, a, false);
        if (code >= 0) {
            s->done = true;
            s->code = code;
            lc.curl_multi_remove_handle(s->c->multi, s->c->easy);
        }
    }
    if (len > 0 && s->code != CURLE_OK)
        return PGP_FAIL(err, PGP_ERR_IO, "S3 GET of bucket \"%s\" key \"%s\" broke after %llu "
                        "bytes: %s", s->h->bucket, s->rq.key,
                        (unsigned long long)s->delivered, lc.curl_easy_strerror(s->code));
    if (len > 0 && s->total > 0 && s->delivered != s->total)
        return PGP_FAIL(err, PGP_ERR_IO, "S3 GET of bucket \"%s\" key \"%s\" ended after %llu "
                        "of %llu bytes", s->h->bucket, s->rq.key,
                        (unsigned long long)s->delivered, (unsigned long long)s->total);
    return 0;
}
