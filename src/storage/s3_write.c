/*
 * s3_write.c - writers of the S3 driver. Nothing is visible under the final key before
 * commit, and what commit publishes is whole:
 *   - up to one part (s3-part-size) is held in memory and published with one PUT;
 *   - beyond, a multipart upload under the final key: parts go up as the buffer fills
 *     (memory: one part per writer), CompleteMultipartUpload only at commit, an abort (or any
 *     failure) aborts the upload; an upload left by a killed process is never an object;
 *   - opened with STORAGE_WRITE_NAME_AT_COMMIT (archived WAL, named by its checksum at the
 *     end), the bytes beyond one part go to an unlinked local temporary file instead: S3
 *     cannot rename, and an upload is bound to its key from its first request. A WAL segment
 *     is 16 MiB by default, so with the default part size it is one PUT from memory.
 * Without STORAGE_WRITE_REPLACE the publishing request carries "If-None-Match: *": an
 * existing object is never replaced (412 -> PGP_ERR_CONFLICT).
 * An unknown outcome (the answer to the publishing request was lost) is resolved by HEAD:
 * the object counts as ours when its size and ETag are those of what was sent (MD5, or the
 * multipart "MD5 of the part MD5s-N"); otherwise the write fails. Under SSE-KMS the ETag is
 * no MD5, so such a write fails and the caller's retry finds the object (docs/s3.md).
 */
#include "s3_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pgpitr/storage/s3_url.h"
#include "pgpitr/storage/s3_xml.h"

typedef struct S3Writer {
    StorageWriter base;
    S3Drv *d;
    char key[S3_KEY_MAX];
    unsigned flags;
    unsigned char *buf;         /* one part (part_alloc) */
    size_t len;
    uint64_t total;
    FILE *spill;                /* NAME_AT_COMMIT beyond one part */
    char upload_id[512];        /* a multipart upload begun; "" none */
    unsigned char (*md5)[16];   /* of each part sent */
    size_t parts, cap;
    bool failed;
} S3Writer;

#define PARTS_MAX 10000         /* S3's limit */

/* The headers of a request that creates an object: encryption, class, no-replace. */
static size_t create_headers(const S3Writer *w, bool publish, const char *hdr[8],
                             char bufs[3][320])
{
    size_t n = 0;
    const S3Drv *d = w->d;
    if (!publish) {
        if (d->sse != NULL) {
            snprintf(bufs[0], sizeof bufs[0], "x-amz-server-side-encryption: %s", d->sse);
            hdr[n++] = bufs[0];
        }
        if (d->kms_key_id != NULL) {
            snprintf(bufs[1], sizeof bufs[1], "x-amz-server-side-encryption-aws-kms-key-id: %s",
                     d->kms_key_id);
            hdr[n++] = bufs[1];
        }
        if (d->storage_class != NULL) {
            snprintf(bufs[2], sizeof bufs[2], "x-amz-storage-class: %s", d->storage_class);
            hdr[n++] = bufs[2];
        }
    }
    if (publish && !(w->flags & STORAGE_WRITE_REPLACE))
        hdr[n++] = "If-None-Match: *";
    hdr[n] = NULL;
    return n;
}

static void hex_of(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Whether the store holds what this writer sent (HEAD: size and ETag). */
static bool stored_is_ours(S3Writer *w, const char *etag)
{
    S3Response rs;
    PgpErr ignore;
    bool ours = s3_head(w->d, w->key, &rs, &ignore) == 0 && rs.status == 200 &&
                rs.length == w->total && strcasecmp(rs.etag, etag) == 0;
    s3_response_free(&rs);
    return ours;
}

static int conflict(S3Writer *w, PgpErr *err)
{
    PGP_FAIL(err, PGP_ERR_CONFLICT, "S3 object \"%s\" already exists in bucket \"%s\"", w->key,
             s3_http_bucket(w->d->http));
    return PGP_ERR_CONFLICT;
}

/* Settles the publishing request's answer: 200 (or a lost answer whose object is ours) is
 * success, 412 a conflict unless an earlier attempt of ours is what is there. */
static int settle(S3Writer *w, const char *method, int rc, const S3Response *rs,
                  const char *etag, PgpErr *err)
{
    if (rc == 0 && rs->status == 200)
        return 0;
    if ((rc != 0 || rs->status != 200) && rs->maybe_stored && stored_is_ours(w, etag))
        return 0;                               /* a lost answer: the object is ours */
    if (rc != 0)
        return rc;
    if (rs->status == 412)
        return conflict(w, err);
    return s3_status_fail(w->d, method, w->key, rs, err);
}

static int put_single(S3Writer *w, PgpErr *err)
{
    unsigned char md5[16];
    char b64[32], md5hdr[64], etag[40], bufs[3][320];
    const char *hdr[8];
    int rc = s3_http_md5(w->buf, w->len, md5, err);
    if (rc != 0)
        return rc;
    s3_http_base64(md5, 16, b64, sizeof b64);
    snprintf(md5hdr, sizeof md5hdr, "Content-MD5: %s", b64);
    size_t n = create_headers(w, false, hdr, bufs);
    n += create_headers(w, true, hdr + n, bufs);
    hdr[n++] = md5hdr;
    hdr[n] = NULL;
    etag[0] = '"';
    hex_of(md5, 16, etag + 1);
    memcpy(etag + 33, "\"", 2);
    S3Request rq = {.method = "PUT", .key = w->key, .headers = hdr, .body = w->buf,
                    .body_len = w->len};
    S3Response rs;
    rc = s3_http_exec(w->d->http, &rq, &rs, err);
    rc = settle(w, "PUT", rc, &rs, etag, err);
    s3_response_free(&rs);
    return rc;
}

static int upload_begin(S3Writer *w, PgpErr *err)
{
    char bufs[3][320];
    const char *hdr[8];
    create_headers(w, false, hdr, bufs);
    S3Param p = {"uploads", NULL};
    char query[16];
    s3_url_query(&p, 1, query, sizeof query);
    S3Request rq = {.method = "POST", .key = w->key, .query = query, .headers = hdr};
    S3Response rs;
    int rc = s3_http_exec(w->d->http, &rq, &rs, err);
    if (rc == 0 && rs.status != 200)
        rc = s3_status_fail(w->d, "POST (CreateMultipartUpload)", w->key, &rs, err);
    if (rc == 0)
        rc = s3_xml_value(rs.body ? rs.body : "", rs.body_len, "InitiateMultipartUploadResult",
                          "UploadId", w->upload_id, sizeof w->upload_id, NULL, err);
    s3_response_free(&rs);
    return rc;
}

static int upload_part(S3Writer *w, const unsigned char *data, size_t len, PgpErr *err)
{
    if (w->parts == PARTS_MAX)
        return PGP_FAIL(err, PGP_ERR_IO, "S3 object \"%s\" needs more than %d parts: raise "
                        "s3-part-size", w->key, PARTS_MAX);
    if (w->parts == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        unsigned char (*m)[16] = realloc(w->md5, cap * sizeof *m);
        if (m == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        w->md5 = m;
        w->cap = cap;
    }
    int rc = s3_http_md5(data, len, w->md5[w->parts], err);
    char b64[32], md5hdr[64], num[16], query[700];
    s3_http_base64(w->md5[w->parts], 16, b64, sizeof b64);
    snprintf(md5hdr, sizeof md5hdr, "Content-MD5: %s", b64);
    snprintf(num, sizeof num, "%zu", w->parts + 1);
    S3Param p[2] = {{"partNumber", num}, {"uploadId", w->upload_id}};
    s3_url_query(p, 2, query, sizeof query);
    const char *hdr[] = {md5hdr, NULL};
    S3Request rq = {.method = "PUT", .key = w->key, .query = query, .headers = hdr,
                    .body = data, .body_len = len};
    S3Response rs;
    memset(&rs, 0, sizeof rs);
    if (rc == 0)
        rc = s3_http_exec(w->d->http, &rq, &rs, err);
    if (rc == 0 && rs.status != 200)
        rc = s3_status_fail(w->d, "PUT (UploadPart)", w->key, &rs, err);
    s3_response_free(&rs);
    if (rc == 0)
        w->parts++;
    return rc;
}

/* The body of CompleteMultipartUpload and the ETag the object will have. */
static int complete_body(S3Writer *w, char **body, size_t *len, char etag[64], PgpErr *err)
{
    size_t cap = 128 + w->parts * 96;
    char *b = malloc(cap);
    unsigned char *cat = malloc(w->parts * 16 + 1), all[16];
    int rc = b == NULL || cat == NULL ? PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory") : 0;
    size_t used = 0;
    if (rc == 0)
        used = (size_t)snprintf(b, cap, "<CompleteMultipartUpload>");
    for (size_t i = 0; rc == 0 && i < w->parts; i++) {
        char hex[33];
        hex_of(w->md5[i], 16, hex);
        used += (size_t)snprintf(b + used, cap - used, "<Part><PartNumber>%zu</PartNumber>"
                                 "<ETag>\"%s\"</ETag></Part>", i + 1, hex);
        memcpy(cat + 16 * i, w->md5[i], 16);
    }
    if (rc == 0) {
        used += (size_t)snprintf(b + used, cap - used, "</CompleteMultipartUpload>");
        rc = s3_http_md5(cat, w->parts * 16, all, err);
    }
    if (rc == 0) {
        etag[0] = '"';
        hex_of(all, 16, etag + 1);
        snprintf(etag + 33, 31, "-%zu\"", w->parts);
        *body = b;
        *len = used;
        b = NULL;
    }
    free(b);
    free(cat);
    return rc;
}

static int upload_complete(S3Writer *w, PgpErr *err)
{
    char *body = NULL, etag[64], bufs[3][320], query[600];
    size_t len = 0;
    const char *hdr[8];
    create_headers(w, true, hdr, bufs);
    S3Param p = {"uploadId", w->upload_id};
    s3_url_query(&p, 1, query, sizeof query);
    int rc = complete_body(w, &body, &len, etag, err);
    if (rc != 0)
        return rc;
    const char *with_type[10];
    size_t n = 0;
    while (hdr[n] != NULL)
        with_type[n] = hdr[n], n++;
    with_type[n++] = "Content-Type: application/xml";
    with_type[n] = NULL;
    S3Request rq = {.method = "POST", .key = w->key, .query = query, .headers = with_type,
                    .body = body, .body_len = len};
    S3Response rs;
    rc = s3_http_exec(w->d->http, &rq, &rs, err);
    if (rc == 0 && rs.status == 200) {   /* 200 may still carry an <Error> (S3 documents it) */
        char got[S3_ETAG_MAX];
        S3XmlError x;
        if (s3_xml_value(rs.body ? rs.body : "", rs.body_len, "CompleteMultipartUploadResult",
                         "ETag", got, sizeof got, &x, err) != 0) {
            rs.status = 500;
            rs.maybe_stored = true;
        }
    }
    rc = settle(w, "POST (CompleteMultipartUpload)", rc, &rs, etag, err);
    s3_response_free(&rs);
    free(body);
    if (rc == 0)
        w->upload_id[0] = '\0';                 /* done: nothing to abort */
    return rc;
}

static void upload_abort(S3Writer *w)
{
    if (w->upload_id[0] == '\0')
        return;
    char query[600];
    S3Param p = {"uploadId", w->upload_id};
    s3_url_query(&p, 1, query, sizeof query);
    S3Request rq = {.method = "DELETE", .key = w->key, .query = query};
    S3Response rs;
    PgpErr ignore;
    s3_http_exec(w->d->http, &rq, &rs, &ignore);   /* else expire aborts it later */
    s3_response_free(&rs);
    w->upload_id[0] = '\0';
}

/* An unnamed temporary file in $TMPDIR (else /tmp), as the rest of pgpitr places its
 * temporary files: tmpfile() would always use /tmp, which may be small or a tmpfs in RAM. */
static FILE *spill_open(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    if (dir == NULL || dir[0] == '\0')
        dir = "/tmp";
    if ((size_t)snprintf(path, sizeof path, "%s/pgpitr-s3-spill.XXXXXX", dir) >= sizeof path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return NULL;
    unlink(path);   /* nothing to clean up, whatever happens to this process */
    FILE *f = fdopen(fd, "w+");
    if (f == NULL) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return f;
}

/* The full buffer goes out: to the spill file or as the next part. */
static int flush_part(S3Writer *w, PgpErr *err)
{
    int rc = 0;
    if (w->flags & STORAGE_WRITE_NAME_AT_COMMIT) {
        if (w->spill == NULL && (w->spill = spill_open()) == NULL)
            return PGP_FAIL_SYS(err, errno, "cannot create a temporary file in $TMPDIR for "
                                "S3 object \"%s\"", w->key);
        if (fwrite(w->buf, 1, w->len, w->spill) != w->len)
            return PGP_FAIL_SYS(err, errno ? errno : ENOSPC, "cannot write the temporary file "
                                "of S3 object \"%s\"", w->key);
    } else {
        if (w->upload_id[0] == '\0')
            rc = upload_begin(w, err);
        if (rc == 0)
            rc = upload_part(w, w->buf, w->len, err);
    }
    if (rc == 0)
        w->len = 0;
    return rc;
}

static int writer_write(StorageWriter *base, const void *buf, size_t len, PgpErr *err)
{
    S3Writer *w = (S3Writer *)base;
    if (w->failed)
        return PGP_FAIL(err, PGP_ERR_IO, "write to S3 object \"%s\" after a failure", w->key);
    const unsigned char *p = buf;
    while (len > 0) {
        if (w->len == w->d->part_size) {
            int rc = flush_part(w, err);
            if (rc != 0) {
                w->failed = true;
                return rc;
            }
        }
        size_t n = w->d->part_size - w->len < len ? w->d->part_size - w->len : len;
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        w->total += n;
        p += n;
        len -= n;
    }
    return 0;
}

/* The spill file, then the buffer, as the parts of an upload under the final key. */
static int upload_spilled(S3Writer *w, PgpErr *err)
{
    if (fwrite(w->buf, 1, w->len, w->spill) != w->len || fflush(w->spill) != 0)
        return PGP_FAIL_SYS(err, errno ? errno : ENOSPC, "cannot write the temporary file of "
                            "S3 object \"%s\"", w->key);
    rewind(w->spill);
    int rc = upload_begin(w, err);
    while (rc == 0) {
        size_t n = fread(w->buf, 1, w->d->part_size, w->spill);
        if (n == 0) {
            if (ferror(w->spill))
                rc = PGP_FAIL_SYS(err, errno, "cannot read the temporary file of S3 object "
                                  "\"%s\"", w->key);
            break;
        }
        rc = upload_part(w, w->buf, n, err);
    }
    w->len = 0;
    return rc;
}

/* A part buffer is mapped, not malloc'ed: the pages a writer touched go back to the system
 * when it ends. From the heap, glibc raises its mmap threshold once a 16 MiB block was freed
 * and later parts come from arenas it seldom trims: a backup's thousands of writers over
 * several threads then kept a freed part resident per arena, and its peak RSS grew past
 * jobs x part size (tests/unit/test_s3_write.c; tests/bench/s3.sh measures it). */
static unsigned char *part_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void writer_free(S3Writer *w)
{
    if (w->spill != NULL)
        fclose(w->spill);
    if (w->buf != NULL)
        munmap(w->buf, w->d->part_size);
    free(w->md5);
    free(w);
}

static int writer_commit(StorageWriter *base, PgpErr *err)
{
    S3Writer *w = (S3Writer *)base;
    int rc = 0;
    if (w->failed)
        rc = PGP_FAIL(err, PGP_ERR_IO, "commit of S3 object \"%s\" after a failed write",
                      w->key);
    else if (w->spill != NULL)
        rc = upload_spilled(w, err);
    else if (w->upload_id[0] == '\0')
        rc = put_single(w, err);
    else if (w->len > 0)
        rc = upload_part(w, w->buf, w->len, err);
    if (rc == 0 && w->upload_id[0] != '\0')
        rc = upload_complete(w, err);
    upload_abort(w);                            /* a failure: the upload never becomes one */
    writer_free(w);
    return rc;
}

static void writer_abort(StorageWriter *base)
{
    S3Writer *w = (S3Writer *)base;
    upload_abort(w);
    writer_free(w);
}

static int writer_set_final_name(StorageWriter *base, const char *name, const char *path,
                                 PgpErr *err)
{
    (void)name;
    S3Writer *w = (S3Writer *)base;
    if (w->upload_id[0] != '\0')
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "S3 object \"%s\" is being uploaded under its "
                        "key and cannot be renamed (open it with STORAGE_WRITE_NAME_AT_COMMIT)",
                        w->key);
    char key[S3_KEY_MAX];
    int rc = s3_key_of(w->d, path, key, err);   /* any key: nothing was sent under the old one */
    if (rc == 0)
        memcpy(w->key, key, strlen(key) + 1);
    return rc;
}

int s3_open_write(void *drv, const char *path, unsigned flags, StorageWriter **out,
                  PgpErr *err)
{
    S3Drv *d = drv;
    S3Writer *w = calloc(1, sizeof *w);
    if (w == NULL || (w->buf = part_alloc(d->part_size)) == NULL) {
        free(w);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for an S3 part of %zu bytes",
                        d->part_size);
    }
    w->d = d;
    w->flags = flags;
    int rc = s3_key_of(d, path, w->key, err);
    if (rc != 0) {
        writer_free(w);
        return rc;
    }
    w->base.write = writer_write;
    w->base.commit = writer_commit;
    w->base.set_final_name = writer_set_final_name;
    w->base.abort = writer_abort;
    *out = &w->base;
    return 0;
}
