/*
 * fuzz_walname.c - WAL file names and LSNs (src/pg/walname.c): names come from PostgreSQL's
 * %f, from repository listings and from server logs; LSNs from the command line, manifests
 * and the server. Input: the text (cut at its first NUL).
 * Properties: an accepted name is exactly what PostgreSQL's %08X formatting writes for its
 * parts (parse then write gives the same text); its segment number written back with
 * pg_walname_format is the same name for every segment size it fits; pg_walname_next moves
 * one segment forward; an accepted LSN formats and parses back to the same value.
 */
#include "fuzz.h"

#include <inttypes.h>
#include <strings.h>

#include "pgpitr/pg/walname.h"

static void check_name(const char *s)
{
    PgWalName n;
    PgpErr err, err2;
    int rc = pg_walname_parse(s, &n, &err);
    FUZZ_ASSERT(pg_walname_parse(s, NULL, &err2) == rc, "NULL out changes the answer");
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_INVALID_NAME);
        return;
    }
    char back[PG_WALNAME_MAX + 8];
    switch (n.kind) {
    case PG_WALFILE_HISTORY:
        snprintf(back, sizeof back, "%08" PRIX32 ".history", n.tli);
        break;
    case PG_WALFILE_SEGMENT:
    case PG_WALFILE_PARTIAL:
    case PG_WALFILE_BACKUP: {
        int len = snprintf(back, sizeof back, "%08" PRIX32 "%08" PRIX32 "%08" PRIX32, n.tli,
                           n.log, n.seg);
        if (n.kind == PG_WALFILE_PARTIAL)
            snprintf(back + len, sizeof back - (size_t)len, ".partial");
        else if (n.kind == PG_WALFILE_BACKUP)
            snprintf(back + len, sizeof back - (size_t)len, ".%08" PRIX32 ".backup",
                     n.backup_offset);
        break;
    }
    default:
        FUZZ_ASSERT(0, "kind %d", (int)n.kind);
    }
    FUZZ_ASSERT(strcmp(back, s) == 0, "\"%s\" parses to parts written as \"%s\"", s, back);
    FUZZ_ASSERT(n.tli != 0, "timeline 0 accepted");

    for (uint32_t segsize = 1u << 20; segsize <= 1u << 30; segsize <<= 1) {
        uint64_t segno;
        bool fits = pg_walname_segno(&n, segsize, &segno);
        FUZZ_ASSERT(fits == (n.kind != PG_WALFILE_HISTORY && n.seg < pg_wal_segs_per_id(segsize)),
                    "segno of \"%s\" for %" PRIu32, s, segsize);
        if (!fits)
            continue;
        char name[PG_WALNAME_SEG_LEN + 1], next[PG_WALNAME_SEG_LEN + 1];
        pg_walname_format(n.tli, segno, segsize, name);
        FUZZ_ASSERT(strncmp(name, s, PG_WALNAME_SEG_LEN) == 0, "\"%s\" written back as \"%s\"",
                    s, name);
        if (n.kind != PG_WALFILE_SEGMENT)
            continue;
        rc = pg_walname_next(s, segsize, next, &err);
        if (rc != 0) {
            fuzz_check_err(rc, &err, PGP_ERR_INVALID_NAME);
            FUZZ_ASSERT(segno + 1 == (UINT64_C(1) << 32) * pg_wal_segs_per_id(segsize),
                        "no next segment for \"%s\": %s", s, err.msg);
            continue;
        }
        PgWalName nn;
        uint64_t nsegno;
        FUZZ_ASSERT(pg_walname_parse(next, &nn, NULL) == 0 && nn.tli == n.tli &&
                        pg_walname_segno(&nn, segsize, &nsegno) && nsegno == segno + 1,
                    "next of \"%s\" is \"%s\"", s, next);
    }
}

static void check_lsn(const char *s)
{
    uint64_t lsn = 0, again = 0;
    PgpErr err;
    int rc = pg_lsn_parse(s, &lsn, &err);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_USAGE);
        return;
    }
    char text[20];
    pg_lsn_format(lsn, text);
    FUZZ_ASSERT(pg_lsn_parse(text, &again, &err) == 0 && again == lsn,
                "\"%s\" -> %" PRIX64 " -> \"%s\" -> %" PRIX64, s, lsn, text, again);
    FUZZ_ASSERT(strcasecmp(text, s) == 0 || strchr(s, '0') != NULL,
                "\"%s\" written as \"%s\" (only leading zeros may go)", s, text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *s = fuzz_cstr(data, size);
    check_name(s);
    check_lsn(s);
    free(s);
    return 0;
}
