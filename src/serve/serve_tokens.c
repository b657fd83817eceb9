/*
 * serve_tokens.c - the token file of `pgpitr serve` and the constant-time check of a bearer
 * token against it (serve_tokens.h).
 */
#include "pgpitr/serve/serve_tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/hexstr.h"
#include "pgpitr/pipe/pipe.h"

/* A token file is a few lines; anything larger is not one. */
#define TOKEN_FILE_MAX (1u << 20)

const char *serve_role_name(ServeRole r)
{
    return r == SERVE_ROLE_OPERATE ? "operate" : "read";
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > SERVE_TOKEN_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", s[i]) ==
                NULL || s[i] == '\0')
            return false;
    return true;
}

/* The next field of a line: skips blanks, returns its start and length (0 at the end). */
static const char *field(const char **p, const char *end, size_t *len)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
    const char *start = *p;
    while (*p < end && **p != ' ' && **p != '\t')
        (*p)++;
    *len = (size_t)(*p - start);
    return start;
}

static int bad_line(const char *what, size_t line, const char *why, PgpErr *err)
{
    PGP_FAIL(err, PGP_ERR_CONFIG, "token file \"%s\" line %zu: %s", what, line, why);
    pgp_err_hint(err, "each line is NAME ROLE SHA256HEX, ROLE read or operate, SHA256HEX the "
                      "SHA-256 of the token in hex (printf %%s TOKEN | sha256sum)");
    return PGP_ERR_CONFIG;
}

/* One line that is not blank nor a comment. */
static int parse_line(const char *what, size_t line, const char *p, const char *end,
                      ServeToken *t, PgpErr *err)
{
    size_t nlen, rlen, hlen, xlen;
    const char *name = field(&p, end, &nlen);
    const char *role = field(&p, end, &rlen);
    const char *hex = field(&p, end, &hlen);
    field(&p, end, &xlen);
    if (rlen == 0 || hlen == 0 || xlen != 0)
        return bad_line(what, line, "expected three fields: NAME ROLE SHA256HEX", err);
    if (!name_ok(name, nlen))
        return bad_line(what, line, "the name must be 1 to 64 letters, digits, '-', '_' or '.'",
                        err);
    if (rlen == 4 && memcmp(role, "read", 4) == 0)
        t->role = SERVE_ROLE_READ;
    else if (rlen == 7 && memcmp(role, "operate", 7) == 0)
        t->role = SERVE_ROLE_OPERATE;
    else
        return bad_line(what, line, "the role must be read or operate", err);
    if (hlen != 64 || !hexstr_is(hex, 64, HEX_ANY))
        return bad_line(what, line, "the hash must be 64 hexadecimal digits (a SHA-256)", err);
    for (size_t i = 0; i < 32; i++) {
        char byte[3] = {hex[2 * i], hex[2 * i + 1], '\0'};
        t->sha256[i] = (uint8_t)strtoul(byte, NULL, 16);
    }
    memcpy(t->name, name, nlen);
    t->name[nlen] = '\0';
    return 0;
}

int serve_tokens_parse(const char *what, const char *text, size_t len, ServeTokens *out,
                       PgpErr *err)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0, line = 0;
    int rc = 0;
    for (const char *p = text, *end = text + len; rc == 0 && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl != NULL ? nl : end;
        line++;
        const char *q = p;
        while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        const char *stop = eol > q && eol[-1] == '\r' ? eol - 1 : eol;
        if (memchr(p, '\0', (size_t)(eol - p)) != NULL)
            rc = bad_line(what, line, "a NUL byte", err);
        else if (q < eol && *q != '#' && out->n >= SERVE_TOKENS_MAX)
            rc = bad_line(what, line, "more than 1024 tokens", err);
        else if (q < eol && *q != '#' &&
                 (rc = GROW(out->v, out->n, cap, 8, "tokens", err)) == 0) {
            ServeToken t = {0};
            rc = parse_line(what, line, q, stop, &t, err);
            for (size_t i = 0; rc == 0 && i < out->n; i++)
                if (strcmp(out->v[i].name, t.name) == 0)
                    rc = bad_line(what, line, "this name is on an earlier line too", err);
            if (rc == 0)
                out->v[out->n++] = t;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    if (rc == 0 && out->n == 0)
        rc = PGP_FAIL(err, PGP_ERR_CONFIG, "token file \"%s\" holds no token", what);
    if (rc != 0)
        serve_tokens_free(out);
    return rc;
}

int serve_tokens_load(const char *path, ServeTokens *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open token file \"%s\"", path);
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot stat token file \"%s\"", path);
    else if (!S_ISREG(st.st_mode))
        rc = PGP_FAIL(err, PGP_ERR_CONFIG, "token file \"%s\" is not a regular file", path);
    else if ((st.st_mode & 077) != 0) {
        rc = PGP_FAIL(err, PGP_ERR_CONFIG, "token file \"%s\" is accessible by group or others "
                      "(mode %04o)", path, (unsigned)(st.st_mode & 07777));
        pgp_err_hint(err, "chmod 600 \"%s\"", path);
    } else if (st.st_uid != geteuid() && st.st_uid != 0)
        rc = PGP_FAIL(err, PGP_ERR_CONFIG, "token file \"%s\" belongs to another user (uid %u)",
                      path, (unsigned)st.st_uid);
    else if ((uint64_t)st.st_size > TOKEN_FILE_MAX)
        rc = PGP_FAIL(err, PGP_ERR_CONFIG, "token file \"%s\" is larger than 1 MiB", path);
    char *text = rc == 0 ? malloc((size_t)st.st_size + 1) : NULL;
    if (rc == 0 && text == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    size_t got = 0;
    while (rc == 0 && got < (size_t)st.st_size) {
        ssize_t n = read(fd, text + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot read token file \"%s\"", path);
        else if (n == 0)
            break;   /* shrank meanwhile: parse what is there */
        else
            got += (size_t)n;
    }
    close(fd);
    if (rc == 0)
        rc = serve_tokens_parse(path, text, got, out, err);
    if (text != NULL) {
        OPENSSL_cleanse(text, (size_t)st.st_size + 1);
        free(text);
    }
    return rc;
}

const ServeToken *serve_tokens_match(const ServeTokens *t, const char *token, size_t len)
{
    uint8_t digest[32];
    PgpErr herr;
    if (len == 0 || len > SERVE_TOKEN_LEN_MAX || pipe_sha256_buf(token, len, digest, &herr) != 0)
        return NULL;
    const ServeToken *found = NULL;
    for (size_t i = 0; i < t->n; i++) {
        /* No early exit and no branch on the comparison's bytes: the hashes differ from the
         * token, so even the position of a first differing byte tells an attacker nothing,
         * but the loop still visits every entry. */
        bool same = CRYPTO_memcmp(digest, t->v[i].sha256, sizeof digest) == 0;
        if (same && found == NULL)
            found = &t->v[i];
    }
    OPENSSL_cleanse(digest, sizeof digest);
    return found;
}

void serve_tokens_free(ServeTokens *t)
{
    if (t == NULL)
        return;
    if (t->v != NULL)
        OPENSSL_cleanse(t->v, t->n * sizeof *t->v);
    free(t->v);
    memset(t, 0, sizeof *t);
}
