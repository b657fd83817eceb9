/*
 * crypto_impl.h - private to src/crypto: the layout of the key structs (both live in secmem
 * memory, secmem.h) and the master key's derivation, shared by master_key.c (where master
 * keys come from), keyring.c (the wrapped repository key) and stream.c (object keys).
 */
#ifndef PGPITR_CRYPTO_IMPL_H
#define PGPITR_CRYPTO_IMPL_H

#include "pgpitr/crypto/keyring.h"

/* Longest passphrase accepted. */
#define CRYPTO_PASSPHRASE_MAX 1024

struct CryptoMaster {
    bool passphrase;            /* secret is a passphrase for scrypt, else the key itself */
    CryptoScrypt scrypt;        /* parameters for wrapping (passphrase only) */
    size_t secret_len;
    uint8_t secret[CRYPTO_PASSPHRASE_MAX + 3];   /* see crypto_master_from_passphrase_file */
};

struct CryptoRepoKey {
    uint8_t key[CRYPTO_KEY_LEN];        /* the repository key: input of HKDF for objects */
    uint8_t name_key[CRYPTO_KEY_LEN];   /* HMAC key of keyed names, derived from key */
};

/* The 32-byte master key: the secret itself, or scrypt(passphrase, salt, params). */
int master_derive(const CryptoMaster *m, const uint8_t *salt, size_t salt_len,
                  const CryptoScrypt *params, uint8_t out[CRYPTO_KEY_LEN], PgpErr *err);
/* PGP_ERR_CORRUPT (what = where the parameters came from) unless within the limits. */
int master_scrypt_check(const CryptoScrypt *p, const char *what, PgpErr *err);

#endif
