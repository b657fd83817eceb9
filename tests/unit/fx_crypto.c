/*
 * fx_crypto.c - test vectors and keys for the encryption suites (fx_crypto.h).
 */
#include "fx_crypto.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *fx_crypto_vectors(void)
{
    json_error_t e;
    json_t *v = json_load_file(FX_CRYPTO_VECTORS, 0, &e);
    ck_assert_msg(v != NULL, "cannot load %s (run from the top directory): %s",
                  FX_CRYPTO_VECTORS, e.text);
    return v;
}

uint8_t *fx_crypto_hex(json_t *obj, const char *member, size_t *len)
{
    const char *s = json_string_value(json_object_get(obj, member));
    ck_assert_msg(s != NULL, "no member \"%s\"", member);
    size_t n = strlen(s);
    ck_assert(n % 2 == 0);
    uint8_t *b = malloc(n / 2 + 1);
    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
        b[i] = (uint8_t)v;
    }
    *len = n / 2;
    return b;
}

CryptoRepoKey *fx_crypto_repo_key(void)
{
    uint8_t key[CRYPTO_KEY_LEN];
    for (int i = 0; i < CRYPTO_KEY_LEN; i++)
        key[i] = (uint8_t)i;
    CryptoRepoKey *k = NULL;
    PgpErr err;
    ck_assert_int_eq(crypto_repo_key_from_bytes(key, &k, &err), 0);
    return k;
}
