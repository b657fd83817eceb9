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
 * from 100 ms, capped at 5 s or an eighth of the timeout (timeout_s, the retry budget of
 * s3_retry_in_budget) when that is less, never below 100 ms, with "equal jitter" (half fixed,
 * half from rnd) so that many clients retrying together spread out. The cap's share keeps
 * about ten attempts within any timeout: with a plain 5 s cap an io-timeout of 5 s allowed
 * only six, and one request in a few thousand failed against a store faulting 20%. */
uint64_t s3_retry_delay_ms(unsigned attempt, unsigned timeout_s, uint64_t rnd);

/* Whether another attempt fits in a request's retry budget: `spent_ms` since its first
 * attempt, of which `stalled_ms` in the `stalls` attempts that stalled after the request was
 * sent (no answer for the whole timeout: S3_NET_TIMEOUT, or the peer closing the connection
 * after that long), and `delay_ms` to wait first. The budget is
 * timeout_s seconds not counting stalls: a stall alone lasts the whole timeout, and a
 * request that met one lost answer must still be tried again (its outcome is unknown, and a
 * single flaky connection must not fail an archive-push or a backup). Stalls are bounded by
 * count instead: the S3_STALLS_MAX-th ends the retries, so a store that never answers fails a
 * request after about (S3_STALLS_MAX + 1) x timeout_s. */
#define S3_STALLS_MAX 4u
bool s3_retry_in_budget(unsigned timeout_s, uint64_t spent_ms, uint64_t stalled_ms,
                        unsigned stalls, uint64_t delay_ms);

/* The HINT for a final HTTP error: status with S3's error code (may be "" or NULL). */
const char *s3_retry_hint(long status, const char *code);

#endif
