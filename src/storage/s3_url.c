/*
 * s3_url.c - S3 request text written canonical (s3_url.h). Pure: no network, no allocation.
 * Why canonical by hand: libcurl 7.88.1 signs the URL's path and query exactly as written, so
 * anything S3 would normalize differently (a '+', lowercase hex, unsorted or valueless
 * parameters) makes the signatures differ (403 SignatureDoesNotMatch).
 */
#include "pgpitr/storage/s3_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool bucket_valid(const char *b, size_t n)
{
    if (n < 3 || n > S3_BUCKET_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
              b[i] == '-'))
            return false;
    return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

/* No empty, "." or ".." segment: such keys would never match a storage path. */
static bool prefix_valid(const char *p)
{
    for (const char *seg = p; *seg != '\0';) {
        size_t n = strcspn(seg, "/");
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        seg += n + (seg[n] == '/');
        if (seg[-1] == '/' && *seg == '\0')
            return false;
    }
    return true;
}

int s3_url_parse_repo(const char *url, char bucket[S3_BUCKET_MAX + 1], char *prefix,
                      size_t prefix_size, PgpErr *err)
{
    if (strncmp(url, "s3://", 5) != 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "repository \"%s\" is not an s3:// URL", url);
    const char *b = url + 5;
    size_t bn = strcspn(b, "/");
    if (!bucket_valid(b, bn)) {
        PGP_FAIL(err, PGP_ERR_CONFIG, "invalid S3 bucket name \"%.*s\" in \"%s\"", (int)bn, b,
                 url);
        pgp_err_hint(err, "write the repository as s3://BUCKET/PREFIX (bucket: 3 to 63 of a-z, "
                     "0-9, '.', '-')");
        return PGP_ERR_CONFIG;
    }
    memcpy(bucket, b, bn);
    bucket[bn] = '\0';
    const char *p = b + bn;
    p += strspn(p, "/");
    size_t pn = strlen(p);
    while (pn > 0 && p[pn - 1] == '/')
        pn--;
    if (pn >= prefix_size)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "S3 prefix in \"%s\" is too long", url);
    memcpy(prefix, p, pn);
    prefix[pn] = '\0';
    if (!prefix_valid(prefix))
        return PGP_FAIL(err, PGP_ERR_CONFIG, "invalid S3 prefix \"%s\" in \"%s\" (empty, \".\" "
                        "or \"..\" segment)", prefix, url);
    return 0;
}

int s3_url_parse_endpoint(const char *url, S3Endpoint *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    const char *p = url;
    out->tls = true;
    if (strncmp(p, "https://", 8) == 0) {
        p += 8;
    } else if (strncmp(p, "http://", 7) == 0) {
        p += 7;
        out->tls = false;
    } else if (strstr(p, "://") != NULL) {
        return PGP_FAIL(err, PGP_ERR_CONFIG, "S3 endpoint \"%s\": only https:// and http:// "
                        "are known", url);
    }
    size_t hn = strcspn(p, ":/?#@");
    if (hn == 0 || hn > S3_HOST_MAX || p[hn] == '@' || p[hn] == '?' || p[hn] == '#')
        return PGP_FAIL(err, PGP_ERR_CONFIG, "invalid S3 endpoint \"%s\" (expected "
                        "https://host[:port])", url);
    memcpy(out->host, p, hn);
    out->host[hn] = '\0';
    p += hn;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end != '\0' && *end != '/'))
            return PGP_FAIL(err, PGP_ERR_CONFIG, "invalid port in S3 endpoint \"%s\"", url);
        out->port = (unsigned)port;
        p = end;
    }
    if (strcmp(p, "") != 0 && strcmp(p, "/") != 0)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "S3 endpoint \"%s\" has a path: give only "
                        "https://host[:port] (the bucket goes into --repo s3://BUCKET/PREFIX)",
                        url);
    return 0;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

/* Appends s to out at *used (counting what does not fit). */
static void put(char *out, size_t size, size_t *used, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, (*used)++)
        if (*used + 1 < size)
            out[*used] = s[i];
    if (size > 0)
        out[*used < size ? *used : size - 1] = '\0';
}

static void put_encoded(char *out, size_t size, size_t *used, const char *in, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)in; *p != '\0'; p++) {
        if (unreserved(*p) || (keep_slash && *p == '/')) {
            put(out, size, used, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            put(out, size, used, e, 3);
        }
    }
}

size_t s3_url_encode(const char *in, bool keep_slash, char *out, size_t size)
{
    size_t used = 0;
    if (size > 0)
        out[0] = '\0';
    put_encoded(out, size, &used, in, keep_slash);
    return used;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool s3_url_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r != '\0'; r++) {
        if (*r != '%') {
            *w++ = *r;
            continue;
        }
        int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return false;
        *w++ = (char)(hi * 16 + lo);
        r += 2;
    }
    *w = '\0';
    return true;
}

static int cmp_param(const void *a, const void *b)
{
    return strcmp(((const S3Param *)a)->name, ((const S3Param *)b)->name);
}

size_t s3_url_query(const S3Param *params, size_t n, char *out, size_t size)
{
    S3Param sorted[S3_QUERY_MAX_PARAMS];
    if (n > S3_QUERY_MAX_PARAMS)
        n = S3_QUERY_MAX_PARAMS;
    memcpy(sorted, params, n * sizeof *params);
    qsort(sorted, n, sizeof *sorted, cmp_param);
    size_t used = 0;
    if (size > 0)
        out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put(out, size, &used, "&", 1);
        put_encoded(out, size, &used, sorted[i].name, false);
        put(out, size, &used, "=", 1);
        if (sorted[i].value != NULL)
            put_encoded(out, size, &used, sorted[i].value, false);
    }
    return used;
}

size_t s3_url_build(const S3Endpoint *ep, bool path_style, const char *bucket,
                    const char *key, const char *query, char *out, size_t size)
{
    char port[16] = "";
    if (ep->port != 0)
        snprintf(port, sizeof port, ":%u", ep->port);
    size_t used = 0;
    if (size > 0)
        out[0] = '\0';
    const char *scheme = ep->tls ? "https://" : "http://";
    put(out, size, &used, scheme, strlen(scheme));
    if (!path_style) {
        put(out, size, &used, bucket, strlen(bucket));
        put(out, size, &used, ".", 1);
    }
    put(out, size, &used, ep->host, strlen(ep->host));
    put(out, size, &used, port, strlen(port));
    if (path_style) {
        put(out, size, &used, "/", 1);
        put(out, size, &used, bucket, strlen(bucket));
    }
    if (key != NULL && key[0] != '\0') {
        put(out, size, &used, "/", 1);
        put_encoded(out, size, &used, key, true);
    } else if (!path_style) {
        put(out, size, &used, "/", 1);
    }
    if (query != NULL && query[0] != '\0') {
        put(out, size, &used, "?", 1);
        put(out, size, &used, query, strlen(query));
    }
    return used;
}
