/*
 * object_usage.c - counts what objects/ holds from listings (object_usage.h).
 */
#include "pgpitr/repo/object_usage.h"

#include "pgpitr/repo/object_walk.h"

static int count(void *ud, const char *path, uint64_t size, PgpErr *err)
{
    (void)path, (void)err;
    ObjectUsage *u = ud;
    u->objects++;
    u->bytes += size;
    return 0;
}

int object_usage_count(Storage *s, ObjectUsage *out, PgpErr *err)
{
    *out = (ObjectUsage){0};
    return object_walk(s, count, out, err);
}
