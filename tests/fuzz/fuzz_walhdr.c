/*
 * fuzz_walhdr.c - the WAL long page header (pg_walhdr_parse, src/pg/walhdr.c): the first
 * bytes of every segment archive-push is given. Input: the start of a WAL segment.
 * Properties: an accepted header satisfies every documented check, its fields are the bytes
 * at their offsets, the answer does not depend on the buffer's alignment or on `out` being
 * NULL, and the segment name built from it parses back to the same timeline and segment.
 */
#include "fuzz.h"

#include "pgpitr/pg/walhdr.h"
#include "pgpitr/pg/walname.h"

static uint64_t field(const uint8_t *p, size_t off, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p + off, n);   /* native byte order, like the server that wrote it */
    return v;
}

static void check_accepted(const uint8_t *data, const PgWalHeader *h)
{
    FUZZ_ASSERT(h->pg_major >= 13 && h->pg_major <= 17, "major %d", h->pg_major);
    FUZZ_ASSERT(h->magic == field(data, 0, 2), "magic");
    FUZZ_ASSERT(h->tli == field(data, 4, 4) && h->tli != 0, "tli %u", h->tli);
    FUZZ_ASSERT(h->pageaddr == field(data, 8, 8), "pageaddr");
    FUZZ_ASSERT(h->system_identifier == field(data, 24, 8), "system identifier");
    FUZZ_ASSERT(h->segsize == field(data, 32, 4) && pg_wal_segsize_valid(h->segsize),
                "segsize %u", h->segsize);
    FUZZ_ASSERT(h->blcksz == field(data, 36, 4) && h->blcksz >= 1024 && h->blcksz <= 65536 &&
                    (h->blcksz & (h->blcksz - 1)) == 0,
                "blcksz %u", h->blcksz);
    FUZZ_ASSERT(h->pageaddr % h->segsize == 0, "pageaddr not aligned");
    uint16_t info = (uint16_t)field(data, 2, 2);
    FUZZ_ASSERT((info & 0x0002) != 0 && (info & ~0x000F) == 0, "info 0x%04x", info);

    /* The file name this header belongs to, and back. */
    char name[PG_WALNAME_SEG_LEN + 1];
    uint64_t segno = pg_lsn_segno(h->pageaddr, h->segsize);
    pg_walname_format(h->tli, segno, h->segsize, name);
    PgWalName wn;
    PgpErr err;
    int rc = pg_walname_parse(name, &wn, &err);
    FUZZ_ASSERT(rc == 0, "name \"%s\" does not parse: %s", name, err.msg);
    uint64_t back = 0;
    FUZZ_ASSERT(wn.kind == PG_WALFILE_SEGMENT && wn.tli == h->tli &&
                    pg_walname_segno(&wn, h->segsize, &back) && back == segno,
                "name \"%s\" gives segment %llu, not %llu", name, (unsigned long long)back,
                (unsigned long long)segno);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    PgWalHeader h, h2;
    PgpErr err, err2;
    int rc = pg_walhdr_parse(data, size, &h, &err);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_CORRUPT);
    } else {
        FUZZ_ASSERT(size >= PG_WAL_LONG_HEADER_SIZE, "accepted %zu bytes", size);
        check_accepted(data, &h);
    }
    /* The same bytes at an odd address, and without an output. */
    uint8_t *odd = malloc(size + 1);
    if (odd == NULL)
        abort();
    memcpy(odd + 1, data, size);
    int rc2 = pg_walhdr_parse(odd + 1, size, &h2, &err2);
    FUZZ_ASSERT(rc2 == rc, "unaligned copy: %d vs %d", rc2, rc);
    FUZZ_ASSERT(rc != 0 || (h.magic == h2.magic && h.pg_major == h2.pg_major &&
                            h.tli == h2.tli && h.pageaddr == h2.pageaddr &&
                            h.system_identifier == h2.system_identifier &&
                            h.segsize == h2.segsize && h.blcksz == h2.blcksz),
                "unaligned copy parses differently");
    FUZZ_ASSERT(pg_walhdr_parse(odd + 1, size, NULL, &err2) == rc, "NULL out changes the answer");
    free(odd);
    return 0;
}
