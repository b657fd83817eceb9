/*
 * s3_driver.h - private to src/storage: what the S3 driver's files share. s3_driver.c has
 * the driver (open, stat, list, read, remove), s3_write.c its writers; both speak HTTP only
 * through s3_http.h.
 */
#ifndef PGPITR_STORAGE_S3_DRIVER_H
#define PGPITR_STORAGE_S3_DRIVER_H

#include <stddef.h>

#include "pgpitr/storage/s3.h"
#include "pgpitr/storage/storage.h"
#include "s3_http.h"

typedef struct S3Drv {
    S3Http *http;
    char *prefix;               /* "" or "a/b" */
    char *sse, *kms_key_id, *storage_class;     /* NULL: none */
    size_t part_size;
} S3Drv;

#define S3_KEY_MAX (2 * STORAGE_PATH_MAX + 2)

/* prefix/path into key. */
int s3_key_of(const S3Drv *d, const char *path, char key[S3_KEY_MAX], PgpErr *err);

/* The error of a request that got an answer it did not want: "S3 PUT of bucket "b" key "k"
 * failed: HTTP 403 AccessDenied (Access Denied)" with the HINT of s3_retry_hint. 404
 * NoSuchKey is PGP_ERR_NOT_FOUND; 400, 401, 403, 404 NoSuchBucket and 301 are
 * PGP_ERR_CONFIG (settings to correct); anything else PGP_ERR_IO. */
int s3_status_fail(const S3Drv *d, const char *method, const char *key, const S3Response *rs,
                   PgpErr *err);

/* HEAD of key: 0 with rs filled (any status), as s3_http_exec. */
int s3_head(S3Drv *d, const char *key, S3Response *rs, PgpErr *err);

int s3_open_write(void *drv, const char *path, unsigned flags, StorageWriter **out,
                  PgpErr *err);

/* storage_remove_objects: DeleteObjects (s3_delete.c). */
int s3_remove_objects(void *drv, const char *const *paths, size_t n, PgpErr *err);

#endif
