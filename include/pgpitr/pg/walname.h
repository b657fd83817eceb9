/*
 * walname.h - PostgreSQL WAL file names, LSNs, segment numbers and timelines.
 * Pure functions, no I/O. Names follow PostgreSQL's xlog_internal.h patterns:
 *   segment  TTTTTTTTXXXXXXXXYYYYYYYY          (24 uppercase hex)
 *   partial  <segment>.partial
 *   backup   <segment>.OOOOOOOO.backup         (offset in 8 uppercase hex)
 *   history  TTTTTTTT.history
 * Anything else (lowercase hex, paths, "../x", wrong length, timeline 0) is PGP_ERR_INVALID_NAME.
 */
#ifndef PGPITR_WALNAME_H
#define PGPITR_WALNAME_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

#define PG_WALNAME_SEG_LEN 24
#define PG_WALNAME_MAX 64

typedef enum {
    PG_WALFILE_SEGMENT,
    PG_WALFILE_PARTIAL,
    PG_WALFILE_BACKUP,
    PG_WALFILE_HISTORY,
} PgWalFileKind;

typedef struct PgWalName {
    PgWalFileKind kind;
    uint32_t tli;
    uint32_t log;           /* high 32 bits of the segment's "XLogId" part (not for history) */
    uint32_t seg;           /* low part (not for history) */
    uint32_t backup_offset; /* only for PG_WALFILE_BACKUP */
} PgWalName;

/* PGP_ERR_INVALID_NAME (message quotes the name, escaped and length-limited) for anything
 * else. `out` may be NULL to only validate; it is written only on success. */
int pg_walname_parse(const char *name, PgWalName *out, PgpErr *err);
const char *pg_walfile_kind_name(PgWalFileKind k);  /* "segment", "partial", "backup", "history" */

/* Segment size must be a power of two between 1 MiB and 1 GiB (initdb --wal-segsize). */
bool pg_wal_segsize_valid(uint64_t segsize);
/* Segments per "XLogId" (log) value: 0x100000000 / segsize; 0 if segsize is not valid. */
uint64_t pg_wal_segs_per_id(uint32_t segsize);

/* Segment number of a parsed segment/partial/backup name; false if seg >= segs per id,
 * for a history name or an invalid segsize. */
bool pg_walname_segno(const PgWalName *n, uint32_t segsize, uint64_t *segno);
/* Writes the 24-char segment name plus NUL ("" if segsize is not valid). */
void pg_walname_format(uint32_t tli, uint64_t segno, uint32_t segsize,
                       char out[PG_WALNAME_SEG_LEN + 1]);
/* Name of the segment after `name` on the same timeline, crossing into the next log value.
 * Only segment names: others, a seg part >= segs per id and the very last segment are
 * PGP_ERR_INVALID_NAME; an invalid segsize is PGP_ERR_INTERNAL (callers validate it). */
int pg_walname_next(const char *name, uint32_t segsize, char out[PG_WALNAME_SEG_LEN + 1],
                    PgpErr *err);

/* LSNs in PostgreSQL's text form "X/X" (hex, case-insensitive on input, uppercase on output).
 * Exactly 1-8 hex digits, '/', 1-8 hex digits; anything else is PGP_ERR_USAGE. */
int pg_lsn_parse(const char *s, uint64_t *lsn, PgpErr *err);
void pg_lsn_format(uint64_t lsn, char out[20]);
/* lsn / segsize (XLByteToSeg); 0 if segsize is not valid. */
uint64_t pg_lsn_segno(uint64_t lsn, uint32_t segsize);

#endif
