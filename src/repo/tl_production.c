/*
 * tl_production.c - production's timeline from the archive's activity (tl_production.h): the
 * per-timeline facts a listing gathers, the decision and its one-line description. Pure; the
 * listings are wal_history.c's and catalog.c's.
 */
#include "pgpitr/repo/tl_production.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/pg/timeline.h"

TlActivity *tl_activity_get(TlActivityList *l, uint32_t tli)
{
    size_t i = 0;
    while (i < l->n && l->v[i].tli < tli)
        i++;
    if (i < l->n && l->v[i].tli == tli)
        return &l->v[i];
    if (GROW(l->v, l->n, l->cap, 8, NULL, NULL) != 0)
        return NULL;
    memmove(&l->v[i + 1], &l->v[i], (l->n - i) * sizeof *l->v);
    l->n++;
    memset(&l->v[i], 0, sizeof l->v[i]);
    l->v[i].tli = tli;
    return &l->v[i];
}

int tl_activity_note(TlActivityList *l, uint32_t tli, int64_t mtime, const char *name,
                     PgpErr *err)
{
    TlActivity *a = tl_activity_get(l, tli);
    if (a == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    /* same second: the greater name, so that the answer does not depend on listing order */
    if (!a->has_last || mtime > a->last || (mtime == a->last && strcmp(name, a->last_name) > 0)) {
        a->has_last = true;
        a->last = mtime;
        snprintf(a->last_name, sizeof a->last_name, "%s", name);
    }
    return 0;
}

int tl_activity_segment(TlActivityList *l, uint32_t tli, uint64_t segno, int64_t mtime,
                        const char *name, PgpErr *err)
{
    int rc = tl_activity_note(l, tli, mtime, name, err);
    if (rc != 0)
        return rc;
    TlActivity *a = tl_activity_get(l, tli);
    if (!a->has_segments || segno > a->last_segno)
        a->last_segno = segno;
    a->has_segments = true;
    return 0;
}

int tl_activity_history(TlActivityList *l, uint32_t tli, int64_t mtime, PgpErr *err)
{
    char name[32];
    pg_timeline_history_name(tli, name);
    int rc = tl_activity_note(l, tli, mtime, name, err);
    if (rc != 0)
        return rc;
    TlActivity *a = tl_activity_get(l, tli);
    if (!a->has_history || mtime > a->history_time)
        a->history_time = mtime;
    a->has_history = true;
    return 0;
}

const TlActivity *tl_activity_find(const TlActivityList *l, uint32_t tli)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].tli == tli)
            return &l->v[i];
    return NULL;
}

void tl_activity_free(TlActivityList *l)
{
    if (l == NULL)
        return;
    free(l->v);
    memset(l, 0, sizeof *l);
}

bool tl_activity_is_ancestor(const TlActivityList *l, uint32_t a, uint32_t b)
{
    /* at most n steps: parent links come from files anyone with write access can change */
    const TlActivity *x = tl_activity_find(l, b);
    for (size_t steps = 0; x != NULL && x->parent != 0 && steps <= l->n; steps++) {
        if (x->parent == a)
            return true;
        x = tl_activity_find(l, x->parent);
    }
    return false;
}

void tl_production_decide(const TlActivityList *l, TlProduction *out)
{
    memset(out, 0, sizeof *out);
    out->latest = 1;
    const TlActivity *best = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const TlActivity *a = &l->v[i];
        if (a->has_history && a->tli > out->latest)
            out->latest = a->tli;
        /* ascending tli: on a tie the later (higher) one wins */
        if (a->has_last && (best == NULL || a->last >= best->last))
            best = a;
    }
    if (best == NULL)
        return;
    out->known = true;
    out->tli = best->tli;
    out->last = best->last;
    snprintf(out->last_name, sizeof out->last_name, "%s", best->last_name);
    for (size_t i = 0; i < l->n && !out->ambiguous; i++) {
        const TlActivity *a = &l->v[i];
        if (a != best && a->has_last && a->last == best->last &&
            !tl_activity_is_ancestor(l, a->tli, best->tli)) {
            out->ambiguous = true;
            out->tied = a->tli;
        }
    }
}

void tl_production_describe(const TlProduction *p, char *out, size_t size)
{
    if (!p->known) {
        snprintf(out, size, "nothing is archived");
        return;
    }
    char when[32];
    catalog_format_time(p->last, when);
    snprintf(out, size, "it received the most recently archived WAL: %s at %s%s", p->last_name,
             when, p->ambiguous ? " (a tie)" : "");
}

void tl_production_warning(const TlProduction *p, bool by_production, uint32_t followed,
                           uint32_t latest, char *out, size_t size)
{
    char prod[160], amb[128] = "";
    out[0] = '\0';
    if (!p->known)
        return;
    tl_production_describe(p, prod, sizeof prod);
    if (p->ambiguous)
        snprintf(amb, sizeof amb, "production's timeline is ambiguous: timeline %" PRIu32
                 " received WAL in that same second", p->tied);
    if (!by_production && p->tli != followed)
        snprintf(out, size, "timeline %" PRIu32 ", followed as latest (the highest timeline with "
                 "a history file), is not production's: timeline %" PRIu32 " is (%s); to restore "
                 "production's history, add --target-timeline %" PRIu32 "%s%s", followed, p->tli,
                 prod, p->tli, amb[0] ? "; " : "", amb);
    else if (by_production && latest != followed)
        snprintf(out, size, "timeline %" PRIu32 " has the highest history file (PostgreSQL's "
                 "latest, which restore follows by default), but production's is timeline %"
                 PRIu32 " (%s): a restore without --target-timeline %" PRIu32 " follows timeline %"
                 PRIu32 "%s%s", latest, followed, prod, followed, latest, amb[0] ? "; " : "", amb);
    else if (amb[0] != '\0')
        snprintf(out, size, "%s (%s); timeline %" PRIu32 " is followed", amb, prod, followed);
}

void tl_production_fork_warning(const TlActivityList *l, uint32_t followed, int64_t now,
                                uint32_t segsize, char *out, size_t size)
{
    out[0] = '\0';
    const TlActivity *x = tl_activity_find(l, followed);
    for (size_t steps = 0; x != NULL && x->parent != 0 && steps <= l->n && segsize > 0; steps++) {
        const TlActivity *p = tl_activity_find(l, x->parent);
        uint64_t fork_segno = x->fork_lsn / segsize;
        if (p != NULL && x->has_history && now - x->history_time < TL_RECENT_FORK_S &&
            p->has_segments && p->last_segno > fork_segno) {
            char fork[20], when[32], last[PG_WALNAME_SEG_LEN + 1];
            pg_lsn_format(x->fork_lsn, fork);
            catalog_format_time(x->history_time, when);
            pg_walname_format(p->tli, p->last_segno, segsize, last);
            snprintf(out, size, "timeline %" PRIu32 " forked off timeline %" PRIu32 " at %s "
                     "recently (its history file arrived %s), yet timeline %" PRIu32 "'s archived "
                     "WAL goes on past that point, to %s: either a point-in-time restore replaced "
                     "production, or timeline %" PRIu32 " is a restored copy's and production is "
                     "still on timeline %" PRIu32 " (then use --target-timeline %" PRIu32 ")",
                     x->tli, p->tli, fork, when, p->tli, last, x->tli, p->tli, p->tli);
            return;
        }
        x = p;
    }
}
