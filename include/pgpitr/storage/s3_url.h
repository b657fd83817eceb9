/*
 * s3_url.h - the pure text of S3 requests (src/storage/s3_url.c): the repository URL, the
 * endpoint, keys and query strings written canonical, as SigV4 signs them (libcurl 7.88.1
 * signs the path and query exactly as written). No network, no allocation: unit-tested
 * (tests/unit/test_s3_url.c).
 */
#ifndef PGPITR_STORAGE_S3_URL_H
#define PGPITR_STORAGE_S3_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "pgpitr/common/err.h"

#define S3_BUCKET_MAX 63
#define S3_HOST_MAX 255

/* "s3://BUCKET[/PREFIX][/]" -> bucket and prefix (no leading or trailing '/'; "" when none).
 * PGP_ERR_CONFIG for another scheme, a bucket name S3 refuses (3..63 of a-z 0-9 . -) or a
 * prefix with empty, "." or ".." segments. */
int s3_url_parse_repo(const char *url, char bucket[S3_BUCKET_MAX + 1], char *prefix,
                      size_t prefix_size, PgpErr *err);

typedef struct S3Endpoint {
    bool tls;
    char host[S3_HOST_MAX + 1];
    unsigned port;              /* 0: the scheme's */
} S3Endpoint;

/* "https://host[:port][/]" or "http://..."; a bare "host[:port]" is https. PGP_ERR_CONFIG
 * for a path, query, user info or a bad port. */
int s3_url_parse_endpoint(const char *url, S3Endpoint *out, PgpErr *err);

/* Percent-encodes in into out (NUL-terminated): every byte but A-Za-z0-9-_.~ (and '/' when
 * keep_slash) as %XX with uppercase hex. Returns the length needed (without the NUL), like
 * snprintf: a result >= size means out was too small. */
size_t s3_url_encode(const char *in, bool keep_slash, char *out, size_t size);
/* Decodes %XX (encoding-type=url listings) in place; false on a malformed escape or %00. */
bool s3_url_decode(char *s);

typedef struct S3Param {
    const char *name;
    const char *value;          /* NULL or "": written "name=" */
} S3Param;
#define S3_QUERY_MAX_PARAMS 8

/* The canonical query string of params (n <= S3_QUERY_MAX_PARAMS): sorted by name, names
 * and values encoded, "&"-joined. Returns the length needed, like s3_url_encode. */
size_t s3_url_query(const S3Param *params, size_t n, char *out, size_t size);

/* The request URL: path style "scheme://host[:port]/bucket[/key]", host style
 * "scheme://bucket.host[:port]/[key]", then "?query" when query is not empty. key is
 * encoded here ('/' kept). Returns the length needed, like s3_url_encode. */
size_t s3_url_build(const S3Endpoint *ep, bool path_style, const char *bucket,
                    const char *key, const char *query, char *out, size_t size);

#endif
