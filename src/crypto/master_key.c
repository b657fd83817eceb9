/*
 * master_key.c - where a master key comes from (keyring.h): a key file, a passphrase file,
 * a command, or bytes; and its derivation through scrypt for a passphrase. The files' mode is
 * checked on the open descriptor (fstat), so the file checked is the file read. Secrets pass
 * only through secmem memory or buffers wiped before they are freed; messages name the file
 * or the program, never a byte of what it held.
 */
#include "crypto_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/common/runcmd.h"
#include "pgpitr/crypto/secmem.h"

static int master_alloc(bool passphrase, CryptoMaster **out, PgpErr *err)
{
    CryptoMaster *m = secmem_alloc(sizeof *m, err);
    if (m == NULL)
        return PGP_ERR_NOMEM;
    m->passphrase = passphrase;
    m->scrypt = (CryptoScrypt){CRYPTO_SCRYPT_N, CRYPTO_SCRYPT_R, CRYPTO_SCRYPT_P};
    *out = m;
    return 0;
}

void crypto_master_free(CryptoMaster *m)
{
    secmem_free(m, sizeof *m);
}

bool crypto_master_is_passphrase(const CryptoMaster *m)
{
    return m->passphrase;
}

/* A key's text form: 32 raw bytes, or 64 hex digits and an optional "\n". */
static bool parse_key(const uint8_t *buf, size_t len, uint8_t key[CRYPTO_KEY_LEN])
{
    if (len == CRYPTO_KEY_LEN) {
        memcpy(key, buf, CRYPTO_KEY_LEN);
        return true;
    }
    if (len == 2 * CRYPTO_KEY_LEN + 1 && buf[len - 1] == '\n')
        len--;
    if (len != 2 * CRYPTO_KEY_LEN)
        return false;
    for (size_t i = 0; i < CRYPTO_KEY_LEN; i++) {
        int v = OPENSSL_hexchar2int(buf[2 * i]), w = OPENSSL_hexchar2int(buf[2 * i + 1]);
        if (v < 0 || w < 0)
            return false;
        key[i] = (uint8_t)(v << 4 | w);
    }
    return true;
}

/* Reads a secret file of at most max bytes into buf after checking what it is. */
static int read_secret_file(const char *what, const char *path, uint8_t *buf, size_t max,
                            size_t *len, PgpErr *err)
{
    char q[PGP_QUOTE_BUF];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return PGP_FAIL_ERRNO(err, PGP_ERR_KEY, errno, "cannot open %s \"%s\"", what,
                              pgp_quote(path, q));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = PGP_FAIL_ERRNO(err, PGP_ERR_KEY, errno, "cannot stat %s \"%s\"", what,
                            pgp_quote(path, q));
    } else if (!S_ISREG(st.st_mode)) {
        rc = PGP_FAIL(err, PGP_ERR_KEY, "%s \"%s\" is not a regular file", what,
                      pgp_quote(path, q));
    } else if ((st.st_mode & 077) != 0) {
        /* Why refuse rather than warn: a secret other users can read is already lost. */
        rc = PGP_FAIL(err, PGP_ERR_KEY, "%s \"%s\" is accessible by group or others "
                      "(mode %04o): refusing to use it", what, pgp_quote(path, q),
                      (unsigned)(st.st_mode & 07777));
        pgp_err_hint(err, "chmod 600 \"%s\" (and consider the key disclosed)", q);
    } else {
        size_t got = 0;
        ssize_t n;
        /* One byte more than max shows a file that is too long. */
        while (got <= max && (n = read(fd, buf + got, max + 1 - got)) != 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = PGP_FAIL_ERRNO(err, PGP_ERR_KEY, errno, "cannot read %s \"%s\"", what,
                                    pgp_quote(path, q));
                break;
            }
            got += (size_t)n;
        }
        *len = got;
    }
    close(fd);
    return rc;
}

int crypto_master_from_key_file(const char *path, CryptoMaster **out, PgpErr *err)
{
    uint8_t buf[2 * CRYPTO_KEY_LEN + 2];
    size_t len = 0;
    CryptoMaster *m = NULL;
    char q[PGP_QUOTE_BUF];
    int rc = read_secret_file("key file", path, buf, sizeof buf - 1, &len, err);
    if (rc == 0 && (rc = master_alloc(false, &m, err)) == 0) {
        if (parse_key(buf, len, m->secret)) {
            m->secret_len = CRYPTO_KEY_LEN;
            *out = m;
        } else {
            rc = PGP_FAIL(err, PGP_ERR_KEY, "key file \"%s\" holds no key: expected 32 raw "
                          "bytes or 64 hex digits", pgp_quote(path, q));
            pgp_err_hint(err, "make one with: openssl rand -hex 32 > KEYFILE");
            crypto_master_free(m);
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

int crypto_master_from_passphrase_file(const char *path, CryptoMaster **out, PgpErr *err)
{
    CryptoMaster *m = NULL;
    char q[PGP_QUOTE_BUF];
    int rc = master_alloc(true, &m, err);
    if (rc != 0)
        return rc;
    size_t len = 0;
    /* Room for the longest passphrase, "\r\n", and one byte that shows a longer file. */
    rc = read_secret_file("passphrase file", path, m->secret, CRYPTO_PASSPHRASE_MAX + 2, &len,
                          err);
    bool too_long = len > CRYPTO_PASSPHRASE_MAX + 2;
    if (rc == 0 && len > 0 && m->secret[len - 1] == '\n')
        len -= len > 1 && m->secret[len - 2] == '\r' ? 2 : 1;
    if (rc == 0 && (too_long || len > CRYPTO_PASSPHRASE_MAX))
        rc = PGP_FAIL(err, PGP_ERR_KEY, "passphrase file \"%s\" is longer than %d bytes",
                      pgp_quote(path, q), CRYPTO_PASSPHRASE_MAX);
    else if (rc == 0 && len < CRYPTO_PASSPHRASE_MIN)
        rc = PGP_FAIL(err, PGP_ERR_KEY, "passphrase in \"%s\" is shorter than %d bytes",
                      pgp_quote(path, q), CRYPTO_PASSPHRASE_MIN);
    if (rc != 0) {
        crypto_master_free(m);
        return rc;
    }
    m->secret_len = len;
    *out = m;
    return 0;
}

int crypto_master_from_bytes(const uint8_t key[CRYPTO_KEY_LEN], CryptoMaster **out,
                             PgpErr *err)
{
    int rc = master_alloc(false, out, err);
    if (rc != 0)
        return rc;
    memcpy((*out)->secret, key, CRYPTO_KEY_LEN);
    (*out)->secret_len = CRYPTO_KEY_LEN;
    return 0;
}

/* Why the bound on the output: a command printing something else (a usage text, a whole
 * secret bundle) is an error, and nothing of what it printed goes into the message. */
int crypto_master_from_command(char *const argv[], int timeout_s, CryptoMaster **out,
                               PgpErr *err)
{
    char q[PGP_QUOTE_BUF];
    pgp_quote(argv[0], q);
    RunCmdResult r;
    int rc = runcmd(argv, -1, 2 * CRYPTO_KEY_LEN + 1, timeout_s, &r, err);
    if (rc != 0) {      /* "cannot run \"x\": No such file or directory" */
        if (err != NULL)
            err->code = PGP_ERR_KEY;
        return PGP_ERR_KEY;
    }
    CryptoMaster *m = NULL;
    if (r.timed_out)
        rc = PGP_FAIL(err, PGP_ERR_KEY, "key command \"%s\" ran out of time (%d s)", q,
                      timeout_s);
    else if (r.signal != 0)
        rc = PGP_FAIL(err, PGP_ERR_KEY, "key command \"%s\" was killed by signal %d", q,
                      r.signal);
    else if (r.exit_status != 0)
        rc = PGP_FAIL(err, PGP_ERR_KEY, "key command \"%s\" failed with exit status %d", q,
                      r.exit_status);
    else if ((rc = master_alloc(false, &m, err)) == 0) {
        if (!r.truncated && parse_key((const uint8_t *)r.out, r.out_len, m->secret)) {
            m->secret_len = CRYPTO_KEY_LEN;
            *out = m;
        } else {
            rc = PGP_FAIL(err, PGP_ERR_KEY, "key command \"%s\" printed no key: expected 32 "
                          "raw bytes or 64 hex digits", q);
            crypto_master_free(m);
        }
    }
    OPENSSL_cleanse(r.out, r.out_len);
    runcmd_result_free(&r);
    return rc;
}

int master_scrypt_check(const CryptoScrypt *p, const char *what, PgpErr *err)
{
    bool pow2 = p->n >= (1u << 14) && p->n <= (1u << 22) && (p->n & (p->n - 1)) == 0;
    if (!pow2 || p->r < 1 || p->r > 32 || p->p < 1 || p->p > 16 ||
        128ull * p->r * p->n * p->p > CRYPTO_SCRYPT_MAX_MEM)
        return PGP_FAIL(err, what != NULL ? PGP_ERR_CORRUPT : PGP_ERR_CONFIG,
                        "scrypt parameters%s%s out of range (N=%llu r=%u p=%u)",
                        what != NULL ? " in " : "", what != NULL ? what : "",
                        (unsigned long long)p->n, p->r, p->p);
    return 0;
}

int crypto_master_set_scrypt(CryptoMaster *m, CryptoScrypt params, PgpErr *err)
{
    int rc = master_scrypt_check(&params, NULL, err);
    if (rc == 0)
        m->scrypt = params;
    return rc;
}

int master_derive(const CryptoMaster *m, const uint8_t *salt, size_t salt_len,
                  const CryptoScrypt *params, uint8_t out[CRYPTO_KEY_LEN], PgpErr *err)
{
    if (!m->passphrase) {
        memcpy(out, m->secret, CRYPTO_KEY_LEN);
        return 0;
    }
    /* maxmem above what N, r and p need (128 r N p bytes), which OpenSSL checks. */
    uint64_t need = 128ull * params->r * params->n * params->p;
    if (EVP_PBE_scrypt((const char *)m->secret, m->secret_len, salt, salt_len, params->n,
                       params->r, params->p, need + 1024 * 1024, out, CRYPTO_KEY_LEN) != 1)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "scrypt failed (it needs %llu MiB of memory)",
                        (unsigned long long)(need >> 20));
    return 0;
}
