/*
 * object_usage.h - how many backup file objects the repository stores under objects/ and
 * their bytes, from listings alone (src/repo/object_usage.c). For metrics, every minute:
 * counting the distinct objects that manifests name meant reading every manifest in full
 * (hundreds of MB each for a million-file cluster); a listing costs one request per 1000
 * names on S3 (a tree listing) and a readdir per fan-out directory on posix.
 * What is counted is what is stored: objects no backup references any more (expire's to
 * remove) count too. Temp files of unfinished writes (.tmp.*) do not.
 */
#ifndef PGPITR_OBJECT_USAGE_H
#define PGPITR_OBJECT_USAGE_H

#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/storage/storage.h"

typedef struct ObjectUsage {
    uint64_t objects;
    uint64_t bytes;
} ObjectUsage;

/* A repository without objects/ is 0 objects. */
int object_usage_count(Storage *s, ObjectUsage *out, PgpErr *err);

#endif
