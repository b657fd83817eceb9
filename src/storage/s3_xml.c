/*
 * s3_xml.c - S3's XML answers read with libexpat (s3_xml.h). One walker keeps the path of
 * the open elements and the text of the innermost; each document type is a handler of
 * "element closed at path with text". Entries are gathered and handed out only after the
 * whole document parsed: a truncated listing never yields half a page.
 * Hostile input: a DOCTYPE (entity expansion) stops the parse; text is bounded.
 */
#include "pgpitr/storage/s3_xml.h"

#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/storage/s3_url.h"

#define PATH_MAX_XML 256
#define TEXT_MAX 8192           /* a key is <= 1024 bytes, x3 url-encoded */

typedef struct Walk Walk;
typedef int (*EndFn)(Walk *w, const char *path, const char *text);

struct Walk {
    XML_Parser p;
    char path[PATH_MAX_XML];
    size_t path_len;
    char text[TEXT_MAX + 1];
    size_t text_len;
    bool overflow;
    const char *want_root;      /* the root element asked for; "Error" is also accepted */
    bool is_error;
    S3XmlError doc_err;
    EndFn on_end;
    void *ud;
    int rc;                     /* a handler's failure: stops the parse */
    const char *what;           /* "listing" for messages */
    PgpErr *err;
};

static void stop(Walk *w, int rc)
{
    if (w->rc == 0)
        w->rc = rc;
    XML_StopParser(w->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    Walk *w = ud;
    const char *local = strrchr(name, ':');    /* "s3:Key" -> "Key" */
    local = local != NULL ? local + 1 : name;
    if (w->path_len == 0) {
        w->is_error = strcmp(local, "Error") == 0;
        if (!w->is_error && strcmp(local, w->want_root) != 0) {
            stop(w, PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 %s: root element <%s>, "
                             "expected <%s>", w->what, local, w->want_root));
            return;
        }
    }
    size_t n = strlen(local);
    if (w->path_len + n + 2 > sizeof w->path) {
        stop(w, PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 %s: nested too deep", w->what));
        return;
    }
    if (w->path_len > 0)
        w->path[w->path_len++] = '/';
    memcpy(w->path + w->path_len, local, n + 1);
    w->path_len += n;
    w->text_len = 0;
    w->overflow = false;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    Walk *w = ud;
    if (w->text_len + (size_t)len > TEXT_MAX) {
        w->overflow = true;
        return;
    }
    memcpy(w->text + w->text_len, s, (size_t)len);
    w->text_len += (size_t)len;
}

static void copy_cut(char *out, size_t size, const char *s)
{
    size_t n = strnlen(s, size - 1);   /* cut to fit: an error's code and message */
    memcpy(out, s, n);
    out[n] = '\0';
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    Walk *w = ud;
    w->text[w->text_len] = '\0';
    if (w->overflow) {
        stop(w, PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 %s: text of <%s> too long",
                         w->what, w->path));
        return;
    }
    int rc = 0;
    if (w->is_error) {
        if (strcmp(w->path, "Error/Code") == 0)
            copy_cut(w->doc_err.code, sizeof w->doc_err.code, w->text);
        else if (strcmp(w->path, "Error/Message") == 0)
            copy_cut(w->doc_err.message, sizeof w->doc_err.message, w->text);
    } else if (w->on_end != NULL) {
        rc = w->on_end(w, w->path, w->text);
    }
    if (rc != 0) {
        stop(w, rc);
        return;
    }
    char *slash = strrchr(w->path, '/');
    w->path_len = slash != NULL ? (size_t)(slash - w->path) : 0;
    w->path[w->path_len] = '\0';
    w->text_len = 0;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal;
    Walk *w = ud;
    stop(w, PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 %s: DOCTYPE refused", w->what));
}

/* Parses xml with w's handlers; 0 when the whole document parsed. */
static int walk(Walk *w, const char *xml, size_t len)
{
    w->p = XML_ParserCreate("UTF-8");
    if (w->p == NULL)
        return PGP_FAIL(w->err, PGP_ERR_NOMEM, "out of memory parsing an S3 %s", w->what);
    XML_SetUserData(w->p, w);
    XML_SetElementHandler(w->p, on_start, on_end);
    XML_SetCharacterDataHandler(w->p, on_text);
    XML_SetStartDoctypeDeclHandler(w->p, on_doctype);
    int rc = 0;
    if (len > (size_t)INT32_MAX) {
        rc = PGP_FAIL(w->err, PGP_ERR_CORRUPT, "S3 %s too large", w->what);
    } else if (XML_Parse(w->p, xml, (int)len, XML_TRUE) != XML_STATUS_OK) {
        rc = w->rc != 0 ? w->rc
                        : PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 %s: %s at line %lu",
                                   w->what, XML_ErrorString(XML_GetErrorCode(w->p)),
                                   (unsigned long)XML_GetCurrentLineNumber(w->p));
    } else if (w->rc != 0) {
        rc = w->rc;
    }
    XML_ParserFree(w->p);
    w->p = NULL;
    return rc;
}

bool s3_xml_time(const char *text, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int used = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 || used != 19)
        return false;
    const char *rest = text + used;
    if (*rest == '.')
        rest += 1 + strspn(rest + 1, "0123456789");
    if (strcmp(rest, "Z") != 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return *s == '\0';
}

/* ---- listings ------------------------------------------------------------------------------ */

typedef struct ListState {
    S3ListPage *page;
    bool url_encoded;
    S3ListEntry cur;            /* the <Contents> being read */
} ListState;

static int list_push(Walk *w, ListState *st, const char *key, bool is_prefix)
{
    S3ListPage *pg = st->page;
    if (pg->n == pg->cap) {
        size_t cap = pg->cap ? pg->cap * 2 : 64;
        S3ListEntry *v = realloc(pg->v, cap * sizeof *v);
        if (v == NULL)
            return PGP_FAIL(w->err, PGP_ERR_NOMEM, "out of memory reading an S3 listing");
        pg->v = v;
        pg->cap = cap;
    }
    S3ListEntry e = st->cur;
    e.is_prefix = is_prefix;
    if ((e.key = strdup(key)) == NULL)
        return PGP_FAIL(w->err, PGP_ERR_NOMEM, "out of memory reading an S3 listing");
    if (st->url_encoded && !s3_url_decode(e.key)) {
        free(e.key);
        return PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 listing: bad escape in key "
                        "\"%.64s\"", key);
    }
    pg->v[pg->n++] = e;
    memset(&st->cur, 0, sizeof st->cur);
    return 0;
}

static int list_end(Walk *w, const char *path, const char *text)
{
    ListState *st = w->ud;
    if (strcmp(path, "ListBucketResult/Contents/Key") == 0) {
        free(st->cur.key);
        if ((st->cur.key = strdup(text)) == NULL)
            return PGP_FAIL(w->err, PGP_ERR_NOMEM, "out of memory reading an S3 listing");
    } else if (strcmp(path, "ListBucketResult/Contents/Size") == 0) {
        if (!parse_u64(text, &st->cur.size))
            return PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 listing: size \"%.32s\"",
                            text);
    } else if (strcmp(path, "ListBucketResult/Contents/LastModified") == 0) {
        if (!s3_xml_time(text, &st->cur.mtime))
            return PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 listing: time \"%.40s\"",
                            text);
    } else if (strcmp(path, "ListBucketResult/Contents") == 0) {
        if (st->cur.key == NULL)
            return PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 listing: entry without Key");
        char *key = st->cur.key;
        st->cur.key = NULL;
        int rc = list_push(w, st, key, false);
        free(key);
        return rc;
    } else if (strcmp(path, "ListBucketResult/CommonPrefixes/Prefix") == 0) {
        S3ListEntry keep = st->cur;
        memset(&st->cur, 0, sizeof st->cur);
        int rc = list_push(w, st, text, true);
        st->cur = keep;
        return rc;
    } else if (strcmp(path, "ListBucketResult/IsTruncated") == 0) {
        st->page->truncated = strcmp(text, "true") == 0;
    } else if (strcmp(path, "ListBucketResult/NextContinuationToken") == 0) {
        free(st->page->next_token);
        if ((st->page->next_token = strdup(text)) == NULL)
            return PGP_FAIL(w->err, PGP_ERR_NOMEM, "out of memory reading an S3 listing");
    }
    return 0;
}

void s3_xml_list_free(S3ListPage *page)
{
    for (size_t i = 0; i < page->n; i++)
        free(page->v[i].key);
    free(page->v);
    free(page->next_token);
    memset(page, 0, sizeof *page);
}

int s3_xml_list(const char *xml, size_t len, bool url_encoded, S3ListPage *page, PgpErr *err)
{
    memset(page, 0, sizeof *page);
    ListState st = {.page = page, .url_encoded = url_encoded};
    Walk w = {.want_root = "ListBucketResult", .on_end = list_end, .ud = &st,
              .what = "listing", .err = err};
    int rc = walk(&w, xml, len);
    free(st.cur.key);
    if (rc == 0 && w.is_error)
        rc = PGP_FAIL(err, PGP_ERR_IO, "S3 listing failed: %s: %s", w.doc_err.code,
                      w.doc_err.message);
    if (rc == 0 && page->truncated && (page->next_token == NULL || page->next_token[0] == 0))
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "malformed S3 listing: truncated without a "
                      "continuation token");
    if (rc != 0)
        s3_xml_list_free(page);
    return rc;
}

/* ---- errors and single values -------------------------------------------------------------- */

bool s3_xml_error(const char *xml, size_t len, S3XmlError *out)
{
    memset(out, 0, sizeof *out);
    if (xml == NULL || len == 0)
        return false;
    PgpErr ignore;
    Walk w = {.want_root = "Error", .what = "error", .err = &ignore};
    if (walk(&w, xml, len) != 0 || !w.is_error)
        return false;
    *out = w.doc_err;
    return true;
}

typedef struct ValueState {
    const char *path;
    char *out;
    size_t size;
    bool found;
} ValueState;

static int value_end(Walk *w, const char *path, const char *text)
{
    ValueState *st = w->ud;
    if (strcmp(path, st->path) != 0)
        return 0;
    if (strlen(text) >= st->size)
        return PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 answer: <%s> too long", path);
    memcpy(st->out, text, strlen(text) + 1);
    st->found = true;
    return 0;
}

int s3_xml_value(const char *xml, size_t len, const char *root, const char *elem, char *out,
                 size_t size, S3XmlError *err_doc, PgpErr *err)
{
    char path[PATH_MAX_XML];
    snprintf(path, sizeof path, "%s/%s", root, elem);
    ValueState st = {.path = path, .out = out, .size = size};
    Walk w = {.want_root = root, .on_end = value_end, .ud = &st, .what = "answer", .err = err};
    if (size > 0)
        out[0] = '\0';
    int rc = walk(&w, xml, len);
    if (rc == 0 && w.is_error) {
        if (err_doc != NULL)
            *err_doc = w.doc_err;
        return PGP_FAIL(err, PGP_ERR_IO, "S3 answered %s: %s", w.doc_err.code,
                        w.doc_err.message);
    }
    if (rc == 0 && !st.found)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "malformed S3 answer: no <%s>", path);
    return rc;
}

/* ---- unfinished multipart uploads ------------------------------------------------------------ */

typedef struct UploadsState {
    S3UploadPage *pg;
    size_t cap;
    S3Upload cur;
} UploadsState;

static int set_str(Walk *w, char **dst, const char *text)
{
    free(*dst);
    if ((*dst = strdup(text)) == NULL)
        return PGP_FAIL(w->err, PGP_ERR_NOMEM, "out of memory reading S3 uploads");
    return 0;
}

static int uploads_end(Walk *w, const char *path, const char *text)
{
    UploadsState *st = w->ud;
    S3UploadPage *pg = st->pg;
    if (strcmp(path, "ListMultipartUploadsResult/Upload/Key") == 0)
        return set_str(w, &st->cur.key, text);
    if (strcmp(path, "ListMultipartUploadsResult/Upload/UploadId") == 0)
        return set_str(w, &st->cur.upload_id, text);
    if (strcmp(path, "ListMultipartUploadsResult/Upload/Initiated") == 0 &&
        !s3_xml_time(text, &st->cur.initiated))
        return PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 uploads: time \"%.40s\"", text);
    if (strcmp(path, "ListMultipartUploadsResult/IsTruncated") == 0)
        pg->truncated = strcmp(text, "true") == 0;
    if (strcmp(path, "ListMultipartUploadsResult/NextKeyMarker") == 0 && text[0] != '\0')
        return set_str(w, &pg->next_key, text);
    if (strcmp(path, "ListMultipartUploadsResult/NextUploadIdMarker") == 0 && text[0] != '\0')
        return set_str(w, &pg->next_id, text);
    if (strcmp(path, "ListMultipartUploadsResult/Upload") != 0)
        return 0;
    if (st->cur.key == NULL || st->cur.upload_id == NULL)
        return PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 uploads: entry without Key or "
                        "UploadId");
    if (pg->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        S3Upload *v = realloc(pg->v, cap * sizeof *v);
        if (v == NULL)
            return PGP_FAIL(w->err, PGP_ERR_NOMEM, "out of memory reading S3 uploads");
        pg->v = v;
        st->cap = cap;
    }
    pg->v[pg->n++] = st->cur;
    memset(&st->cur, 0, sizeof st->cur);
    return 0;
}

void s3_xml_uploads_free(S3UploadPage *page)
{
    for (size_t i = 0; i < page->n; i++) {
        free(page->v[i].key);
        free(page->v[i].upload_id);
    }
    free(page->v);
    free(page->next_key);
    free(page->next_id);
    memset(page, 0, sizeof *page);
}

int s3_xml_uploads(const char *xml, size_t len, S3UploadPage *page, PgpErr *err)
{
    memset(page, 0, sizeof *page);
    UploadsState st = {.pg = page};
    Walk w = {.want_root = "ListMultipartUploadsResult", .on_end = uploads_end, .ud = &st,
              .what = "uploads listing", .err = err};
    int rc = walk(&w, xml, len);
    free(st.cur.key);
    free(st.cur.upload_id);
    if (rc == 0 && w.is_error)
        rc = PGP_FAIL(err, PGP_ERR_IO, "S3 uploads listing failed: %s: %s", w.doc_err.code,
                      w.doc_err.message);
    if (rc == 0 && page->truncated && page->next_key == NULL)
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "malformed S3 uploads: truncated without a "
                      "NextKeyMarker");
    if (rc != 0)
        s3_xml_uploads_free(page);
    return rc;
}

/* ---- DeleteObjects ---------------------------------------------------------------------------- */

typedef struct DeleteState {
    S3DeleteResult *out;
    char key[sizeof ((S3DeleteResult *)0)->key];
    S3XmlError cur;
} DeleteState;

static int delete_end(Walk *w, const char *path, const char *text)
{
    DeleteState *st = w->ud;
    if (strcmp(path, "DeleteResult/Error/Key") == 0)
        copy_cut(st->key, sizeof st->key, text);
    else if (strcmp(path, "DeleteResult/Error/Code") == 0)
        copy_cut(st->cur.code, sizeof st->cur.code, text);
    else if (strcmp(path, "DeleteResult/Error/Message") == 0)
        copy_cut(st->cur.message, sizeof st->cur.message, text);
    else if (strcmp(path, "DeleteResult/Error") == 0) {
        if (st->key[0] == '\0' || st->cur.code[0] == '\0')
            return PGP_FAIL(w->err, PGP_ERR_CORRUPT, "malformed S3 delete result: an error "
                            "without Key or Code");
        if (strcmp(st->cur.code, "NoSuchKey") != 0 && st->out->n_failed++ == 0) {
            memcpy(st->out->key, st->key, sizeof st->key);
            st->out->first = st->cur;
        }
        st->key[0] = '\0';
        memset(&st->cur, 0, sizeof st->cur);
    }
    return 0;
}

int s3_xml_delete_result(const char *xml, size_t len, S3DeleteResult *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    DeleteState st = {.out = out};
    Walk w = {.want_root = "DeleteResult", .on_end = delete_end, .ud = &st,
              .what = "delete result", .err = err};
    int rc = walk(&w, xml, len);
    if (rc == 0 && w.is_error)
        rc = PGP_FAIL(err, PGP_ERR_IO, "S3 delete failed: %s: %s", w.doc_err.code,
                      w.doc_err.message);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}
