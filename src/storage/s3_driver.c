/*
 * s3_driver.c - the S3 storage driver (pgpitr/storage/s3.h): storage paths are keys below
 * the repository's prefix; requests go through s3_http.h, writers are in s3_write.c.
 *
 * Directories: S3 has none. A "directory" is a prefix with keys below it: list uses
 * ListObjectsV2 with the delimiter "/" (common prefixes are the directories), stat of a path
 * that is no key looks for one key below "path/". remove keeps the posix contract: a key is
 * read with HEAD first, because DELETE answers 204 whether or not the key existed and the
 * callers rely on PGP_ERR_NOT_FOUND (a lease or lock that vanished); removing a "directory"
 * with keys below is refused like rmdir, and an empty one is NOT_FOUND (it never existed),
 * which every caller that removes directories already accepts.
 */
#include "s3_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/storage/s3_url.h"
#include "pgpitr/storage/s3_xml.h"

#define TMP_PREFIX ".tmp."

int s3_key_of(const S3Drv *d, const char *path, char key[S3_KEY_MAX], PgpErr *err)
{
    int n = snprintf(key, S3_KEY_MAX, "%s%s%s", d->prefix, d->prefix[0] ? "/" : "", path);
    if (n < 0 || n >= S3_KEY_MAX)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "S3 key too long for \"%.64s\"", path);
    return 0;
}

int s3_status_fail(const S3Drv *d, const char *method, const char *key, const S3Response *rs,
                   PgpErr *err)
{
    S3XmlError x;
    s3_xml_error(rs->body, rs->body_len, &x);
    size_t mn = strlen(x.message);
    while (mn > 0 && (x.message[mn - 1] == '.' || x.message[mn - 1] == ' '))
        x.message[--mn] = '\0';
    if (x.code[0] == '\0') {       /* HEAD and some errors have no body: name the status */
        const char *c = rs->status == 403 ? "AccessDenied" : rs->status == 404 ? "NotFound"
                        : rs->status == 412 ? "PreconditionFailed" : "";
        snprintf(x.code, sizeof x.code, "%s", c);
    }
    PgpErrCode code = PGP_ERR_IO;
    if (rs->status == 404 && strcmp(x.code, "NoSuchBucket") != 0)
        code = PGP_ERR_NOT_FOUND;
    else if (rs->status == 400 || rs->status == 401 || rs->status == 403 || rs->status == 404 ||
             rs->status == 301)
        code = PGP_ERR_CONFIG;
    PGP_FAIL(err, code, "S3 %s of bucket \"%s\" key \"%s\" failed: HTTP %ld%s%s%s%s%s", method,
             s3_http_bucket(d->http), key != NULL ? key : "", rs->status, x.code[0] ? " " : "",
             x.code, x.message[0] ? " (" : "", x.message, x.message[0] ? ")" : "");
    if (code != PGP_ERR_NOT_FOUND)
        pgp_err_hint(err, "%s", s3_retry_hint(rs->status, x.code));
    return code;
}

int s3_head(S3Drv *d, const char *key, S3Response *rs, PgpErr *err)
{
    S3Request rq = {.method = "HEAD", .key = key};
    return s3_http_exec(d->http, &rq, rs, err);
}

/* ---- listing -------------------------------------------------------------------------------- */

/* A GET of the bucket with query (a listing): 0 with rs holding the 200 answer. */
static int bucket_get(S3Drv *d, const char *query, const char *what, const char *name,
                      S3Response *rs, PgpErr *err)
{
    S3Request rq = {.method = "GET", .query = query};
    int rc = s3_http_exec(d->http, &rq, rs, err);
    if (rc == 0 && rs->status != 200)
        rc = s3_status_fail(d, what, name, rs, err);
    return rc;
}

/* One ListObjectsV2 page below key_prefix (ending in "/"), as s3_xml_list. */
static int list_page(S3Drv *d, const char *key_prefix, bool delimit, const char *token,
                     unsigned max_keys, S3ListPage *page, PgpErr *err)
{
    char query[4096], mk[16];
    snprintf(mk, sizeof mk, "%u", max_keys);
    S3Param p[6] = {{"list-type", "2"}, {"prefix", key_prefix}, {"encoding-type", "url"},
                    {"max-keys", mk}};
    size_t n = 4;
    if (delimit)
        p[n++] = (S3Param){"delimiter", "/"};
    if (token != NULL)
        p[n++] = (S3Param){"continuation-token", token};
    if (s3_url_query(p, n, query, sizeof query) >= sizeof query)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "S3 listing query too long for \"%.64s\"",
                        key_prefix);
    S3Response rs;
    int rc = bucket_get(d, query, "list", key_prefix, &rs, err);
    if (rc == 0)
        rc = s3_xml_list(rs.body != NULL ? rs.body : "", rs.body_len, true, page, err);
    if (rc != 0)
        pgp_err_context(err, "cannot list S3 prefix \"%s\"", key_prefix);
    s3_response_free(&rs);
    return rc;
}

/* Hands the entries of one page to fn, names relative to key_prefix. tree: names may hold
 * '/' (a listing without delimiter); folder markers ("x/") are skipped. */
static int list_emit(const S3ListPage *page, size_t skip, bool tree, StorageListFn fn, void *ud,
                     PgpErr *err)
{
    for (size_t i = 0; i < page->n; i++) {
        const S3ListEntry *e = &page->v[i];
        if (strlen(e->key) <= skip)
            continue;                           /* "dir/" itself: a folder marker */
        char name[STORAGE_PATH_MAX + 2];
        snprintf(name, sizeof name, "%s", e->key + skip);
        size_t n = strlen(name);
        if (e->is_prefix && n > 0 && name[n - 1] == '/')
            name[--n] = '\0';
        const char *base = strrchr(name, '/');
        if (n == 0 || (base != NULL && (!tree || base[1] == '\0')) ||
            strncmp(base != NULL ? base + 1 : name, TMP_PREFIX, 5) == 0)
            continue;
        StorageInfo info = {.size = e->size, .mtime = e->mtime, .is_dir = e->is_prefix};
        if (info.mtime < 0)
            info.mtime = 0;
        if (info.mtime > STORAGE_MTIME_MAX)
            info.mtime = STORAGE_MTIME_MAX;
        int rc = fn(ud, name, &info, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The keys below dir + "/" whose names begin with name_prefix (may be ""): one level
 * (delimit, as storage_list) or all of them. */
static int list_below(S3Drv *d, const char *dir, const char *name_prefix, bool delimit,
                      StorageListFn fn, void *ud, PgpErr *err)
{
    char key[S3_KEY_MAX];
    int rc = s3_key_of(d, dir, key, err);
    size_t kn = strlen(key);
    if (rc == 0 && kn + 1 + strlen(name_prefix) >= sizeof key)
        rc = PGP_FAIL(err, PGP_ERR_INVALID_NAME, "S3 key too long for \"%.64s\"", dir);
    if (rc != 0)
        return rc;
    key[kn] = '/';
    memcpy(key + kn + 1, name_prefix, strlen(name_prefix) + 1);
    char *token = NULL;
    do {
        S3ListPage page;
        rc = list_page(d, key, delimit, token, 1000, &page, err);
        if (rc != 0)
            break;
        rc = list_emit(&page, kn + 1, !delimit, fn, ud, err);
        free(token);
        token = page.truncated ? page.next_token : NULL;
        page.next_token = NULL;
        s3_xml_list_free(&page);
    } while (rc == 0 && token != NULL);
    free(token);
    return rc;
}

static int s3_list(void *drv, const char *dir, StorageListFn fn, void *ud, PgpErr *err)
{
    return list_below(drv, dir, "", true, fn, ud, err);
}

static int s3_list_prefix(void *drv, const char *dir, const char *prefix, StorageListFn fn,
                          void *ud, PgpErr *err)
{
    return list_below(drv, dir, prefix, true, fn, ud, err);
}

static int s3_list_tree(void *drv, const char *dir, StorageListFn fn, void *ud, PgpErr *err)
{
    return list_below(drv, dir, "", false, fn, ud, err);
}

/* Whether any key lies below key + "/". */
static int has_below(S3Drv *d, const char *key, bool *yes, PgpErr *err)
{
    char below[S3_KEY_MAX + 1];
    snprintf(below, sizeof below, "%s/", key);
    S3ListPage page;
    int rc = list_page(d, below, false, NULL, 1, &page, err);
    if (rc == 0) {
        *yes = page.n > 0;
        s3_xml_list_free(&page);
    }
    return rc;
}

/* ---- stat, remove ---------------------------------------------------------------------------- */

static int s3_stat(void *drv, const char *path, StorageInfo *out, PgpErr *err)
{
    S3Drv *d = drv;
    char key[S3_KEY_MAX];
    S3Response rs;
    memset(&rs, 0, sizeof rs);
    memset(out, 0, sizeof *out);
    int rc = s3_key_of(d, path, key, err);
    if (rc == 0)
        rc = s3_head(d, key, &rs, err);
    if (rc == 0 && rs.status == 200) {
        out->size = rs.length;
        out->mtime = rs.mtime < 0 ? 0 : rs.mtime > STORAGE_MTIME_MAX ? STORAGE_MTIME_MAX
                                                                     : rs.mtime;
    } else if (rc == 0 && rs.status == 404) {
        bool dir = false;
        rc = has_below(d, key, &dir, err);
        if (rc == 0 && dir)
            out->is_dir = true;
        else if (rc == 0)
            rc = PGP_FAIL(err, PGP_ERR_NOT_FOUND, "\"%s\" not found in S3 bucket \"%s\"", key,
                          s3_http_bucket(d->http));
    } else if (rc == 0) {
        rc = s3_status_fail(d, "HEAD", key, &rs, err);
    }
    s3_response_free(&rs);
    return rc;
}

static int s3_remove(void *drv, const char *path, PgpErr *err)
{
    S3Drv *d = drv;
    char key[S3_KEY_MAX];
    S3Response rs;
    memset(&rs, 0, sizeof rs);
    int rc = s3_key_of(d, path, key, err);
    if (rc == 0)
        rc = s3_head(d, key, &rs, err);
    if (rc == 0 && rs.status == 404) {
        bool dir = false;
        rc = has_below(d, key, &dir, err);
        if (rc == 0)
            rc = dir ? PGP_FAIL(err, PGP_ERR_IO, "cannot remove S3 prefix \"%s/\": keys are "
                                "below it", key)
                     : PGP_FAIL(err, PGP_ERR_NOT_FOUND, "\"%s\" not found in S3 bucket \"%s\"",
                                key, s3_http_bucket(d->http));
    } else if (rc == 0 && rs.status != 200) {
        rc = s3_status_fail(d, "HEAD", key, &rs, err);
    } else if (rc == 0) {
        s3_response_free(&rs);
        S3Request rq = {.method = "DELETE", .key = key};
        rc = s3_http_exec(d->http, &rq, &rs, err);
        if (rc == 0 && rs.status != 204 && rs.status != 200)
            rc = s3_status_fail(d, "DELETE", key, &rs, err);
    }
    s3_response_free(&rs);
    return rc;
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct S3Reader {
    StorageReader base;
    S3Stream *s;
} S3Reader;

static int reader_read(StorageReader *r, void *buf, size_t len, size_t *got, PgpErr *err)
{
    return s3_stream_read(((S3Reader *)r)->s, buf, len, got, err);
}

static void reader_close(StorageReader *r)
{
    s3_stream_close(((S3Reader *)r)->s);
    free(r);
}

static int s3_open_read(void *drv, const char *path, StorageReader **out, PgpErr *err)
{
    S3Drv *d = drv;
    char key[S3_KEY_MAX];
    int rc = s3_key_of(d, path, key, err);
    if (rc != 0)
        return rc;
    S3Reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    S3Response rs;
    rc = s3_http_get(d->http, key, &r->s, &rs, err);
    if (rc == 0 && r->s == NULL)   /* 404: NoSuchKey is NOT_FOUND, NoSuchBucket a setting */
        rc = s3_status_fail(d, "GET", key, &rs, err);
    s3_response_free(&rs);
    if (rc != 0) {
        free(r);
        return rc;
    }
    r->base.read = reader_read;
    r->base.close = reader_close;
    *out = &r->base;
    return 0;
}

/* ---- unfinished multipart uploads ------------------------------------------------------------ */

/* The storage path of key, NULL when it is not below the prefix. */
static const char *path_of(const S3Drv *d, const char *key)
{
    size_t pn = strlen(d->prefix);
    if (pn == 0)
        return key;
    return strncmp(key, d->prefix, pn) == 0 && key[pn] == '/' ? key + pn + 1 : NULL;
}

static int uploads_page(S3Drv *d, const char *key_marker, const char *id_marker,
                        S3UploadPage *pg, PgpErr *err)
{
    char query[4096], prefix[S3_KEY_MAX + 1];
    snprintf(prefix, sizeof prefix, "%s%s", d->prefix, d->prefix[0] ? "/" : "");
    S3Param p[4] = {{"uploads", NULL}, {"prefix", prefix}};
    size_t n = 2;
    if (key_marker != NULL)
        p[n++] = (S3Param){"key-marker", key_marker};
    if (id_marker != NULL)
        p[n++] = (S3Param){"upload-id-marker", id_marker};
    if (s3_url_query(p, n, query, sizeof query) >= sizeof query)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "S3 uploads query too long");
    S3Response rs;
    int rc = bucket_get(d, query, "list uploads", prefix, &rs, err);
    if (rc == 0)
        rc = s3_xml_uploads(rs.body != NULL ? rs.body : "", rs.body_len, pg, err);
    s3_response_free(&rs);
    return rc;
}

static int s3_list_uploads(void *drv, StorageUploadFn fn, void *ud, PgpErr *err)
{
    S3Drv *d = drv;
    char *key_marker = NULL, *id_marker = NULL;
    int rc;
    do {
        S3UploadPage pg = {0};
        rc = uploads_page(d, key_marker, id_marker, &pg, err);
        for (size_t i = 0; rc == 0 && i < pg.n; i++) {
            const char *path = path_of(d, pg.v[i].key);
            if (path != NULL && storage_path_valid(path))
                rc = fn(ud, path, pg.v[i].upload_id, pg.v[i].initiated, err);
        }
        free(key_marker);
        free(id_marker);
        key_marker = id_marker = NULL;
        if (rc == 0 && pg.truncated) {
            key_marker = pg.next_key;
            id_marker = pg.next_id;
            pg.next_key = pg.next_id = NULL;
        }
        s3_xml_uploads_free(&pg);
    } while (rc == 0 && key_marker != NULL);
    free(key_marker);
    free(id_marker);
    return rc;
}

static int s3_abort_upload(void *drv, const char *path, const char *upload_id, PgpErr *err)
{
    S3Drv *d = drv;
    char key[S3_KEY_MAX], query[1200];
    int rc = s3_key_of(d, path, key, err);
    S3Param p = {"uploadId", upload_id};
    if (rc == 0 && s3_url_query(&p, 1, query, sizeof query) >= sizeof query)
        rc = PGP_FAIL(err, PGP_ERR_INVALID_NAME, "S3 upload id too long");
    if (rc != 0)
        return rc;
    S3Request rq = {.method = "DELETE", .key = key, .query = query};
    S3Response rs;
    rc = s3_http_exec(d->http, &rq, &rs, err);
    if (rc == 0 && rs.status != 204 && rs.status != 200)
        rc = s3_status_fail(d, "DELETE (AbortMultipartUpload)", key, &rs, err);
    s3_response_free(&rs);
    return rc;
}

/* ---- the driver ----------------------------------------------------------------------------- */

static void s3_free(void *drv)
{
    S3Drv *d = drv;
    if (d == NULL)
        return;
    s3_http_free(d->http);
    free(d->prefix);
    free(d->sse);
    free(d->kms_key_id);
    free(d->storage_class);
    free(d);
}

static const StorageDriver s3_vtable = {
    .name = "s3",
    .features = 0,                  /* no directories, no fsync: see the header comment */
    .stat = s3_stat,
    .list = s3_list,
    .open_read = s3_open_read,
    .open_write = s3_open_write,
    .remove = s3_remove,
    .free = s3_free,
    .list_uploads = s3_list_uploads,
    .list_tree = s3_list_tree,
    .list_prefix = s3_list_prefix,
    .abort_upload = s3_abort_upload,
    .remove_objects = s3_remove_objects,
};

static char *dup_or_null(const char *s, bool *ok)
{
    if (s == NULL || s[0] == '\0')
        return NULL;
    char *c = strdup(s);
    *ok = *ok && c != NULL;
    return c;
}

int storage_s3_new(const char *bucket, const char *prefix, const StorageS3Config *cfg,
                   Storage **out, PgpErr *err)
{
    *out = NULL;
    S3HttpConfig hc = {.path_style = cfg->path_style, .bucket = bucket,
                       .region = cfg->region ? cfg->region : "us-east-1", .key = cfg->key,
                       .secret = cfg->secret, .token = cfg->token, .ca_file = cfg->ca_file,
                       .ca_path = cfg->ca_path, .no_verify_tls = cfg->no_verify_tls,
                       .timeout_s = cfg->io_timeout_s ? cfg->io_timeout_s : 60};
    char where[300];
    if (cfg->endpoint != NULL)
        snprintf(where, sizeof where, "%s", cfg->endpoint);
    else
        snprintf(where, sizeof where, "https://s3.%s.amazonaws.com", hc.region);
    if (cfg->key == NULL || cfg->secret == NULL) {
        PGP_FAIL(err, PGP_ERR_CONFIG, "no S3 credentials for bucket \"%s\"", bucket);
        pgp_err_hint(err, "set s3-key and s3-key-secret (PGPITR_S3_KEY, PGPITR_S3_KEY_SECRET), "
                     "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in the shared "
                     "credentials file (docs/s3.md)");
        return PGP_ERR_CONFIG;
    }
    int rc = s3_url_parse_endpoint(where, &hc.ep, err);
    if (rc != 0)
        return rc;
    S3Drv *d = calloc(1, sizeof *d);
    if (d == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    bool ok = true;
    d->prefix = strdup(prefix);
    ok = d->prefix != NULL;
    d->sse = dup_or_null(cfg->sse, &ok);
    d->kms_key_id = dup_or_null(cfg->kms_key_id, &ok);
    d->storage_class = dup_or_null(cfg->storage_class, &ok);
    d->part_size = cfg->part_size ? cfg->part_size : STORAGE_S3_PART_DEFAULT;
    if (!ok)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = s3_http_new(&hc, &d->http, err);
    if (rc != 0) {
        s3_free(d);
        return rc;
    }
    if ((*out = storage_new(&s3_vtable, d)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    return 0;
}
