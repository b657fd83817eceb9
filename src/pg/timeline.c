/*
 * timeline.c - PostgreSQL timeline history files and lookups along a history (timeline.h).
 * Owns the history file grammar of PostgreSQL 15's timeline.c (readTimeLineHistory) and the
 * lookups of tliOfPointInHistory / tliSwitchPoint / XLogFileReadAnyTLI. Pure: no I/O.
 *
 * Stricter than PostgreSQL in two ways, both about damaged files: switch points must not go
 * backwards, and a parent tli of 0 is refused. A history that fails here is reported instead
 * of guessed at, because restore decides from it which WAL to require.
 */
#include "pgpitr/pg/timeline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/pg/walname.h"

#define LINE_QUOTE_MAX 60

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The line for error messages: printable ASCII only, cut at LINE_QUOTE_MAX. */
static void quote_line(const char *p, size_t len, char out[LINE_QUOTE_MAX + 4])
{
    size_t o = 0;
    for (size_t i = 0; i < len && o < LINE_QUOTE_MAX; i++)
        out[o++] = (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"') ? p[i] : '?';
    if (len > LINE_QUOTE_MAX) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static bool parse_u32(const char **pp, const char *end, uint32_t *v)
{
    const char *p = *pp;
    uint64_t r = 0;
    if (p == end || *p < '0' || *p > '9')
        return false;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        r = r * 10 + (uint64_t)(*p - '0');
        if (r > UINT32_MAX)
            return false;
    }
    *pp = p;
    *v = (uint32_t)r;
    return true;
}

/* X/X up to the next white space or the end of the line. */
static bool parse_lsn_field(const char *p, const char *end, uint64_t *lsn)
{
    char buf[24];
    size_t n = 0;
    while (p + n < end && !is_space(p[n]))
        n++;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return pg_lsn_parse(buf, lsn, NULL) == 0;
}

static int add_entry(PgTimelineHistory *h, size_t *cap, uint32_t tli, uint64_t begin,
                     uint64_t end, PgpErr *err)
{
    if (GROW(h->entries, h->n, *cap, 8, NULL, err) != 0)
        return PGP_ERR_NOMEM;
    h->entries[h->n++] = (PgTimelineEntry){.tli = tli, .begin = begin, .end = end};
    return 0;
}

/* One non-comment line: "<tli> <ws> <X/X> [<ws> reason]". */
static int parse_line(PgTimelineHistory *h, size_t *cap, const char *p, const char *end,
                      uint64_t *prev_end, PgpErr *err)
{
    char q[LINE_QUOTE_MAX + 4];
    const char *start = p;
    uint32_t tli = 0;
    uint64_t sw = 0;
    const char *why = NULL;
    if (!parse_u32(&p, end, &tli))
        why = "expected a numeric timeline ID";
    else if (p == end || !is_space(*p))
        why = "expected white space after the timeline ID";
    while (why == NULL && p < end && is_space(*p))
        p++;
    if (why == NULL && !parse_lsn_field(p, end, &sw))
        why = "expected a switch point location X/X";
    else if (why == NULL && tli == 0)
        why = "timeline ID 0 is not valid";
    else if (why == NULL && h->n > 0 && tli <= h->entries[h->n - 1].tli)
        why = "timeline IDs must be in increasing sequence";
    else if (why == NULL && tli >= h->tli)
        why = "timeline IDs must be less than the child timeline's ID";
    else if (why == NULL && sw < *prev_end)
        why = "switch points must not go backwards";
    if (why != NULL) {
        quote_line(start, (size_t)(end - start), q);
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "history file of timeline %" PRIu32
                        ": invalid line \"%s\": %s", h->tli, q, why);
    }
    int rc = add_entry(h, cap, tli, *prev_end, sw, err);
    *prev_end = sw;
    return rc;
}

int pg_timeline_parse(uint32_t tli, const char *text, size_t len, PgTimelineHistory *out,
                      PgpErr *err)
{
    memset(out, 0, sizeof *out);
    if (tli == 0)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "timeline 0 has no history");
    out->tli = tli;
    if (len > PG_TIMELINE_HISTORY_MAX)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "history file of timeline %" PRIu32
                        " is too large (%zu bytes)", tli, len);
    size_t cap = 0;
    uint64_t prev_end = 0;
    const char *p = text, *stop = text + len;
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *eol = nl != NULL ? nl : stop;
        const char *q = p;
        while (q < eol && is_space(*q))
            q++;
        if (q < eol && *q != '#') {
            if (memchr(p, '\0', (size_t)(eol - p)) != NULL)
                return PGP_FAIL(err, PGP_ERR_CORRUPT, "history file of timeline %" PRIu32
                                " contains a NUL byte", tli);
            int rc = parse_line(out, &cap, q, eol, &prev_end, err);
            if (rc != 0)
                return rc;
        }
        p = nl != NULL ? nl + 1 : stop;
    }
    return add_entry(out, &cap, tli, prev_end, PG_TIMELINE_OPEN, err);
}

int pg_timeline_single(uint32_t tli, PgTimelineHistory *out, PgpErr *err)
{
    return pg_timeline_parse(tli, "", 0, out, err);
}

void pg_timeline_free(PgTimelineHistory *h)
{
    if (h == NULL)
        return;
    free(h->entries);
    memset(h, 0, sizeof *h);
}

const PgTimelineEntry *pg_timeline_find(const PgTimelineHistory *h, uint32_t tli)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->entries[i].tli == tli)
            return &h->entries[i];
    return NULL;
}

uint32_t pg_timeline_of_lsn(const PgTimelineHistory *h, uint64_t lsn)
{
    for (size_t i = 0; i < h->n; i++)
        if (lsn >= h->entries[i].begin && (lsn < h->entries[i].end ||
                                           h->entries[i].end == PG_TIMELINE_OPEN))
            return h->entries[i].tli;
    return h->n > 0 ? h->entries[h->n - 1].tli : 0;
}

uint32_t pg_timeline_of_segno(const PgTimelineHistory *h, uint64_t segno, uint32_t segsize)
{
    if (!pg_wal_segsize_valid(segsize))
        return 0;
    for (size_t i = h->n; i-- > 0;)
        if (h->entries[i].begin / segsize <= segno)
            return h->entries[i].tli;
    return h->n > 0 ? h->entries[0].tli : 0;
}

bool pg_timeline_contains(const PgTimelineHistory *h, uint32_t tli, uint64_t stop_lsn,
                          uint64_t *fork)
{
    const PgTimelineEntry *e = pg_timeline_find(h, tli);
    if (fork != NULL)
        *fork = e != NULL ? e->end : 0;
    return e != NULL && e->end >= stop_lsn;
}

void pg_timeline_history_name(uint32_t tli, char out[32])
{
    snprintf(out, 32, "%08" PRIX32 ".history", tli);
}

void pg_timeline_describe(const PgTimelineHistory *h, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < h->n; i++) {
        char lsn[20], part[64];
        if (i == 0) {
            snprintf(part, sizeof part, "%" PRIu32, h->entries[i].tli);
        } else {
            pg_lsn_format(h->entries[i].begin, lsn);
            snprintf(part, sizeof part, " -> %" PRIu32 " at %s", h->entries[i].tli, lsn);
        }
        size_t n = strlen(part);
        if (used + n + 4 > size) {
            if (used + 4 <= size)
                memcpy(out + used, "...", 4);
            return;
        }
        memcpy(out + used, part, n + 1);
        used += n;
    }
}
