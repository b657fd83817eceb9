/*
 * s3_hash.c - the digests S3 requests carry (s3_http.h): SHA-256 of a body for SigV4's
 * x-amz-content-sha256, MD5 for Content-MD5 and for comparing an ETag with what was sent,
 * through OpenSSL's EVP (storage may not use src/pipe). Nothing else.
 */
#include "s3_http.h"

#include <openssl/evp.h>
#include <stdio.h>

static int digest(const EVP_MD *md, const void *buf, size_t len, unsigned char *out,
                  PgpErr *err)
{
    unsigned int n = 0;
    if (EVP_Digest(buf, len, out, &n, md, NULL) != 1)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "OpenSSL digest failed");
    return 0;
}

int s3_http_sha256_hex(const void *buf, size_t len, char out[65], PgpErr *err)
{
    unsigned char d[32];
    int rc = digest(EVP_sha256(), buf, len, d, err);
    for (size_t i = 0; rc == 0 && i < sizeof d; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    return rc;
}

int s3_http_md5(const void *buf, size_t len, unsigned char out[16], PgpErr *err)
{
    return digest(EVP_md5(), buf, len, out, err);
}

void s3_http_base64(const unsigned char *in, size_t n, char *out, size_t size)
{
    if (size < 4 * ((n + 2) / 3) + 1) {
        if (size > 0)
            out[0] = '\0';
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}
