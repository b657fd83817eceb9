/*
 * keyring.h - the key hierarchy of an encrypted repository (docs/encryption.md):
 *
 *   master key    the site's secret, never stored in the repository: 32 bytes from a key file
 *                 or a command, or derived with scrypt from a passphrase file
 *     wraps
 *   repository key  32 random bytes made once per repository, kept in the repository wrapped
 *                 (AES-256-GCM) in a small JSON document (keys/repo-key.json when wired)
 *     derives (HKDF-SHA-256)
 *   per-object keys (stream.h) and the key of keyed names (crypto_keyed_name)
 *
 * Rotating the master key rewraps the repository key (crypto_repo_key_rewrap): no object is
 * touched. Keys live in locked, wiped memory (secmem.h) and never appear in a message.
 *
 * Errors: anything about obtaining or matching the master key is PGP_ERR_KEY (exit 14): a
 * missing or unreadable key file, a mode that lets group or others read it, a malformed key,
 * a failing command, a wrong master key. A key document that does not parse, or whose
 * wrapped key fails its tag under the right master key, is PGP_ERR_CORRUPT.
 *
 * Not wired into the commands yet: nothing here reads the configuration or the repository;
 * callers pass paths, argv and document text.
 */
#ifndef PGPITR_CRYPTO_KEYRING_H
#define PGPITR_CRYPTO_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

#define CRYPTO_KEY_LEN 32
#define CRYPTO_NAME_HEX_LEN 64

/* ---------- master key ---------- */

typedef struct CryptoMaster CryptoMaster;

/* scrypt's cost parameters for a passphrase (docs/encryption.md): N (a power of two),
 * r and p. The default, N = 2^17, r = 8, p = 1, takes 128 MiB and about half a second. */
typedef struct CryptoScrypt {
    uint64_t n;
    uint32_t r, p;
} CryptoScrypt;
#define CRYPTO_SCRYPT_N 131072
#define CRYPTO_SCRYPT_R 8
#define CRYPTO_SCRYPT_P 1
/* Limits a key document may ask for: N from 2^14 to 2^22, r 1..32, p 1..16, at most 1 GiB. */
#define CRYPTO_SCRYPT_MAX_MEM (1024ull * 1024 * 1024)
#define CRYPTO_PASSPHRASE_MIN 12

/* A key file: exactly 32 raw bytes, or 64 hex digits and an optional newline. Refused
 * (PGP_ERR_KEY, one line and a HINT) when missing, unreadable, not a regular file, readable
 * or writable by group or others (any of mode 077), or of another form. */
int crypto_master_from_key_file(const char *path, CryptoMaster **out, PgpErr *err);
/* A passphrase file: its bytes less one trailing "\n" or "\r\n", at least
 * CRYPTO_PASSPHRASE_MIN bytes, at most 1024; same mode rule. The key is derived with scrypt
 * when the repository key is wrapped or unwrapped (the salt lives in the document). */
int crypto_master_from_passphrase_file(const char *path, CryptoMaster **out, PgpErr *err);
/* A command (argv run directly, no shell, stdin /dev/null, stderr inherited) that prints the
 * key on stdout in a key file's form. Killed after timeout_s; a non-zero exit, a signal, a
 * timeout or another output is PGP_ERR_KEY naming argv[0] only (never the output). */
int crypto_master_from_command(char *const argv[], int timeout_s, CryptoMaster **out,
                               PgpErr *err);
/* A master key given as bytes (a KMS client, tests). */
int crypto_master_from_bytes(const uint8_t key[CRYPTO_KEY_LEN], CryptoMaster **out,
                             PgpErr *err);
/* The scrypt parameters used when this (passphrase) master wraps a key; default above.
 * PGP_ERR_CONFIG when out of the limits. */
int crypto_master_set_scrypt(CryptoMaster *m, CryptoScrypt params, PgpErr *err);
bool crypto_master_is_passphrase(const CryptoMaster *m);
void crypto_master_free(CryptoMaster *m);

/* ---------- repository key ---------- */

typedef struct CryptoRepoKey CryptoRepoKey;

/* 32 fresh random bytes. */
int crypto_repo_key_generate(CryptoRepoKey **out, PgpErr *err);
/* From known bytes: test vectors. */
int crypto_repo_key_from_bytes(const uint8_t key[CRYPTO_KEY_LEN], CryptoRepoKey **out,
                               PgpErr *err);
void crypto_repo_key_free(CryptoRepoKey *k);

/* The key document (JSON text, malloc'd; no final newline) holding k wrapped by m, with a
 * fresh nonce (and for a passphrase a fresh salt). */
int crypto_repo_key_wrap(const CryptoRepoKey *k, const CryptoMaster *m, char **json,
                         PgpErr *err);
/* The repository key from a key document. PGP_ERR_KEY: m is not the master key the document
 * was wrapped with (or of the other kind: a key where a passphrase was used); PGP_ERR_CORRUPT:
 * the document does not parse, has an unknown version, or its wrapped key is damaged. */
int crypto_repo_key_unwrap(const char *json, size_t len, const CryptoMaster *m,
                           CryptoRepoKey **out, PgpErr *err);
/* Rotation: the same repository key, unwrapped with old_m and wrapped again with new_m. */
int crypto_repo_key_rewrap(const char *json, size_t len, const CryptoMaster *old_m,
                           const CryptoMaster *new_m, char **new_json, PgpErr *err);
/* Whether the repository key's memory is locked in RAM (secmem.h). */
bool crypto_repo_key_locked(const CryptoRepoKey *k);

/* ---------- keyed names ---------- */

/* The name of content in an encrypted repository: hex HMAC-SHA-256, under a key derived from
 * the repository key, of the content's SHA-256 (which the pipeline computes anyway). Equal
 * content gets an equal name (dedup keeps working); without the key a name says nothing
 * about the content, nor whether two repositories hold the same. */
int crypto_keyed_name(const CryptoRepoKey *k, const uint8_t sha256[32],
                      char out[CRYPTO_NAME_HEX_LEN + 1], PgpErr *err);
/* The same from the content itself. */
int crypto_keyed_name_buf(const CryptoRepoKey *k, const void *buf, size_t len,
                          char out[CRYPTO_NAME_HEX_LEN + 1], PgpErr *err);

#endif
