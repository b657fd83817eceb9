/*
 * serve_tokens.h - the bearer tokens of `pgpitr serve`: the token file (one `NAME ROLE
 * SHA256HEX` per line; the token itself is never stored, only its SHA-256) and the check of a
 * presented token against it, in constant time.
 *
 * The file must be owned by the user the server runs as (or root) and not readable by group or
 * others: a hash of a short token can be brute-forced, so the file is treated as a secret too.
 */
#ifndef PGPITR_SERVE_TOKENS_H
#define PGPITR_SERVE_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

#define SERVE_TOKEN_NAME_MAX 64     /* letters, digits, '-', '_', '.' */
#define SERVE_TOKENS_MAX 1024       /* lines with a token in one file */
#define SERVE_TOKEN_LEN_MAX 4096    /* longest token accepted from a request */

typedef enum {
    SERVE_ROLE_READ,                /* GET endpoints */
    SERVE_ROLE_OPERATE,             /* also starts jobs: backup, drill, verify, expire */
} ServeRole;

typedef struct ServeToken {
    char name[SERVE_TOKEN_NAME_MAX + 1];
    ServeRole role;
    uint8_t sha256[32];
} ServeToken;

typedef struct ServeTokens {
    ServeToken *v;
    size_t n;
} ServeTokens;

/* Parses the text of a token file: blank lines and lines starting with '#' are skipped; every
 * other line is NAME ROLE SHA256HEX separated by spaces or tabs. A bad line, a name given twice
 * or no token at all is PGP_ERR_CONFIG naming `what` (the file) and the line number; the
 * offending text is never echoed (it may be a token pasted by mistake). */
int serve_tokens_parse(const char *what, const char *text, size_t len, ServeTokens *out,
                       PgpErr *err);
/* Reads and parses path after checking that it is a regular file, not group- or
 * world-accessible (mode & 077 == 0) and owned by this process's user or root. */
int serve_tokens_load(const char *path, ServeTokens *out, PgpErr *err);
/* The entry whose hash is the SHA-256 of token (len bytes), NULL when none. Every entry is
 * compared (CRYPTO_memcmp) whatever matched, so the time taken tells nothing about which one
 * matched or how close a guess came. */
const ServeToken *serve_tokens_match(const ServeTokens *t, const char *token, size_t len);
/* "read" or "operate". */
const char *serve_role_name(ServeRole r);
void serve_tokens_free(ServeTokens *t);

#endif
