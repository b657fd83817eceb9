/*
 * crc32c.c - CRC-32C (Castagnoli), the checksum PostgreSQL's backup_manifest calls "CRC32C":
 * the running value, its hex spelling as the server writes it, and a pass-through filter.
 *
 * The algorithm is ISA-L's crc32_iscsi (libisal.so.2: SSE4.2 crc32 + PCLMUL folding, chosen
 * at run time, tens of GB/s), not a hand-written table. It is loaded at run time like
 * libarchive (common/dynlib.h): only a backup needs it, archive-push must not pay for it.
 * crc32_iscsi takes and returns the raw register: PostgreSQL's INIT_CRC32C (all ones) goes
 * in, FIN_CRC32C (xor all ones) is pipe_crc32c_final.
 */
#include "filter_impl.h"

#include <assert.h>
#include <isa-l/crc.h>
#include <limits.h>
#include <pthread.h>

#include "pgpitr/common/dynlib.h"

#define ISAL_SONAME "libisal.so.2"

_Static_assert(_Generic(&crc32_iscsi, unsigned int (*)(unsigned char *, int, unsigned int): 1,
                        default: 0),
               "prototype of crc32_iscsi differs from <isa-l/crc.h>");

static unsigned int (*isal_crc32_iscsi)(unsigned char *, int, unsigned int);
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static PgpErr load_err;

static void load(void)
{
    static const char *const names[] = {"crc32_iscsi"};
    PgpDynFn fn;
    load_rc = pgp_dynlib_open("ISA-L", ISAL_SONAME, names, 1, &fn, &load_err);
    if (load_rc != 0) {
        pgp_err_hint(&load_err, "install ISA-L (Debian/Ubuntu: apt-get install libisal2; "
                     "RHEL: dnf install isa-l)");
        return;
    }
    isal_crc32_iscsi = (unsigned int (*)(unsigned char *, int, unsigned int))fn;
}

int pipe_crc32c_load(PgpErr *err)
{
    pthread_once(&load_once, load);
    if (load_rc != 0 && err != NULL)
        *err = load_err;
    return load_rc;
}

uint32_t pipe_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
    assert(isal_crc32_iscsi != NULL);   /* pipe_crc32c_load succeeded before */
    /* crc32_iscsi takes an int length and a non-const pointer it only reads. */
    unsigned char *p = (unsigned char *)(uintptr_t)buf;
    while (len > 0) {
        int n = len > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)len;
        crc = isal_crc32_iscsi(p, n, crc);
        p += n;
        len -= (size_t)n;
    }
    return crc;
}

uint32_t pipe_crc32c_final(uint32_t crc)
{
    return crc ^ 0xFFFFFFFFu;
}

/* PostgreSQL copies the uint32 into the manifest's byte string in its own memory order
 * (pg_checksum_final): on the little-endian servers that are all PostgreSQL runs on in
 * practice, least significant byte first. */
void pipe_crc32c_hex(uint32_t crc, char out[PIPE_CRC32C_HEX_LEN + 1])
{
    uint8_t b[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16),
                    (uint8_t)(crc >> 24)};
    pipe_hex(b, 4, out);
}

typedef struct Crc32cFilter {
    PipeFilter base;
    uint32_t crc;
} Crc32cFilter;

static int crc32c_push(PipeFilter *f, const void *buf, size_t len, PgpErr *err)
{
    Crc32cFilter *c = (Crc32cFilter *)f;
    c->crc = pipe_crc32c_update(c->crc, buf, len);
    return filter_emit(f, buf, len, err);
}

static const PipeFilterOps crc32c_ops = {"crc-32c", crc32c_push, NULL, NULL};

int pipe_crc32c_new(PipeSink next, PipeFilter **out, PgpErr *err)
{
    *out = NULL;
    int rc = pipe_crc32c_load(err);
    if (rc != 0)
        return rc;
    Crc32cFilter *c = filter_alloc(sizeof *c, &crc32c_ops, next, err);
    if (c == NULL)
        return PGP_ERR_NOMEM;
    c->crc = PIPE_CRC32C_INIT;
    *out = &c->base;
    return 0;
}

uint32_t pipe_crc32c_result(const PipeFilter *f)
{
    assert(f->ops == &crc32c_ops && f->state == FILTER_FINISHED);
    return pipe_crc32c_final(((const Crc32cFilter *)f)->crc);
}
