/*
 * walname.c - PostgreSQL WAL file names, LSNs and segment numbers (see walname.h).
 * Owns the name grammar of PostgreSQL 15's xlog_internal.h (IsXLogFileName,
 * IsPartialXLogFileName, IsBackupHistoryFileName, IsTLHistoryFileName) and the segment
 * arithmetic of XLogFileName / XLogFromFileName / XLByteToSeg. Pure functions: no I/O,
 * no allocation, no logging.
 */
#include "pgpitr/pg/walname.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/common/hexstr.h"

#define WAL_SEG_MIN (UINT32_C(1) << 20) /* 1 MiB, initdb --wal-segsize=1 */
#define WAL_SEG_MAX (UINT32_C(1) << 30) /* 1 GiB */

#define SUFFIX_PARTIAL ".partial"
#define SUFFIX_BACKUP ".backup"
#define SUFFIX_HISTORY ".history"

static int fail_name(const char *name, const char *why, PgpErr *err)
{
    char q[PGP_QUOTE_BUF];
    int rc = PGP_FAIL(err, PGP_ERR_INVALID_NAME, "invalid WAL file name \"%s\": %s",
                      pgp_quote(name, q), why);
    pgp_err_hint(err, "expected TTTTTTTTXXXXXXXXYYYYYYYY (24 uppercase hex digits), "
                      "optionally followed by \".partial\" or \".OOOOOOOO.backup\", "
                      "or TTTTTTTT.history");
    return rc;
}

/* Exactly 8 uppercase hex digits, as PostgreSQL writes them with %08X. */
static bool parse_hex8_upper(const char *p, uint32_t *v)
{
    uint32_t r = 0;
    for (int i = 0; i < 8; i++) {
        char c = p[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return false;
        r = (r << 4) | d;
    }
    *v = r;
    return true;
}

int pg_walname_parse(const char *name, PgWalName *out, PgpErr *err)
{
    if (name == NULL)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "missing WAL file name");

    /* Never scan more than needed: anything longer than PG_WALNAME_MAX is not a WAL name. */
    size_t len = strnlen(name, PG_WALNAME_MAX + 1);
    if (len == 0)
        return fail_name(name, "empty name", err);
    if (len > PG_WALNAME_MAX)
        return fail_name(name, "too long", err);

    PgWalName n = {0};
    size_t hex = hexstr_span(name, len, HEX_UPPER);
    const char *rest = name + hex;

    if (hex == 8 && strcmp(rest, SUFFIX_HISTORY) == 0) {
        n.kind = PG_WALFILE_HISTORY;
    } else if (hex == PG_WALNAME_SEG_LEN && *rest == '\0') {
        n.kind = PG_WALFILE_SEGMENT;
    } else if (hex == PG_WALNAME_SEG_LEN && strcmp(rest, SUFFIX_PARTIAL) == 0) {
        n.kind = PG_WALFILE_PARTIAL;
    } else if (hex == PG_WALNAME_SEG_LEN && rest[0] == '.' &&
               hexstr_span(rest + 1, 9, HEX_UPPER) == 8 && strcmp(rest + 9, SUFFIX_BACKUP) == 0) {
        n.kind = PG_WALFILE_BACKUP;
        (void)parse_hex8_upper(rest + 1, &n.backup_offset);
    } else {
        return fail_name(name, "not a WAL segment, partial, backup history or timeline "
                               "history file name", err);
    }

    (void)parse_hex8_upper(name, &n.tli);
    if (n.tli == 0)
        return fail_name(name, "timeline 0 is not valid", err);
    if (n.kind != PG_WALFILE_HISTORY) {
        (void)parse_hex8_upper(name + 8, &n.log);
        (void)parse_hex8_upper(name + 16, &n.seg);
    }
    if (out != NULL)
        *out = n;
    return 0;
}

const char *pg_walfile_kind_name(PgWalFileKind k)
{
    switch (k) {
    case PG_WALFILE_SEGMENT:
        return "segment";
    case PG_WALFILE_PARTIAL:
        return "partial";
    case PG_WALFILE_BACKUP:
        return "backup";
    case PG_WALFILE_HISTORY:
        return "history";
    }
    return "unknown";
}

bool pg_wal_segsize_valid(uint64_t segsize)
{
    return segsize >= WAL_SEG_MIN && segsize <= WAL_SEG_MAX && (segsize & (segsize - 1)) == 0;
}

uint64_t pg_wal_segs_per_id(uint32_t segsize)
{
    if (!pg_wal_segsize_valid(segsize))
        return 0;
    return (UINT64_C(1) << 32) / segsize;
}

bool pg_walname_segno(const PgWalName *n, uint32_t segsize, uint64_t *segno)
{
    uint64_t per = pg_wal_segs_per_id(segsize);
    if (n == NULL || per == 0 || n->kind == PG_WALFILE_HISTORY || n->seg >= per)
        return false;
    /* log < 2^32 and per <= 2^12, so this cannot overflow. */
    if (segno != NULL)
        *segno = (uint64_t)n->log * per + n->seg;
    return true;
}

void pg_walname_format(uint32_t tli, uint64_t segno, uint32_t segsize,
                       char out[PG_WALNAME_SEG_LEN + 1])
{
    uint64_t per = pg_wal_segs_per_id(segsize);
    if (per == 0) {
        out[0] = '\0';
        return;
    }
    /* Same truncation as PostgreSQL's XLogFileName(). */
    snprintf(out, PG_WALNAME_SEG_LEN + 1, "%08" PRIX32 "%08" PRIX32 "%08" PRIX32, tli,
             (uint32_t)(segno / per), (uint32_t)(segno % per));
}

int pg_walname_next(const char *name, uint32_t segsize, char out[PG_WALNAME_SEG_LEN + 1],
                    PgpErr *err)
{
    if (!pg_wal_segsize_valid(segsize))
        return PGP_FAIL(err, PGP_ERR_INTERNAL,
                        "invalid WAL segment size %" PRIu32 " (must be a power of two "
                        "between 1 MiB and 1 GiB)", segsize);
    PgWalName n;
    int rc = pg_walname_parse(name, &n, err);
    if (rc != 0)
        return rc;
    if (n.kind != PG_WALFILE_SEGMENT)
        return fail_name(name, "not a WAL segment name", err);

    uint64_t segno;
    if (!pg_walname_segno(&n, segsize, &segno)) {
        char why[96];
        snprintf(why, sizeof why, "segment part %08" PRIX32 " is out of range for %" PRIu32
                 " MiB segments", n.seg, segsize >> 20);
        return fail_name(name, why, err);
    }
    uint64_t per = pg_wal_segs_per_id(segsize);
    if (segno + 1 >= (UINT64_C(1) << 32) * per)
        return fail_name(name, "it is the last possible WAL segment", err);
    pg_walname_format(n.tli, segno + 1, segsize, out);
    return 0;
}

/* 1 to 8 hex digits of either case; returns the count consumed, 0 if none or too many. */
static size_t parse_lsn_half(const char *s, uint32_t *v)
{
    uint32_t r = 0;
    size_t n = 0;
    for (;; n++) {
        char c = s[n];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else
            break;
        if (n == 8)
            return 0;
        r = (r << 4) | d;
    }
    *v = r;
    return n;
}

int pg_lsn_parse(const char *s, uint64_t *lsn, PgpErr *err)
{
    uint32_t hi = 0, lo = 0;
    size_t a = 0, b = 0;
    if (s != NULL) {
        a = parse_lsn_half(s, &hi);
        if (a > 0 && s[a] == '/') {
            b = parse_lsn_half(s + a + 1, &lo);
            if (b > 0 && s[a + 1 + b] != '\0')
                b = 0;
        }
    }
    if (a == 0 || b == 0) {
        char q[PGP_QUOTE_BUF];
        int rc = PGP_FAIL(err, PGP_ERR_USAGE, "invalid LSN \"%s\"",
                          pgp_quote(s != NULL ? s : "", q));
        pgp_err_hint(err, "an LSN is written X/X with 1 to 8 hex digits on each side, "
                          "for example 0/16B3748");
        return rc;
    }
    if (lsn != NULL)
        *lsn = ((uint64_t)hi << 32) | lo;
    return 0;
}

void pg_lsn_format(uint64_t lsn, char out[20])
{
    snprintf(out, 20, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

uint64_t pg_lsn_segno(uint64_t lsn, uint32_t segsize)
{
    if (!pg_wal_segsize_valid(segsize))
        return 0;
    return lsn / segsize;
}
