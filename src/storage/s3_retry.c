/*
 * s3_retry.c - the retry policy and error hints of the S3 driver (s3_retry.h). Pure.
 * Why these statuses: S3 documents 500/503 (SlowDown) as "retry", 502/504 come from load
 * balancers in front of it, 408/429 are the client-side "try later"; every other 4xx is an
 * answer about the request itself (credentials, region, bucket) that repeating cannot change.
 */
#include "pgpitr/storage/s3_retry.h"

#include <string.h>

#define DELAY_BASE_MS 100u
#define DELAY_CAP_MS 5000u
#define DELAY_BUDGET_SHARE 8u   /* one wait is at most this share of the timeout */

static bool status_retried(long status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

bool s3_retry_wanted(S3Net net, long status)
{
    switch (net) {
    case S3_NET_OK: return status_retried(status);
    case S3_NET_CONNECT:
    case S3_NET_TIMEOUT:
    case S3_NET_BROKEN: return true;
    case S3_NET_TLS:
    case S3_NET_OTHER: return false;
    }
    return false;
}

bool s3_retry_outcome_unknown(S3Net net, long status)
{
    switch (net) {
    case S3_NET_OK: return status >= 500;   /* a gateway may have timed out on a stored PUT */
    case S3_NET_TIMEOUT:
    case S3_NET_BROKEN: return true;
    default: return false;
    }
}

uint64_t s3_retry_delay_ms(unsigned attempt, unsigned timeout_s, uint64_t rnd)
{
    /* a short io-timeout must still allow about ten attempts: 5 s waits fit only a handful */
    uint64_t limit = (uint64_t)timeout_s * 1000 / DELAY_BUDGET_SHARE;
    if (limit > DELAY_CAP_MS)
        limit = DELAY_CAP_MS;
    if (limit < DELAY_BASE_MS)
        limit = DELAY_BASE_MS;
    uint64_t cap = DELAY_BASE_MS;
    for (unsigned i = 1; i < attempt && cap < limit; i++)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    return cap / 2 + rnd % (cap / 2 + 1);
}

bool s3_retry_in_budget(unsigned timeout_s, uint64_t spent_ms, uint64_t stalled_ms,
                        unsigned stalls, uint64_t delay_ms)
{
    if (stalls >= S3_STALLS_MAX)
        return false;
    uint64_t other = spent_ms > stalled_ms ? spent_ms - stalled_ms : 0;
    return other + delay_ms <= (uint64_t)timeout_s * 1000;
}

const char *s3_retry_hint(long status, const char *code)
{
    if (code == NULL)
        code = "";
    if (strcmp(code, "SignatureDoesNotMatch") == 0)
        return "the secret key (s3-key-secret) does not match the key ID, or a proxy changed "
               "the request";
    if (strcmp(code, "InvalidAccessKeyId") == 0)
        return "the access key ID (s3-key) is unknown to this endpoint";
    if (strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
        strcmp(code, "PermanentRedirect") == 0 || status == 301)
        return "the bucket is in another region: set s3-region (and s3-endpoint) to it";
    if (strcmp(code, "NoSuchBucket") == 0)
        return "create the bucket, or correct the bucket name in --repo s3://BUCKET/PREFIX";
    if (strcmp(code, "RequestTimeTooSkewed") == 0)
        return "the clock of this host is wrong: synchronize it (NTP)";
    if (strcmp(code, "ExpiredToken") == 0)
        return "the session token (s3-token) expired: renew the temporary credentials";
    if (status == 403)
        return "check s3-key, s3-key-secret and s3-token, and that the IAM policy allows the "
               "actions in docs/s3.md";
    if (status == 400)
        return "check s3-region; a self-hosted store (MinIO, Ceph) usually needs "
               "s3-uri-style path";
    if (status == 404)
        return "check the bucket in --repo and s3-uri-style (path for MinIO and Ceph)";
    if (status >= 500)
        return "the store kept failing for io-timeout seconds: check its health and retry";
    return "see docs/s3.md";
}
