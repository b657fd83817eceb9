/*
 * s3_retry.h - which S3 failures are retried and how long to wait (src/storage/s3_retry.c),
 * and the HINT of a final error. Pure: unit-tested without a network (test_s3_retry.c).
 */
#ifndef PGPITR_STORAGE_S3_RETRY_H
#define PGPITR_STORAGE_S3_RETRY_H

#include <stdbool.h>
#include <stdint.h>

/* What a request's transport did, as s3.c maps libcurl's result codes. */
typedef enum {
    S3_NET_OK,          /* an HTTP response came back (any status) */
    S3_NET_CONNECT,     /* could not resolve or connect: nothing was sent */
    S3_NET_TIMEOUT,     /* the request or response stalled past the timeout */
    S3_NET_BROKEN,      /* reset, closed or garbled mid-request or mid-response */
    S3_NET_TLS,         /* certificate or handshake refused: retrying cannot help */
    S3_NET_OTHER,       /* a local failure (memory, bad option): not retried */
} S3Net;

/* Whether an attempt that ended so is tried again (within the I/O timeout): connection
 * errors, timeouts, resets and the statuses 408, 429, 500, 502, 503 and 504. */
bool s3_retry_wanted(S3Net net, long status);

/* Whether a write whose attempt ended so may have been stored all the same (the outcome is
 * unknown until the store is read): the request could have reached S3 and its answer got
 * lost. Not for S3_NET_CONNECT (nothing sent) nor for an HTTP answer below 500. */
bool s3_retry_outcome_unknown(S3Net net, long status);

/* Milliseconds to wait before attempt number `attempt` (1 = the first retry): exponential
 * from 100 ms, capped at 5 s, with "equal jitter" (half fixed, half from rnd) so that many
 * clients retrying together spread out. */
uint64_t s3_retry_delay_ms(unsigned attempt, uint64_t rnd);

/* The HINT for a final HTTP error: status with S3's error code (may be "" or NULL). */
const char *s3_retry_hint(long status, const char *code);

#endif
