/*
 * objects.c - paths of content-addressed objects and backup directories. The two-hex-digit
 * fan-out keeps directories small on posix (256 of them) and costs nothing on S3.
 */
#include <stdio.h>

#include "pgpitr/repo/repo.h"

void repo_object_path(const char *sha256_hex, PipeCodec codec, char out[REPO_PATH_MAX])
{
    int n = snprintf(out, REPO_PATH_MAX, "objects/%.2s/%s%s", sha256_hex, sha256_hex,
                     pipe_codec_ext(codec));
    if (n < 0 || n >= REPO_PATH_MAX)
        out[0] = '\0';
}

void repo_backup_dir(const char *label, char out[REPO_PATH_MAX])
{
    int n = snprintf(out, REPO_PATH_MAX, "backup/%s", label);
    if (n < 0 || n >= REPO_PATH_MAX)
        out[0] = '\0';
}
