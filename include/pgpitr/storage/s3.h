/*
 * s3.h - the S3 storage driver's settings and constructor (src/storage/s3_driver.c over the
 * HTTP client src/storage/s3.c, the only file that includes curl.h). Commands fill a
 * StorageS3Config from their settings and call storage_open(); nothing above storage knows
 * which driver runs. docs/s3.md says what each setting and error means.
 *
 * The driver has neither STORAGE_FEATURE_PATH nor STORAGE_FEATURE_FSYNC: a "directory" is a
 * key prefix that exists while a key is below it; an object is durable once S3 answered 200.
 */
#ifndef PGPITR_STORAGE_S3_H
#define PGPITR_STORAGE_S3_H

#include <stdbool.h>
#include <stddef.h>

#include "pgpitr/common/err.h"
#include "pgpitr/storage/storage.h"

#define STORAGE_S3_PART_MIN (5u << 20)          /* S3's smallest part but the last */
#define STORAGE_S3_PART_MAX (1u << 30)
#define STORAGE_S3_PART_DEFAULT (16u << 20)

/* Strings are copied by storage_open: the caller may wipe its own (the secret) at once. */
struct StorageS3Config {
    const char *endpoint;       /* "https://host[:port]" or "http://..."; NULL: AWS's */
    const char *region;         /* NULL: us-east-1 */
    bool path_style;            /* s3-uri-style path */
    const char *key, *secret, *token;   /* token may be NULL */
    const char *ca_file, *ca_path;      /* NULL: the system's */
    bool no_verify_tls;         /* s3-verify-tls off */
    const char *sse;            /* NULL, "AES256" or "aws:kms" */
    const char *kms_key_id;     /* with aws:kms; NULL: the bucket's key */
    const char *storage_class;  /* NULL: the bucket's default */
    size_t part_size;           /* 0: STORAGE_S3_PART_DEFAULT */
    unsigned io_timeout_s;      /* one request with its retries; 0: 60 */
};

/* The S3 driver on bucket, keys below prefix ("" or "a/b", no leading or trailing '/').
 * Sends nothing: a missing bucket, wrong credentials or an unreachable endpoint fail the
 * first request with their one-line error (S3's error document names the cause better than
 * a HEAD of the bucket could, and that HEAD would cost a round trip per archive-push).
 * A bucket is never created. */
int storage_s3_new(const char *bucket, const char *prefix, const StorageS3Config *cfg,
                   Storage **out, PgpErr *err);

#endif
