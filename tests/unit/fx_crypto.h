/*
 * fx_crypto.h - what the encryption suites share: the checked-in test vectors
 * (tests/unit/data/crypto-vectors.json, written by crypto-vectors.py from the documented
 * format), hex decoding, and the vectors' repository key. Every helper asserts with Check.
 */
#ifndef PGPITR_FX_CRYPTO_H
#define PGPITR_FX_CRYPTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/crypto/keyring.h"

#define FX_CRYPTO_VECTORS "tests/unit/data/crypto-vectors.json"

/* The vectors document (json_decref it); run from the top directory, as make check-unit does. */
json_t *fx_crypto_vectors(void);
/* A string member of obj as bytes (malloc'd; *len set). */
uint8_t *fx_crypto_hex(json_t *obj, const char *member, size_t *len);
/* The vectors' repository key (00 01 ... 1f). */
CryptoRepoKey *fx_crypto_repo_key(void);

#endif
