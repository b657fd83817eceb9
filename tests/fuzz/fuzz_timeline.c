/*
 * fuzz_timeline.c - timeline history files (pg_timeline_parse and the lookups, src/pg/
 * timeline.c): "<tli>.history" files come from the archive. Input: 4 bytes big-endian timeline
 * ID, then the file's bytes.
 * Properties: an accepted history is well formed (ancestors in increasing order below tli,
 * contiguous ranges from 0, the last entry tli itself and open); every lookup agrees with the
 * entries; writing the entries back the way PostgreSQL writes a history file
 * (writeTimeLineHistory: "%u\t%X/%X\t%s\n") parses to the same entries; describe never
 * overflows its buffer.
 */
#include "fuzz.h"

#include <inttypes.h>

#include "pgpitr/pg/timeline.h"
#include "pgpitr/pg/walname.h"

static void check_lookups(const PgTimelineHistory *h)
{
    for (size_t i = 0; i < h->n; i++) {
        const PgTimelineEntry *e = &h->entries[i];
        FUZZ_ASSERT(pg_timeline_find(h, e->tli) == e, "find %u", e->tli);
        uint64_t fork = 0;
        FUZZ_ASSERT(pg_timeline_contains(h, e->tli, e->end, &fork) && fork == e->end,
                    "contains %u up to its end", e->tli);
        if (e->begin < e->end)
            FUZZ_ASSERT(pg_timeline_of_lsn(h, e->begin) == e->tli, "of_lsn(begin of %u) = %u",
                        e->tli, pg_timeline_of_lsn(h, e->begin));
        uint32_t segsize = 16u << 20;
        uint32_t t = pg_timeline_of_segno(h, e->begin / segsize, segsize);
        FUZZ_ASSERT(pg_timeline_find(h, t) != NULL && t >= e->tli, "of_segno gives %u", t);
    }
    FUZZ_ASSERT(pg_timeline_find(h, 0) == NULL, "timeline 0 found");
    for (size_t size = 0; size < 80; size++) {
        char out[80];
        memset(out, 'X', sizeof out);
        pg_timeline_describe(h, out, size);
        if (size > 0)
            FUZZ_ASSERT(memchr(out, '\0', size) != NULL, "describe in %zu bytes: no NUL", size);
        for (size_t k = size; k < sizeof out; k++)
            FUZZ_ASSERT(out[k] == 'X', "describe in %zu bytes wrote byte %zu", size, k);
    }
}

static void check_accepted(uint32_t tli, const PgTimelineHistory *h)
{
    FUZZ_ASSERT(h->tli == tli && h->n >= 1, "tli %u n %zu", h->tli, h->n);
    const PgTimelineEntry *last = &h->entries[h->n - 1];
    FUZZ_ASSERT(last->tli == tli && last->end == PG_TIMELINE_OPEN, "last entry");
    FUZZ_ASSERT(h->entries[0].begin == 0, "first begin");
    for (size_t i = 0; i + 1 < h->n; i++) {
        FUZZ_ASSERT(h->entries[i].tli != 0 && h->entries[i].tli < h->entries[i + 1].tli,
                    "order at %zu", i);
        FUZZ_ASSERT(h->entries[i].end == h->entries[i + 1].begin &&
                        h->entries[i].begin <= h->entries[i].end,
                    "ranges at %zu", i);
    }
    check_lookups(h);

    /* PostgreSQL's own writer, and back. */
    size_t cap = 64 * h->n + 1, len = 0;
    char *text = malloc(cap);
    if (text == NULL)
        abort();
    for (size_t i = 0; i + 1 < h->n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%" PRIu32 "\t%X/%X\tno recovery target "
                                "specified\n", h->entries[i].tli,
                                (unsigned)(h->entries[i].end >> 32), (unsigned)h->entries[i].end);
    PgTimelineHistory again;
    PgpErr err;
    int rc = pg_timeline_parse(tli, text, len, &again, &err);
    FUZZ_ASSERT(rc == 0, "written history does not parse: %s", err.msg);
    FUZZ_ASSERT(again.n == h->n, "%zu entries, then %zu", h->n, again.n);
    for (size_t i = 0; i < h->n; i++)
        FUZZ_ASSERT(again.entries[i].tli == h->entries[i].tli &&
                        again.entries[i].begin == h->entries[i].begin &&
                        again.entries[i].end == h->entries[i].end,
                    "entry %zu differs after writing", i);
    pg_timeline_free(&again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    FuzzIn in = {data, size};
    uint32_t tli = fuzz_u32(&in);
    char *text = fuzz_copy(in.p, in.n);   /* no NUL after the text */
    PgTimelineHistory h;
    PgpErr err;
    int rc = pg_timeline_parse(tli, text, in.n, &h, &err);
    if (rc != 0) {
        fuzz_check_err(rc, &err, tli == 0 ? PGP_ERR_INTERNAL : PGP_ERR_CORRUPT);
    } else {
        check_accepted(tli, &h);
    }
    pg_timeline_free(&h);
    free(text);
    return 0;
}
