/*
 * pull_bridge.h - a producer that pushes bytes into a sink, read by a consumer that pulls them,
 * on two threads through a bounded ring (pull_bridge.c). It joins a push chain (an object
 * decoded by object_io_read_verify) to a pull parser (pg_manifest_read_each) without holding
 * the whole stream in memory.
 */
#ifndef PGPITR_PIPE_PULL_BRIDGE_H
#define PGPITR_PIPE_PULL_BRIDGE_H

#include <stddef.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pipe/pipe.h"

/* Writes the whole stream into out; its return value is the producer's result. */
typedef int (*PullProduceFn)(void *ud, PipeSink out, PgpErr *err);
/* Up to len bytes into buf, *got = 0 at the end (storage_read's contract). */
typedef int (*PullReadFn)(void *ud, void *buf, size_t len, size_t *got, PgpErr *err);
/* Reads what it needs through rd; its return value is the consumer's result. */
typedef int (*PullConsumeFn)(void *ud, PullReadFn rd, void *rd_ud, PgpErr *err);

/* Runs consume on a new thread and produce on the calling one, ring_size bytes between them
 * (0: 256 KiB). The producer always runs to its end, even once the consumer has returned (what
 * it writes then is discarded): a decoder's final checks (a frame's end, an authentication
 * tag) are never skipped. Returns the producer's error if it failed, else the consumer's, else
 * 0; a consumer reading after the producer failed gets an error, which is not the one
 * returned. */
int pull_bridge_run(PullProduceFn produce, void *produce_ud, PullConsumeFn consume,
                    void *consume_ud, size_t ring_size, PgpErr *err);

#endif
