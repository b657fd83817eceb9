/*
 * s3_http.h - private to src/storage: the HTTP client of the S3 driver (s3.c, the only file
 * that includes curl.h). Signs every request with SigV4 (libcurl's CURLOPT_AWS_SIGV4 and an
 * x-amz-content-sha256 header), keeps a pool of connections (one per thread that uses the
 * driver at a time, kept alive across requests) and retries as s3_retry.h says within the
 * I/O timeout. It knows nothing of storage paths: s3_driver.c turns storage calls into
 * requests and statuses into errors.
 */
#ifndef PGPITR_STORAGE_S3_HTTP_H
#define PGPITR_STORAGE_S3_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/storage/s3_retry.h"
#include "pgpitr/storage/s3_url.h"

typedef struct S3Http S3Http;

typedef struct S3HttpConfig {
    S3Endpoint ep;
    bool path_style;
    const char *bucket;
    const char *region, *key, *secret, *token;   /* token may be NULL */
    const char *ca_file, *ca_path;
    bool no_verify_tls;
    unsigned timeout_s;
} S3HttpConfig;

/* Copies cfg's strings; loads libcurl (PGP_ERR_CONFIG with a HINT when it is missing). */
int s3_http_new(const S3HttpConfig *cfg, S3Http **out, PgpErr *err);
void s3_http_free(S3Http *h);       /* NULL is a no-op; wipes the secret */
const char *s3_http_bucket(const S3Http *h);

typedef struct S3Request {
    const char *method;             /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *key;                /* the whole key; NULL: the bucket itself */
    const char *query;              /* canonical (s3_url_query); NULL: none */
    const char *const *headers;     /* extra "Name: value" lines, NULL-terminated; signed */
    const void *body;               /* PUT/POST body */
    size_t body_len;
} S3Request;

#define S3_ETAG_MAX 128
typedef struct S3Response {
    long status;                    /* of the last answer; 0 when none came */
    S3Net net;                      /* how the last attempt ended */
    bool maybe_stored;              /* an attempt's outcome was unknown (a write may be in) */
    unsigned attempts;
    char etag[S3_ETAG_MAX];         /* as sent, quotes included; "" when none */
    uint64_t length;                /* Content-Length of the answer */
    int64_t mtime;                  /* Last-Modified; 0 when none */
    char *body;                     /* the answer's body (bounded), NUL-terminated, or NULL */
    size_t body_len;
} S3Response;
void s3_response_free(S3Response *rs);

/* Performs rq with retries. 0 when an answer came (rs->status is whatever it was, also after
 * the retries of a 503 ran out); PGP_ERR_IO naming the endpoint and libcurl's reason when
 * none did (unreachable, timeouts, TLS refused). rs is filled in both cases. */
int s3_http_exec(S3Http *h, const S3Request *rq, S3Response *rs, PgpErr *err);

/* A GET whose body is read as it arrives (never held whole). Returns 0 with *out set when
 * the answer is 200 (rs has its headers); 0 with *out NULL and rs filled (status, error
 * body) for any other answer; PGP_ERR_IO when none came. */
typedef struct S3Stream S3Stream;
int s3_http_get(S3Http *h, const char *key, S3Stream **out, S3Response *rs, PgpErr *err);
/* got = 0: the end, after exactly Content-Length bytes (fewer is PGP_ERR_IO). */
int s3_stream_read(S3Stream *s, void *buf, size_t len, size_t *got, PgpErr *err);
void s3_stream_close(S3Stream *s);  /* NULL is a no-op; the connection goes back to the pool */

/* Lowercase hex SHA-256 and MD5 (OpenSSL EVP), and MD5 as base64 for Content-MD5. */
int s3_http_sha256_hex(const void *buf, size_t len, char out[65], PgpErr *err);
int s3_http_md5(const void *buf, size_t len, unsigned char out[16], PgpErr *err);
void s3_http_base64(const unsigned char *in, size_t n, char *out, size_t size);

#endif
