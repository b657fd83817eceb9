/*
 * storage_open.c - the one place that chooses a storage driver from a repository setting
 * (storage.h): "s3://" is the S3 driver, anything else a posix directory.
 */
#include "pgpitr/storage/storage.h"

#include <string.h>

#include "pgpitr/storage/s3.h"
#include "pgpitr/storage/s3_url.h"

bool storage_is_s3_url(const char *repo)
{
    return repo != NULL && strncmp(repo, "s3://", 5) == 0;
}

int storage_open(const char *repo, const StorageS3Config *s3, bool create, Storage **out,
                 PgpErr *err)
{
    *out = NULL;
    if (!storage_is_s3_url(repo))
        return storage_posix_new(repo, create, out, err);
    if (s3 == NULL)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "repository \"%s\": no S3 settings here", repo);
    char bucket[S3_BUCKET_MAX + 1], prefix[STORAGE_PATH_MAX + 1];
    int rc = s3_url_parse_repo(repo, bucket, prefix, sizeof prefix, err);
    return rc != 0 ? rc : storage_s3_new(bucket, prefix, s3, out, err);
}
