/*
 * walhdr.h - the long page header at the start of every WAL segment: the cluster's system
 * identifier, WAL segment size, block size and the PostgreSQL version (from the page magic).
 * Parsing only; the bytes come from the caller and are treated as untrusted.
 */
#ifndef PGPITR_WALHDR_H
#define PGPITR_WALHDR_H

#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

#define PG_WAL_LONG_HEADER_SIZE 40

typedef struct PgWalHeader {
    uint16_t magic;
    int pg_major;             /* 13, 14, 15, 16, 17 from the magic (unknown: rejected) */
    uint32_t tli;
    uint64_t pageaddr;        /* LSN of the segment's first byte */
    uint64_t system_identifier;
    uint32_t segsize;
    uint32_t blcksz;
} PgWalHeader;

/* PGP_ERR_CORRUPT if len is too short, the magic is unknown, xlp_info has undefined bits or
 * lacks XLP_LONG_HEADER, the timeline is 0, segsize is not a valid WAL segment size, the
 * WAL block size is not a power of two in 1 kB..64 kB or pageaddr is not segment aligned.
 * Does not compare pageaddr with a file name: a recycled segment keeps its old header until
 * overwritten, so callers decide. `out` is written only on success. */
int pg_walhdr_parse(const void *buf, size_t len, PgWalHeader *out, PgpErr *err);

#endif
