/*
 * walhdr.c - parse the XLogLongPageHeaderData at the start of a WAL segment (see walhdr.h).
 * Owns the on-disk layout and the sanity checks PostgreSQL's xlogreader applies to it.
 * Must not read files or judge whether the header matches a file name or a repository:
 * callers compare pageaddr / system_identifier with what they expect.
 *
 * Layout (native byte order; PostgreSQL writes WAL in the server's byte order, and x86_64
 * and aarch64 are little endian):
 *   @0  uint16 xlp_magic     @2 uint16 xlp_info   @4 uint32 xlp_tli   @8 uint64 xlp_pageaddr
 *   @16 uint32 xlp_rem_len   @20 padding           @24 uint64 xlp_sysid
 *   @32 uint32 xlp_seg_size  @36 uint32 xlp_xlog_blcksz                    (40 bytes)
 * Every field is read with memcpy: the buffer may have any alignment.
 */
#include "pgpitr/pg/walhdr.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "pgpitr/pg/walname.h"

#define OFF_MAGIC 0
#define OFF_INFO 2
#define OFF_TLI 4
#define OFF_PAGEADDR 8
#define OFF_SYSID 24
#define OFF_SEG_SIZE 32
#define OFF_BLCKSZ 36

#define XLP_LONG_HEADER 0x0002
/* All flag bits PostgreSQL 13-17 define (XLP_ALL_FLAGS, including
 * XLP_FIRST_IS_OVERWRITE_CONTRECORD which was back-patched to every branch). */
#define XLP_ALL_FLAGS 0x000F

/* XLOG_BLCKSZ: configure --with-wal-blocksize accepts 1, 2, 4, 8, 16, 32 and 64 kB. */
#define WAL_BLCKSZ_MIN 1024u
#define WAL_BLCKSZ_MAX 65536u

/* XLOG_PAGE_MAGIC of each supported major version (access/xlog_internal.h). */
static const struct {
    uint16_t magic;
    int major;
} known_magics[] = {
    {0xD106, 13}, {0xD10D, 14}, {0xD110, 15}, {0xD113, 16}, {0xD116, 17},
};

static int magic_major(uint16_t magic)
{
    for (size_t i = 0; i < sizeof known_magics / sizeof known_magics[0]; i++)
        if (known_magics[i].magic == magic)
            return known_magics[i].major;
    return 0;
}

static uint16_t rd16(const unsigned char *p, size_t off)
{
    uint16_t v;
    memcpy(&v, p + off, sizeof v);
    return v;
}

static uint32_t rd32(const unsigned char *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, sizeof v);
    return v;
}

static uint64_t rd64(const unsigned char *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, sizeof v);
    return v;
}

int pg_walhdr_parse(const void *buf, size_t len, PgWalHeader *out, PgpErr *err)
{
    if (buf == NULL || len < PG_WAL_LONG_HEADER_SIZE)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "WAL page header too short: %zu bytes, need %d",
                        buf == NULL ? (size_t)0 : len, PG_WAL_LONG_HEADER_SIZE);
    const unsigned char *p = buf;
    PgWalHeader h = {0};
    h.magic = rd16(p, OFF_MAGIC);
    uint16_t info = rd16(p, OFF_INFO);
    h.tli = rd32(p, OFF_TLI);
    h.pageaddr = rd64(p, OFF_PAGEADDR);
    h.system_identifier = rd64(p, OFF_SYSID);
    h.segsize = rd32(p, OFF_SEG_SIZE);
    h.blcksz = rd32(p, OFF_BLCKSZ);

    h.pg_major = magic_major(h.magic);
    if (h.pg_major == 0) {
        int rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "invalid WAL page magic 0x%04" PRIX16,
                          h.magic);
        pgp_err_hint(err, "the file is not a WAL segment, is damaged, or comes from a "
                          "PostgreSQL version other than 13 to 17");
        return rc;
    }
    if ((info & ~XLP_ALL_FLAGS) != 0)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "invalid WAL page info bits 0x%04" PRIX16,
                        info);
    if ((info & XLP_LONG_HEADER) == 0)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "WAL page header is not a long header (info 0x%04" PRIX16 "): "
                        "not the first page of a segment", info);
    if (h.tli == 0)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "invalid timeline 0 in WAL page header");
    if (!pg_wal_segsize_valid(h.segsize))
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "invalid WAL segment size %" PRIu32 " in WAL page header "
                        "(must be a power of two between 1 MiB and 1 GiB)", h.segsize);
    if (h.blcksz < WAL_BLCKSZ_MIN || h.blcksz > WAL_BLCKSZ_MAX ||
        (h.blcksz & (h.blcksz - 1)) != 0)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "invalid WAL block size %" PRIu32 " in WAL page header "
                        "(must be a power of two between 1 kB and 64 kB)", h.blcksz);
    if (h.pageaddr % h.segsize != 0) {
        char lsn[20];
        pg_lsn_format(h.pageaddr, lsn);
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "WAL page address %s is not a multiple of the segment size %" PRIu32,
                        lsn, h.segsize);
    }
    if (out != NULL)
        *out = h;
    return 0;
}
