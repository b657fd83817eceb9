/*
 * s3_xml.h - the XML answers of S3 read with libexpat (src/storage/s3_xml.c): listings
 * (ListObjectsV2), error documents, multipart answers and the list of unfinished uploads.
 * Pure (no network): unit-tested with well-formed, malformed and truncated documents
 * (test_s3_xml.c). A document that is not exactly what was asked for (another root, a
 * DOCTYPE, a truncation, a number that is not one) is PGP_ERR_CORRUPT "malformed S3 ...".
 */
#ifndef PGPITR_STORAGE_S3_XML_H
#define PGPITR_STORAGE_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

typedef struct S3ListEntry {
    char *key;              /* full key (decoded when the listing was url-encoded) */
    bool is_prefix;         /* a CommonPrefixes entry: key ends with the delimiter */
    uint64_t size;
    int64_t mtime;          /* seconds since the epoch; 0 for a prefix */
} S3ListEntry;

typedef struct S3ListPage {
    S3ListEntry *v;
    size_t n, cap;
    bool truncated;         /* IsTruncated: ask again with next_token */
    char *next_token;       /* NextContinuationToken, NULL when none */
} S3ListPage;

/* One ListBucketResult page into page (emptied first). url_encoded: EncodingType url was
 * asked for, keys and prefixes are percent-decoded. A truncated page without a token is
 * malformed (the listing could never go on). */
int s3_xml_list(const char *xml, size_t len, bool url_encoded, S3ListPage *page, PgpErr *err);
void s3_xml_list_free(S3ListPage *page);

typedef struct S3XmlError {
    char code[64];          /* "NoSuchKey", "SlowDown", ... */
    char message[256];
} S3XmlError;

/* true when xml is an <Error> document (code and message filled, cut to fit); false
 * otherwise (empty body, HEAD, something else): out then holds "". */
bool s3_xml_error(const char *xml, size_t len, S3XmlError *out);

/* The text of element root/elem (e.g. InitiateMultipartUploadResult/UploadId) into out.
 * An <Error> document instead (CompleteMultipartUpload may answer 200 with one) is
 * PGP_ERR_IO naming its code, with *err_doc filled when not NULL. */
int s3_xml_value(const char *xml, size_t len, const char *root, const char *elem, char *out,
                 size_t size, S3XmlError *err_doc, PgpErr *err);

typedef struct S3Upload {
    char *key;
    char *upload_id;
    int64_t initiated;
} S3Upload;

typedef struct S3UploadPage {
    S3Upload *v;
    size_t n;
    bool truncated;             /* ask again from the markers */
    char *next_key, *next_id;   /* NextKeyMarker, NextUploadIdMarker (NULL when none) */
} S3UploadPage;

/* ListMultipartUploadsResult: the uploads begun and not completed or aborted (page emptied
 * first; s3_xml_uploads_free). A truncated page without a key marker is malformed. */
int s3_xml_uploads(const char *xml, size_t len, S3UploadPage *page, PgpErr *err);
void s3_xml_uploads_free(S3UploadPage *page);

/* A DeleteObjects answer (DeleteResult): how many keys it reports as not removed, and the
 * first of them with its code and message. A key reported NoSuchKey is removed already and
 * not counted (S3 itself never reports one; some compatible stores do). An <Error> document
 * instead is PGP_ERR_IO naming its code. */
typedef struct S3DeleteResult {
    size_t n_failed;
    char key[1025];             /* the first key not removed (cut to fit) */
    S3XmlError first;
} S3DeleteResult;
int s3_xml_delete_result(const char *xml, size_t len, S3DeleteResult *out, PgpErr *err);

/* "2026-12-04T10:11:28.000Z" -> seconds since the epoch; false when not that shape. */
bool s3_xml_time(const char *text, int64_t *out);

#endif
