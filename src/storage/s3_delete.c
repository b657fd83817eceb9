/*
 * s3_delete.c - storage_remove_objects on S3: DeleteObjects, up to 1000 keys in one POST
 * instead of a HEAD and a DELETE per key (what s3_remove must do to keep the posix contract
 * of PGP_ERR_NOT_FOUND). Expire removes unreferenced objects and old WAL by the thousand;
 * on S3 that was two round trips each.
 * Quiet mode: the answer lists only the keys that were not removed. DeleteObjects reports a
 * missing key as deleted, which is what storage_remove_objects promises. The request body
 * is XML written here (keys are storage paths, escaped all the same); the answer is read by
 * s3_xml_delete_result.
 */
#include "s3_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/storage/s3_url.h"
#include "pgpitr/storage/s3_xml.h"

#define DELETE_HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
                    "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
#define DELETE_TAIL "</Delete>\n"

/* Appends s to b at *used, XML-escaped; b has room for 6 bytes per byte of s. */
static void put_escaped(char *b, size_t *used, const char *s)
{
    for (; *s != '\0'; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                        : *s == '"' ? "&quot;" : *s == '\'' ? "&apos;" : NULL;
        if (e != NULL) {
            memcpy(b + *used, e, strlen(e));
            *used += strlen(e);
        } else {
            b[(*used)++] = *s;
        }
    }
}

/* The <Delete> document for paths[0..n), malloc'd into *out. */
static int delete_body(const S3Drv *d, const char *const *paths, size_t n, char **out,
                       size_t *len, PgpErr *err)
{
    size_t cap = sizeof DELETE_HEAD + sizeof DELETE_TAIL;
    for (size_t i = 0; i < n; i++)
        cap += sizeof "<Object><Key></Key></Object>" + 6 * (strlen(d->prefix) + 1 + strlen(paths[i]));
    char *b = malloc(cap);
    if (b == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    size_t used = 0;
    memcpy(b, DELETE_HEAD, sizeof DELETE_HEAD - 1);
    used += sizeof DELETE_HEAD - 1;
    for (size_t i = 0; i < n; i++) {
        char key[S3_KEY_MAX];
        int rc = s3_key_of(d, paths[i], key, err);
        if (rc != 0) {
            free(b);
            return rc;
        }
        memcpy(b + used, "<Object><Key>", 13);
        used += 13;
        put_escaped(b, &used, key);
        memcpy(b + used, "</Key></Object>", 15);
        used += 15;
    }
    memcpy(b + used, DELETE_TAIL, sizeof DELETE_TAIL);   /* with the NUL */
    used += sizeof DELETE_TAIL - 1;
    *out = b;
    *len = used;
    return 0;
}

int s3_remove_objects(void *drv, const char *const *paths, size_t n, PgpErr *err)
{
    S3Drv *d = drv;
    if (n == 0)
        return 0;
    char *body = NULL;
    size_t len = 0;
    int rc = delete_body(d, paths, n, &body, &len, err);
    if (rc != 0)
        return rc;
    unsigned char md5[16];
    char b64[32], md5hdr[64], what[S3_KEY_MAX + 64];
    if ((rc = s3_http_md5(body, len, md5, err)) != 0) {
        free(body);
        return rc;
    }
    s3_http_base64(md5, 16, b64, sizeof b64);
    snprintf(md5hdr, sizeof md5hdr, "Content-MD5: %s", b64);
    const char *hdr[] = {md5hdr, "Content-Type: application/xml", NULL};
    S3Request rq = {.method = "POST", .query = "delete=", .headers = hdr, .body = body,
                    .body_len = len};
    S3Response rs;
    rc = s3_http_exec(d->http, &rq, &rs, err);
    snprintf(what, sizeof what, "%.1024s (and %zu more)", paths[0], n - 1);
    if (rc == 0 && rs.status != 200) {
        rc = s3_status_fail(d, "POST (DeleteObjects)", what, &rs, err);
    } else if (rc == 0) {
        S3DeleteResult res;
        rc = s3_xml_delete_result(rs.body != NULL ? rs.body : "", rs.body_len, &res, err);
        if (rc == 0 && res.n_failed > 0)
            rc = PGP_FAIL(err, PGP_ERR_IO, "S3 DeleteObjects of bucket \"%s\" did not remove "
                          "%zu of %zu keys, the first \"%s\": %s (%s)", s3_http_bucket(d->http),
                          res.n_failed, n, res.key, res.first.code, res.first.message);
        else if (rc != 0)
            pgp_err_context(err, "S3 DeleteObjects of bucket \"%s\"", s3_http_bucket(d->http));
    }
    s3_response_free(&rs);
    free(body);
    return rc;
}
