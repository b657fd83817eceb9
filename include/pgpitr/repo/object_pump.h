/*
 * object_pump.h - the two ends where a filter chain meets the repository's storage: a sink
 * writing into a storage writer, and the loop that reads a whole object into a chain.
 * (Below the commands and the engines: archive-get, backup, restore and verify share them.)
 */
#ifndef PGPITR_OBJECT_PUMP_H
#define PGPITR_OBJECT_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/storage/storage.h"

/* A pipe sink writing into a storage writer (the end of most chains). */
PipeSink cmd_storage_sink(StorageWriter *w);

/* Opens the object at path, pushes all of it (through buf, size bytes at a time) into `into`
 * and finishes `into`; *read_bytes (may be NULL) gets the bytes read. A missing object is
 * PGP_ERR_NOT_FOUND: callers decide what that means for them. */
int cmd_pump_object(Storage *s, const char *path, PipeFilter *into, void *buf, size_t size,
                    uint64_t *read_bytes, PgpErr *err);

#endif
