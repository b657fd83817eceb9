/*
 * restore_plan.c - choosing the backup and proving the target reachable before a restore
 * writes anything (restore_plan.h). Loading the backups, and the plain selection of
 * restore_files.h: restore_select.c.
 *
 * Order: load the complete backups (newest first), resolve the target timeline and read its
 * history from the archive, take the newest backup that can reach the target along that
 * history, then validate it: every object it names exists, chunks of chunked files included
 * (through the object index: a stat each on posix, listings on S3; cheap next to the
 * restore), and the WAL from its start segment is archived with no gap along the path.
 * Nothing here falls back silently: a damaged newer backup is an error, not a reason to
 * restore an older one.
 */
#include "pgpitr/restore/restore_plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"
#include "pgpitr/restore/restore_chunk_check.h"
#include "pgpitr/restore/restore_conf.h"
#include "pgpitr/restore/restore_files.h"
#include "restore_select_impl.h"
#include "pgpitr/repo/object_index.h"
#include "pgpitr/repo/tl_production.h"

#define US_PER_SEC INT64_C(1000000)

/* ---- timelines -------------------------------------------------------------------------- */

typedef enum { TL_LATEST, TL_CURRENT, TL_NUMBER, TL_PRODUCTION } TimelineMode;

typedef struct Timelines {
    WalHistoryIndex *ix;
    TimelineMode mode;
    uint32_t tli;                       /* LATEST, NUMBER, PRODUCTION: the target timeline */
    uint32_t latest;                    /* PostgreSQL's latest (and backups' timelines) */
    bool act_loaded;                    /* act and prod are known */
    TlActivityList act;                 /* what each timeline received (tl_production.h) */
    TlProduction prod;
    PgTimelineHistory *h;               /* cache, one per timeline asked for */
    bool *found;
    size_t n, cap;                      /* h and found: n used, cap allocated */
} Timelines;

static void timelines_free(Timelines *t)
{
    for (size_t i = 0; i < t->n; i++)
        pg_timeline_free(&t->h[i]);
    free(t->h);
    free(t->found);
    tl_activity_free(&t->act);
}

static int timeline_history(Timelines *t, uint32_t tli, size_t *idx, PgpErr *err)
{
    for (*idx = 0; *idx < t->n; (*idx)++)
        if (t->h[*idx].tli == tli)
            return 0;
    size_t cap_h = t->cap;              /* t->cap moves once both have grown */
    if (GROW(t->h, t->n, cap_h, 4, NULL, err) != 0 ||
        GROW(t->found, t->n, t->cap, 4, NULL, err) != 0)
        return PGP_ERR_NOMEM;
    int rc = wal_history_read(t->ix, tli, &t->h[t->n], &t->found[t->n], err);
    if (rc != 0) {
        pg_timeline_free(&t->h[t->n]);
        return rc;
    }
    *idx = t->n++;
    return 0;
}

/* Production's timeline, from every archive directory's listing (read once). */
static int load_activity(Timelines *t, PgpErr *err)
{
    if (t->act_loaded)
        return 0;
    int rc = wal_history_activity(t->ix, &t->act, err);
    if (rc == 0) {
        tl_production_decide(&t->act, &t->prod);
        t->act_loaded = true;
    }
    return rc;
}

static int timelines_init(Timelines *t, const RestoreTargetSpec *spec, const Candidates *c,
                          PgpErr *err)
{
    const char *v = spec->timeline;
    if (v == NULL)
        v = spec->kind == RESTORE_TARGET_IMMEDIATE ? "current" : "latest";
    if (strcmp(v, "current") == 0) {
        t->mode = TL_CURRENT;
    } else if (strcmp(v, "latest") == 0) {
        t->mode = TL_LATEST;
    } else if (strcmp(v, "production") == 0) {
        t->mode = TL_PRODUCTION;
    } else {
        char *end = NULL;
        unsigned long n = strtoul(v, &end, 10);
        if (v[0] < '0' || v[0] > '9' || *end != '\0' || n == 0 || n > UINT32_MAX)
            return PGP_FAIL(err, PGP_ERR_USAGE, "invalid target timeline \"%.32s\" (expected "
                            "latest, production, current or a timeline ID)", v);
        t->mode = TL_NUMBER;
        t->tli = (uint32_t)n;
    }
    int rc = wal_history_latest_timeline(t->ix, &t->latest, err);
    for (size_t i = 0; rc == 0 && i < c->n; i++) /* a backup on a timeline whose history file */
        if (c->v[i]->timeline > t->latest)       /* is gone still defines that timeline */
            t->latest = c->v[i]->timeline;
    /* whether the timeline followed is production's: the same listing answers every mode but
     * current (a backup's own timeline, --target-immediate's default: nothing after its end) */
    if (rc == 0 && t->mode != TL_CURRENT)
        rc = load_activity(t, err);
    if (t->mode == TL_LATEST || (t->mode == TL_PRODUCTION && !t->prod.known))
        t->tli = t->latest;
    else if (t->mode == TL_PRODUCTION)
        t->tli = t->prod.tli;
    return rc;
}

static uint32_t target_tli_of(const Timelines *t, const BackupManifest *m)
{
    return t->mode == TL_CURRENT ? m->timeline : t->tli;
}

/* Why this timeline: "latest: the highest timeline with a history file in the archive". */
static void timeline_why(const Timelines *t, char *out, size_t size)
{
    char prod[160];
    if (t->mode == TL_LATEST) {
        snprintf(out, size, "latest: the highest timeline with a history file in the archive");
    } else if (t->mode == TL_CURRENT) {
        snprintf(out, size, "current: the backup's own");
    } else if (t->mode == TL_NUMBER) {
        snprintf(out, size, "--target-timeline");
    } else if (!t->prod.known) {
        snprintf(out, size, "latest: production's cannot be told, nothing is archived");
    } else {
        tl_production_describe(&t->prod, prod, sizeof prod);
        snprintf(out, size, "production's: %s", prod);
    }
}

/* ---- choosing ---------------------------------------------------------------------------- */

typedef struct Skipped {
    size_t after, off;                  /* end after the target / not on the history */
    const BackupManifest *oldest_after; /* the earliest-ending one skipped for the target */
    const BackupManifest *first_off;
} Skipped;

static bool reaches(const BackupManifest *m, const RestoreTargetSpec *t)
{
    if (t->kind == RESTORE_TARGET_TIME)
        return (m->stop_time + 1) * US_PER_SEC <= t->time_us;
    if (t->kind == RESTORE_TARGET_LSN)
        return m->stop_lsn <= t->lsn;
    return true;
}

static void backup_end_text(const BackupManifest *m, char *out, size_t size)
{
    char lsn[20], when[RESTORE_TIME_TEXT_MAX];
    pg_lsn_format(m->stop_lsn, lsn);
    restore_format_time(m->stop_time * US_PER_SEC, when);
    snprintf(out, size, "LSN %s, %s", lsn, when);
}

/* --backup LABEL that cannot reach the target: say why. */
static int refuse_label(const BackupManifest *m, const RestoreTargetSpec *t,
                        const PgTimelineHistory *h, bool on_path, PgpErr *err)
{
    char end[80], target[160], fork[20], path[160];
    backup_end_text(m, end, sizeof end);
    restore_target_describe(t, target, sizeof target);
    pg_timeline_describe(h, path, sizeof path);
    if (!on_path) {
        const PgTimelineEntry *e = pg_timeline_find(h, m->timeline);
        if (e != NULL) {
            pg_lsn_format(e->end, fork);
            PGP_FAIL(err, PGP_ERR_USAGE, "backup \"%s\" cannot reach timeline %" PRIu32 ": that "
                     "timeline forked off timeline %" PRIu32 " at %s, before the backup's end (%s)",
                     m->label, h->tli, m->timeline, fork, end);
        } else {
            PGP_FAIL(err, PGP_ERR_USAGE, "backup \"%s\" (timeline %" PRIu32 ") is not on "
                     "timeline %" PRIu32 "'s history (%s)", m->label, m->timeline, h->tli, path);
        }
        pgp_err_hint(err, "choose the timeline with --target-timeline (current: the backup's "
                     "own), or another backup");
        return PGP_ERR_USAGE;
    }
    PGP_FAIL(err, PGP_ERR_USAGE, "target %s is not after the end of backup \"%s\" (%s)", target,
             m->label, end);
    pgp_err_hint(err, "the earliest point this backup can recover to is its end (%s; stop times "
                 "are whole seconds): choose an older backup, or leave out --backup", end);
    return PGP_ERR_USAGE;
}

static int refuse_none(const Candidates *c, const Skipped *sk, const RestoreTargetSpec *t,
                       const Timelines *tl, PgpErr *err)
{
    char target[160], end[80] = "", path[160] = "";
    restore_target_describe(t, target, sizeof target);
    if (sk->oldest_after != NULL)
        backup_end_text(sk->oldest_after, end, sizeof end);
    if (tl->mode != TL_CURRENT && tl->n > 0)
        pg_timeline_describe(&tl->h[0], path, sizeof path);
    char why[160] = "";
    size_t w = 0;
    if (sk->after > 0)
        w += (size_t)snprintf(why, sizeof why, "%zu of %zu complete backups end%s after it",
                              sk->after, c->n, sk->after == 1 ? "s" : "");
    if (sk->off > 0 && w < sizeof why)
        snprintf(why + w, sizeof why - w, "%s%zu of %zu %s not on timeline %" PRIu32 "'s history",
                 w > 0 ? ", " : "", sk->off, c->n, sk->off == 1 ? "is" : "are", tl->tli);
    PGP_FAIL(err, PGP_ERR_NOT_FOUND, "no complete backup can reach target %s: %s", target, why);
    if (sk->oldest_after != NULL && sk->off == 0)
        pgp_err_hint(err, "the earliest recoverable point is the end of backup \"%s\": %s",
                     sk->oldest_after->label, end);
    else if (sk->oldest_after != NULL)
        pgp_err_hint(err, "the earliest recoverable point is the end of backup \"%s\": %s; "
                     "timeline %" PRIu32 "'s history: %s (choose another with "
                     "--target-timeline)", sk->oldest_after->label, end, tl->tli, path);
    else
        pgp_err_hint(err, "timeline %" PRIu32 "'s history: %s%s; choose another timeline with "
                     "--target-timeline (current: each backup's own)", tl->tli, path,
                     tl->n > 0 && !tl->found[0] && tl->tli > 1 ? " (no history file archived)"
                                                               : "");
    return PGP_ERR_NOT_FOUND;
}

static void make_why(RestorePlan *p, const RestoreRequest *req, const Skipped *sk,
                     const Candidates *c)
{
    const RestoreTargetSpec *t = &req->target;
    char target[160], extra[128] = "";
    int n = 0;
    if (req->label != NULL) {
        snprintf(p->why, sizeof p->why, "requested with --backup");
        return;
    }
    restore_target_describe(t, target, sizeof target);
    if (t->kind == RESTORE_TARGET_TIME || t->kind == RESTORE_TARGET_LSN)
        n = snprintf(p->why, sizeof p->why, "newest complete backup ending before %s on timeline "
                     "%" PRIu32 "'s history", target, p->target_tli);
    else if (t->kind == RESTORE_TARGET_IMMEDIATE)
        n = snprintf(p->why, sizeof p->why, "newest complete backup on timeline %" PRIu32 "'s "
                     "history", p->target_tli);
    else if (t->kind == RESTORE_TARGET_LATEST)
        n = snprintf(p->why, sizeof p->why, "newest complete backup on timeline %" PRIu32 "'s "
                     "history, to replay all archived WAL", p->target_tli);
    else
        n = snprintf(p->why, sizeof p->why, "newest complete backup on timeline %" PRIu32 "'s "
                     "history (%s cannot be placed in time: it must lie after this backup's end)",
                     p->target_tli, t->kind == RESTORE_TARGET_XID ? "an xid" : "a restore point");
    size_t e = 0;
    if (sk->after > 0)
        e += (size_t)snprintf(extra + e, sizeof extra - e, "; %zu newer end after the target",
                              sk->after);
    if (sk->off > 0 && e < sizeof extra)
        e += (size_t)snprintf(extra + e, sizeof extra - e, "; %zu not on this timeline", sk->off);
    if (c->n_incomplete > 0 && e < sizeof extra)
        snprintf(extra + e, sizeof extra - e, "; %zu incomplete ignored", c->n_incomplete);
    if (n > 0 && (size_t)n < sizeof p->why)
        snprintf(p->why + n, sizeof p->why - (size_t)n, "%s", extra);
}

/* What choose() lent the plan (the candidate's manifest, the cached history) until adopt(). */
typedef struct Chosen {
    size_t cand, hist;
} Chosen;

static int choose(RestorePlan *p, const RestoreRequest *req, Candidates *c, Timelines *tl,
                  Chosen *ch, PgpErr *err)
{
    Skipped sk = {0};
    for (size_t i = 0; i < c->n; i++) {
        BackupManifest *m = c->v[i];
        size_t idx;
        int rc = timeline_history(tl, target_tli_of(tl, m), &idx, err);
        if (rc != 0)
            return rc;
        bool on_path = pg_timeline_contains(&tl->h[idx], m->timeline, m->stop_lsn, NULL);
        bool ok = on_path && reaches(m, &req->target);
        if (!ok && req->label != NULL)
            return refuse_label(m, &req->target, &tl->h[idx], on_path, err);
        if (!ok && !on_path) {
            sk.off++;
            sk.first_off = sk.first_off ? sk.first_off : m;
        } else if (!ok) {
            sk.after++;
            sk.oldest_after = m; /* newest first: the last one seen ends earliest */
        }
        if (!ok)
            continue;
        p->manifest = m;                /* lent: adopt() takes it, unlend() forgets it */
        p->target_tli = tl->h[idx].tli;
        p->history = tl->h[idx];
        p->history_found = tl->found[idx];
        *ch = (Chosen){.cand = i, .hist = idx};
        timeline_why(tl, p->timeline_why, sizeof p->timeline_why);
        snprintf(p->timeline_text, sizeof p->timeline_text, "%" PRIu32 " (%s)", p->target_tli,
                 p->timeline_why);
        pg_timeline_describe(&p->history, p->path_text, sizeof p->path_text);
        make_why(p, req, &sk, c);
        return 0;
    }
    return refuse_none(c, &sk, &req->target, tl, err);
}

/* ---- validating --------------------------------------------------------------------------- */

/* A file's content object, or PostgreSQL's backup_manifest (item NULL). */
typedef struct ObjRef {
    const ManifestPackItem *item;
    const char *object;                 /* item NULL: this object */
} ObjRef;

static const char *objref_object(const ObjRef *r, char buf[REPO_PATH_MAX])
{
    return r->item != NULL ? manifest_pack_item_content(r->item, buf) : r->object;
}

static int objref_cmp(const void *a, const void *b)
{
    const ObjRef *x = a, *y = b;
    if (x->item != NULL && y->item != NULL)
        return manifest_pack_content_cmp(x->item, y->item);
    char bx[REPO_PATH_MAX], by[REPO_PATH_MAX];
    return strcmp(objref_object(x, bx), objref_object(y, by));
}

static int check_objects(Storage *s, const CryptoRepoKey *key, int jobs, const BackupManifest *m,
                         const ManifestPack *files, size_t *checked, PgpErr *err)
{
    size_t count = manifest_pack_count(files), n = 0;
    ObjRef *refs = calloc(count + 1, sizeof *refs);
    char buf[REPO_PATH_MAX];
    if (refs == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    /* A file stored as chunks: its list here, then its chunks (restore_chunk_check.h), once
     * every list is known to exist. */
    for (size_t i = 0; i < count; i++) {
        const ManifestPackItem *it = manifest_pack_at(files, i);
        if (manifest_pack_item_content(it, buf) != NULL)
            refs[n++] = (ObjRef){.item = it};
    }
    if (m->pg_manifest_object != NULL)
        refs[n++] = (ObjRef){.object = m->pg_manifest_object};
    qsort(refs, n, sizeof *refs, objref_cmp);
    /* Listings instead of a request per object where that saves requests (S3): the index is
     * told every object first. The caller's READ lock excludes expire, the only remover of
     * objects, until the files are written. */
    ObjectIndex *ix = NULL;
    int rc = object_index_new(s, OBJECT_INDEX_AUTO, 0, &ix, err);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (i == 0 || objref_cmp(&refs[i], &refs[i - 1]) != 0)
            object_index_expect(ix, objref_object(&refs[i], buf));
    *checked = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0 && objref_cmp(&refs[i], &refs[i - 1]) == 0)
            continue;
        const char *object = objref_object(&refs[i], buf);
        rc = object_index_stat(ix, object, NULL, err);
        (*checked)++;
        if (rc == PGP_ERR_NOT_FOUND) {
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "backup \"%s\" is damaged: object \"%s\" (content "
                          "of \"%s\") is missing from the repository", m->label, object,
                          refs[i].item != NULL ? manifest_pack_item_path(refs[i].item)
                                               : "backup_manifest");
            pgp_err_hint(err, "nothing was written; choose another backup with --backup LABEL");
        } else if (rc != 0) {
            pgp_err_context(err, "cannot check object \"%s\" of backup \"%s\"", object,
                            m->label);
        }
    }
    /* Lists are read on --jobs threads (4 without: reading them is waiting on storage). */
    RestoreChunkCheck cc = {.s = s, .key = key, .ix = ix, .workers = jobs > 0 ? jobs : 4};
    RestoreChunkCheckResult cr;
    if (rc == 0)
        rc = restore_chunk_check(&cc, m, files, &cr, err);
    if (rc == 0)
        *checked += cr.chunks;
    object_index_free(ix);
    free(refs);
    return rc;
}

static uint64_t backup_last_segno(const BackupManifest *m, uint32_t segsize)
{
    return pg_lsn_segno(m->stop_lsn > m->start_lsn ? m->stop_lsn - 1 : m->stop_lsn, segsize);
}

/* "WAL segment X is missing ...: backup B can reach at most ..." with the recoverable range. */
static int refuse_wal(const RestorePlan *p, const RestoreTargetSpec *t, PgpErr *err)
{
    const BackupManifest *m = p->manifest;
    char target[160], latest[20], when[RESTORE_TIME_TEXT_MAX], end[80];
    restore_target_describe(t, target, sizeof target);
    pg_lsn_format(p->latest_lsn, latest);
    restore_format_time(p->latest_time * US_PER_SEC, when);
    backup_end_text(m, end, sizeof end);
    PGP_FAIL(err, PGP_ERR_NOT_FOUND, "WAL segment %s %s: backup \"%s\" can reach at most LSN %s "
             "(about %s), not target %s", p->wal.missing,
             p->wal.gap ? "is missing from the archive" : "is not archived (yet)", m->label, latest,
             when, target);
    const char *gap = p->wal.gap ? "; later WAL is archived, e.g. " : "";
    if (p->ends_at_backup)
        pgp_err_hint(err, "nothing was archived after this backup ended: in time it recovers only "
                     "to its end (%s), by LSN up to %s (end of segment %s)%s%s", end, latest,
                     p->wal.last_name, gap, p->wal.gap ? p->wal.gap_next : "");
    else
        pgp_err_hint(err, "recoverable with this backup: earliest %s (its end), latest LSN %s "
                     "(about %s: the archive time of segment %s, approximate)%s%s", end, latest,
                     when, p->wal.last_name, gap, p->wal.gap ? p->wal.gap_next : "");
    return PGP_ERR_NOT_FOUND;
}

static uint64_t walk_until(const RestorePlan *p, const RestoreTargetSpec *t, uint32_t segsize)
{
    if (t->kind == RESTORE_TARGET_LSN)
        return pg_lsn_segno(t->lsn, segsize);
    if (t->kind == RESTORE_TARGET_IMMEDIATE)
        return backup_last_segno(p->manifest, segsize);
    return UINT64_MAX;
}

static int check_wal(RestorePlan *p, WalHistoryIndex *ix, const RestoreTargetSpec *t, bool quiet,
                     PgpErr *err)
{
    const BackupManifest *m = p->manifest;
    uint32_t segsize = wal_history_segsize(ix);
    int rc = wal_history_walk(ix, &p->history, pg_lsn_segno(m->start_lsn, segsize),
                              walk_until(p, t, segsize), &p->wal, err);
    if (rc != 0)
        return rc;
    p->wal_segments = p->wal.n_present;
    RecoveryWindow w;
    recovery_window(m->stop_time, m->stop_lsn, p->wal.last_mtime,
                    (p->wal.last_segno + 1) * (uint64_t)segsize, &w);
    p->latest_lsn = w.to_lsn;
    p->latest_time = w.to_time;
    p->ends_at_backup = w.ends_at_backup;
    if (p->wal.complete)
        return 0;
    if (p->wal.missing_segno <= backup_last_segno(m, segsize)) {
        PGP_FAIL(err, PGP_ERR_NOT_FOUND, "WAL segment %s of backup \"%s\" itself is missing from "
                 "the archive: the backup cannot be restored", p->wal.missing, m->label);
        pgp_err_hint(err, "nothing was written; choose another backup with --backup LABEL");
        return PGP_ERR_NOT_FOUND;
    }
    switch (t->kind) {
    case RESTORE_TARGET_LSN:
    case RESTORE_TARGET_IMMEDIATE:
        return refuse_wal(p, t, err);
    case RESTORE_TARGET_LATEST:
        return p->wal.gap ? refuse_wal(p, t, err) : 0;
    case RESTORE_TARGET_TIME:
        return t->time_us >= (p->latest_time + 1) * US_PER_SEC ? refuse_wal(p, t, err) : 0;
    default:
        if (p->wal.gap && !quiet)
            log_warn("WAL segment %s is missing from the archive (later WAL such as %s is "
                     "archived): recovery ends with an error there if the target lies beyond it",
                     p->wal.missing, p->wal.gap_next);
        return 0;
    }
}

/* ---- the timeline explained ---------------------------------------------------------------- */

static void adopt(RestorePlan *p, Candidates *c, Timelines *tl, const Chosen *ch)
{
    c->v[ch->cand] = NULL;
    tl->h[ch->hist] = (PgTimelineHistory){.tli = p->target_tli}; /* distinct, now empty */
}

static void unlend(RestorePlan *p)
{
    p->manifest = NULL;
    p->history = (PgTimelineHistory){0};
}

/* Would the target be reachable following timeline tli? The same choice and WAL walk, quiet. */
static bool reachable_on(const RestoreRequest *req, Candidates *c, Timelines *tl, uint32_t tli)
{
    Timelines saved = *tl;
    RestorePlan p = {0};
    Chosen ch;
    PgpErr e;
    tl->mode = TL_NUMBER;
    tl->tli = tli;
    int rc = choose(&p, req, c, tl, &ch, &e);
    if (rc == 0)
        rc = check_wal(&p, tl->ix, &req->target, true, &e);
    unlend(&p);
    tl->mode = saved.mode;
    tl->tli = saved.tli;
    return rc == 0;
}

#define COVER_TRIALS_MAX 32

/* " or --target-timeline 4" for every other timeline that reaches the target. */
static void covering(const RestoreRequest *req, Candidates *c, Timelines *tl, char *out,
                     size_t size)
{
    size_t used = 0, tried = 0;
    out[0] = '\0';
    PgpErr e;
    if (load_activity(tl, &e) != 0)
        return;
    for (size_t i = 0; i < c->n; i++)    /* backups' timelines are candidates, archived or not */
        if (tl_activity_get(&tl->act, c->v[i]->timeline) == NULL)
            return;
    for (size_t i = 0; i < tl->act.n && tried < COVER_TRIALS_MAX; i++) {
        uint32_t tli = tl->act.v[i].tli;
        if (tl->mode != TL_CURRENT && tli == tl->tli)
            continue;
        tried++;
        if (!reachable_on(req, c, tl, tli))
            continue;
        int n = snprintf(out + used, size - used, "%s--target-timeline %" PRIu32 "%s",
                         used ? " or " : "", tli,
                         tl->prod.known && tl->prod.tli == tli ? " (production's timeline)" : "");
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

/* Reachability errors name the timeline chosen, why, and every timeline that does reach the
 * target, with the flag to use: restore's "latest" may be a copy's timeline, not production's. */
static void explain(const RestoreRequest *req, Candidates *c, Timelines *tl, PgpErr *err)
{
    if (err == NULL)
        return;
    char why[224], cover[256], old[PGP_ERR_HINT_MAX];
    timeline_why(tl, why, sizeof why);
    covering(req, c, tl, cover, sizeof cover);
    size_t len = strlen(err->msg);
    if (tl->mode == TL_CURRENT)
        snprintf(err->msg + len, sizeof err->msg - len, "; each backup's own timeline was "
                 "followed (%s)", why);
    else
        snprintf(err->msg + len, sizeof err->msg - len, "; timeline %" PRIu32 " was followed "
                 "(%s)", tl->tli, why);
    snprintf(old, sizeof old, "%s", err->hint);
    if (cover[0] != '\0')
        pgp_err_hint(err, "the target is reachable with %s%s%s", cover, old[0] ? "; " : "", old);
    else
        pgp_err_hint(err, "%s%sno other timeline reaches the target either", old,
                     old[0] ? "; " : "");
}

/* Production's timeline, latest, what each timeline received (moved into the plan), and the
 * warnings about them for the modes that choose by themselves. */
static void timeline_facts(RestorePlan *p, Timelines *tl)
{
    p->production = tl->prod;
    p->latest_tli = tl->latest;
    p->timelines = tl->act;
    tl->act = (TlActivityList){0};
    if (tl->mode != TL_LATEST && tl->mode != TL_PRODUCTION)
        return;
    tl_production_warning(&tl->prod, tl->mode == TL_PRODUCTION, p->target_tli, tl->latest,
                          p->warning, sizeof p->warning);
    tl_production_fork_warning(&p->timelines, p->target_tli, (int64_t)time(NULL),
                               wal_history_segsize(tl->ix), p->fork_warning,
                               sizeof p->fork_warning);
}

/* Candidates hold manifest headers only (restore_select.c): the chosen backup's entries are
 * read now (with --backup they were, with its header), into a compact pack, so that only one
 * backup's files are ever in memory, at about 90 bytes a file (manifest_pack.h). */
static int load_chosen(Storage *s, const CryptoRepoKey *key, RestorePlan *p, Candidates *c,
                       const Chosen *ch, PgpErr *err)
{
    BackupManifest *h = c->v[ch->cand], *m = NULL;
    if (c->files != NULL) {
        p->files = c->files;
        c->files = NULL;
        return 0;
    }
    int rc = manifest_load_packed(s, key, h->label, &m, &p->files, err);
    if (rc != 0)
        return pgp_err_context(err, "cannot read the manifest of backup \"%s\"", h->label);
    manifest_free(h);
    c->v[ch->cand] = m;
    p->manifest = m;
    return 0;
}

int restore_plan_make(Repo *repo, const RestoreRequest *req, RestorePlan *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    Candidates c;
    Timelines tl = {0};
    Chosen ch = {0};
    int rc = restore_load_candidates(repo_storage(repo), repo_crypto_key(repo), req->label, &c,
                                     err);
    if (rc != 0)
        return rc;
    out->n_complete = c.n;
    out->n_incomplete = c.n_incomplete;
    rc = wal_history_index_new(repo, &tl.ix, err);
    if (rc == 0)
        rc = timelines_init(&tl, &req->target, &c, err);
    if (rc == 0) {
        rc = choose(out, req, &c, &tl, &ch, err);
        if (rc == 0)
            rc = load_chosen(repo_storage(repo), repo_crypto_key(repo), out, &c, &ch, err);
        if (rc == 0)
            rc = check_objects(repo_storage(repo), repo_crypto_key(repo), req->jobs,
                               out->manifest, out->files, &out->n_objects, err);
        if (rc == 0)
            rc = check_wal(out, tl.ix, &req->target, false, err);
        if (rc == PGP_ERR_NOT_FOUND || rc == PGP_ERR_USAGE)
            explain(req, &c, &tl, err);
    }
    if (rc == 0) {
        adopt(out, &c, &tl, &ch);
        timeline_facts(out, &tl);
    } else {
        unlend(out);
    }
    timelines_free(&tl);
    wal_history_index_free(tl.ix);
    restore_candidates_free(&c);
    if (rc != 0)
        restore_plan_free(out);
    return rc;
}

void restore_plan_free(RestorePlan *p)
{
    if (p == NULL)
        return;
    manifest_free(p->manifest);
    manifest_pack_free(p->files);
    pg_timeline_free(&p->history);
    tl_activity_free(&p->timelines);
    memset(p, 0, sizeof *p);
}

void restore_plan_report(const RestorePlan *p, RestoreReport *rep)
{
    const BackupManifest *m = p->manifest;
    snprintf(rep->label, sizeof rep->label, "%s", m->label);
    snprintf(rep->why, sizeof rep->why, "%s", p->why);
    rep->backup_start_lsn = m->start_lsn;
    rep->backup_stop_lsn = m->stop_lsn;
    rep->backup_start_time = m->start_time;
    rep->backup_stop_time = m->stop_time;
    rep->backup_timeline = m->timeline;
    rep->backup_size = m->size;
    rep->backup_stored_size = m->stored_size;
    rep->target_timeline = p->target_tli;
    rep->pg_major = m->pg_major;
    snprintf(rep->timeline_path, sizeof rep->timeline_path, "%s", p->path_text);
    rep->wal_segments = p->wal_segments;
    rep->latest_lsn = p->latest_lsn;
    rep->latest_time = p->latest_time;
}
