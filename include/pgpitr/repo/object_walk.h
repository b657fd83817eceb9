/*
 * object_walk.h - every object stored under objects/ (backup file objects, chunks, chunk lists)
 * with its size, from listings alone (src/repo/object_walk.c): expire's sweep and metrics'
 * object count walk them the same way. On S3 one tree listing (1000 keys a request); on posix
 * a readdir of objects/ and of each fan-out directory below it. Only names one level down
 * ("objects/<fan>/<name>") are objects; anything else there is not pgpitr's and is skipped.
 */
#ifndef PGPITR_OBJECT_WALK_H
#define PGPITR_OBJECT_WALK_H

#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/storage/storage.h"

/* Called once per object with its repository path ("objects/5e/5eab...zst") and stored size;
 * a non-zero return stops the walk and is returned as it is (err set by fn). */
typedef int (*ObjectWalkFn)(void *ud, const char *path, uint64_t size, PgpErr *err);

/* A repository without objects/ has none (returns 0). A listing failure is returned with the
 * listed directory named in err. */
int object_walk(Storage *s, ObjectWalkFn fn, void *ud, PgpErr *err);

#endif
