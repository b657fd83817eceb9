/*
 * wal_history.c - the archived WAL as restore, the drill, archive-get's miss and the catalog see
 * it (wal_history.h): an index of archived segments built lazily from one listing per archive
 * directory, timeline history files read from the archive, and the walk along a history that
 * finds the end of the contiguous WAL and tells a hole from the archive's end.
 *
 * Read-only. Why an index instead of repo_archive_find per segment: a find lists its whole
 * directory (up to 256 segments of 16 MiB), so walking a month of WAL segment by segment
 * would list each directory hundreds of times; here each directory is listed once.
 */
#include "pgpitr/repo/wal_history.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/wal_index.h"

#define DIR_NAME_LEN REPO_LAYOUT_WAL_DIR_LEN
#define READ_CHUNK (64u << 10)

typedef struct WalSeg {
    uint64_t segno;
    int64_t mtime;
    char sha[PIPE_SHA256_HEX_LEN + 1];
    bool conflict;                      /* another object of the same name, other content */
} WalSeg;

typedef struct WalDir {
    char name[DIR_NAME_LEN + 1];        /* TTTTTTTTXXXXXXXX */
    uint32_t tli, log;
    WalSeg *segs;                       /* sorted by segno, one per segno */
    size_t n, cap;
    bool loaded;
} WalDir;

struct WalHistoryIndex {
    Repo *repo;
    uint32_t segsize;
    WalDir *dirs;                       /* sorted by name */
    size_t n_dirs, cap_dirs;
    bool top_loaded;
};

uint32_t wal_history_segsize(const WalHistoryIndex *ix)
{
    return ix->segsize;
}

int wal_history_index_new(Repo *repo, WalHistoryIndex **out, PgpErr *err)
{
    *out = NULL;
    const RepoIdentity *id = repo_identity(repo);
    if (id == NULL || !pg_wal_segsize_valid(id->wal_segsize))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "repository is not bound to a cluster");
    WalHistoryIndex *ix = calloc(1, sizeof *ix);
    if (ix == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    ix->repo = repo;
    ix->segsize = id->wal_segsize;
    *out = ix;
    return 0;
}

void wal_history_index_free(WalHistoryIndex *ix)
{
    if (ix == NULL)
        return;
    for (size_t i = 0; i < ix->n_dirs; i++)
        free(ix->dirs[i].segs);
    free(ix->dirs);
    free(ix);
}

static uint32_t hex32(const char *s)
{
    char buf[9];
    memcpy(buf, s, 8);
    buf[8] = '\0';
    return (uint32_t)strtoul(buf, NULL, 16);
}

/* ---- the index ------------------------------------------------------------------------- */

static int on_top(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    WalHistoryIndex *ix = ud;
    const char *name = e->entry;
    if (!e->info->is_dir || !wal_index_dir_name_valid(name))
        return 0;
    if (GROW(ix->dirs, ix->n_dirs, ix->cap_dirs, 16, "archive directories", err) != 0)
        return PGP_ERR_NOMEM;
    WalDir *d = &ix->dirs[ix->n_dirs++];
    memset(d, 0, sizeof *d);
    memcpy(d->name, name, DIR_NAME_LEN + 1);
    d->tli = hex32(name);
    d->log = hex32(name + 8);
    return 0;
}

static int dir_cmp(const void *a, const void *b)
{
    return strcmp(((const WalDir *)a)->name, ((const WalDir *)b)->name);
}

static int load_top(WalHistoryIndex *ix, PgpErr *err)
{
    if (ix->top_loaded)
        return 0;
    int rc = wal_index_list_dirs(repo_storage(ix->repo), on_top, ix, err);
    if (rc != 0)
        return rc;
    if (ix->n_dirs > 1)
        qsort(ix->dirs, ix->n_dirs, sizeof *ix->dirs, dir_cmp);
    ix->top_loaded = true;
    return 0;
}

typedef struct DirLoad {
    WalDir *d;
    uint32_t segsize;
} DirLoad;

/* The segments of this directory (its .partial and .backup files are not segments). */
static int on_seg(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    DirLoad *l = ud;
    WalDir *d = l->d;
    uint64_t segno;
    if (e->name == NULL || e->name->parsed.kind != PG_WALFILE_SEGMENT ||
        !pg_walname_segno(&e->name->parsed, l->segsize, &segno))
        return 0;
    if (GROW(d->segs, d->n, d->cap, 64, "archived segments", err) != 0)
        return PGP_ERR_NOMEM;
    WalSeg *s = &d->segs[d->n++];
    memset(s, 0, sizeof *s);
    s->segno = segno;
    s->mtime = e->info->mtime;
    memcpy(s->sha, e->name->sha256_hex, sizeof s->sha);
    return 0;
}

static int seg_cmp(const void *a, const void *b)
{
    uint64_t x = ((const WalSeg *)a)->segno, y = ((const WalSeg *)b)->segno;
    return x < y ? -1 : x > y;
}

/* Sorts and merges objects of the same segment (same content: one; else a conflict). */
static void dir_merge(WalDir *d)
{
    if (d->n > 1)
        qsort(d->segs, d->n, sizeof *d->segs, seg_cmp);
    size_t w = 0;
    for (size_t r = 0; r < d->n; r++) {
        if (w > 0 && d->segs[w - 1].segno == d->segs[r].segno) {
            WalSeg *prev = &d->segs[w - 1];
            if (strcmp(prev->sha, d->segs[r].sha) != 0)
                prev->conflict = true;
            if (d->segs[r].mtime > prev->mtime)
                prev->mtime = d->segs[r].mtime;
            continue;
        }
        d->segs[w++] = d->segs[r];
    }
    d->n = w;
}

static int load_dir(WalHistoryIndex *ix, WalDir *d, PgpErr *err)
{
    if (d->loaded)
        return 0;
    char path[REPO_PATH_MAX];
    DirLoad l = {.d = d, .segsize = ix->segsize};
    int rc = repo_archive_wal_dir(d->name, path, err);
    if (rc == 0)
        rc = wal_index_list_dir(repo_storage(ix->repo), path, on_seg, &l, err);
    if (rc != 0)
        return rc;
    dir_merge(d);
    d->loaded = true;
    return 0;
}

static WalDir *dir_of(WalHistoryIndex *ix, uint32_t tli, uint32_t log)
{
    WalDir key;
    snprintf(key.name, sizeof key.name, "%08" PRIX32 "%08" PRIX32, tli, log);
    return ix->n_dirs > 0 ? bsearch(&key, ix->dirs, ix->n_dirs, sizeof *ix->dirs, dir_cmp) : NULL;
}

static int lookup(WalHistoryIndex *ix, uint32_t tli, uint64_t segno, const WalSeg **out,
                  PgpErr *err)
{
    *out = NULL;
    uint64_t per = pg_wal_segs_per_id(ix->segsize);
    int rc = load_top(ix, err);
    WalDir *d = rc == 0 ? dir_of(ix, tli, (uint32_t)(segno / per)) : NULL;
    if (d == NULL)
        return rc;
    if ((rc = load_dir(ix, d, err)) != 0)
        return rc;
    WalSeg key = {.segno = segno};
    *out = d->n > 0 ? bsearch(&key, d->segs, d->n, sizeof *d->segs, seg_cmp) : NULL;
    if (*out != NULL && (*out)->conflict) {
        char name[PG_WALNAME_SEG_LEN + 1];
        pg_walname_format(tli, segno, ix->segsize, name);
        PGP_FAIL(err, PGP_ERR_CONFLICT, "WAL segment %s is archived twice with different content",
                 name);
        pgp_err_hint(err, "find out which copy is right and remove the other object from "
                     "\"%s/%s\": archive-get refuses the segment until then", REPO_LAYOUT_WAL_DIR,
                     d->name);
        return PGP_ERR_CONFLICT;
    }
    return 0;
}

int wal_history_find(WalHistoryIndex *ix, const char *name, bool *found, int64_t *mtime,
                     PgpErr *err)
{
    PgWalName wn;
    uint64_t segno;
    *found = false;
    int rc = pg_walname_parse(name, &wn, err);
    if (rc != 0)
        return rc;
    if (wn.kind != PG_WALFILE_SEGMENT || !pg_walname_segno(&wn, ix->segsize, &segno))
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "\"%s\" is not a WAL segment name", name);
    const WalSeg *s = NULL;
    rc = lookup(ix, wn.tli, segno, &s, err);
    if (rc == 0 && s != NULL) {
        *found = true;
        if (mtime != NULL)
            *mtime = s->mtime;
    }
    return rc;
}

/* The lowest archived segment number of tli in [from, to] (dirs and segments are sorted). */
static int first_in(WalHistoryIndex *ix, uint32_t tli, uint64_t from, uint64_t to, bool *found,
                    uint64_t *segno, PgpErr *err)
{
    *found = false;
    uint64_t per = pg_wal_segs_per_id(ix->segsize);
    int rc = load_top(ix, err);
    for (size_t i = 0; rc == 0 && i < ix->n_dirs && !*found; i++) {
        WalDir *d = &ix->dirs[i];
        if (d->tli != tli || d->log < from / per || d->log > to / per)
            continue;
        if ((rc = load_dir(ix, d, err)) != 0)
            break;
        for (size_t j = 0; j < d->n && !*found; j++) {
            *found = d->segs[j].segno >= from && d->segs[j].segno <= to;
            if (*found)
                *segno = d->segs[j].segno;
        }
    }
    return rc;
}

int wal_history_any(WalHistoryIndex *ix, uint32_t tli, uint64_t from, uint64_t to, bool *found,
                    PgpErr *err)
{
    uint64_t segno;
    return first_in(ix, tli, from, to, found, &segno, err);
}

int wal_history_first(WalHistoryIndex *ix, uint32_t tli, uint64_t from, uint64_t to, bool *found,
                      uint64_t *segno, PgpErr *err)
{
    return first_in(ix, tli, from, to, found, segno, err);
}

/* ---- history files ---------------------------------------------------------------------- */

/* The timeline of a history file object ("0000000N.history-<sha256><ext>"); 0 for others. */
static uint32_t history_tli(const WalIndexEntry *e)
{
    return e->name != NULL && e->name->parsed.kind == PG_WALFILE_HISTORY ? e->name->parsed.tli
                                                                          : 0;
}

static int on_history(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    (void)err;   /* cannot fail */
    uint32_t *max = ud;
    if (history_tli(e) > *max)
        *max = history_tli(e);
    return 0;
}

static int list_history(WalHistoryIndex *ix, WalIndexFn fn, void *ud, PgpErr *err)
{
    return wal_index_list_dir(repo_storage(ix->repo), REPO_LAYOUT_HISTORY_DIR, fn, ud, err);
}

int wal_history_latest_timeline(WalHistoryIndex *ix, uint32_t *tli, PgpErr *err)
{
    *tli = 1;
    return list_history(ix, on_history, tli, err);
}

typedef struct TliList {
    uint32_t *v;
    size_t n, cap;
} TliList;

static int on_history_tli(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    TliList *l = ud;
    uint32_t tli = history_tli(e);
    if (tli == 0)
        return 0;
    if (GROW(l->v, l->n, l->cap, 16, "timelines", err) != 0)
        return PGP_ERR_NOMEM;
    l->v[l->n++] = tli;
    return 0;
}

static int tli_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int wal_history_tlis(WalHistoryIndex *ix, uint32_t **tlis, size_t *n, PgpErr *err)
{
    TliList l = {0};
    *tlis = NULL;
    *n = 0;
    int rc = list_history(ix, on_history_tli, &l, err);
    if (rc != 0) {
        free(l.v);
        return rc;
    }
    if (l.n > 1) /* one entry per timeline, whatever order the driver lists in */
        qsort(l.v, l.n, sizeof *l.v, tli_cmp);
    size_t w = 0;
    for (size_t r = 0; r < l.n; r++)
        if (w == 0 || l.v[w - 1] != l.v[r])
            l.v[w++] = l.v[r];
    *tlis = l.v;
    *n = w;
    return 0;
}

typedef struct MemSink {
    char *buf;
    size_t len;
} MemSink;

static int mem_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    MemSink *m = ud;
    if (len > PG_TIMELINE_HISTORY_MAX - m->len)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "larger than %zu bytes", PG_TIMELINE_HISTORY_MAX);
    char *p = realloc(m->buf, m->len + len + 1);
    if (p == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    memcpy(p + m->len, buf, len);
    m->buf = p;
    m->len += len;
    return 0;
}

/* The object into memory; the checksum must equal the one in its name. */
static int read_verified(Repo *repo, const RepoArchiveObject *obj, MemSink *out, PgpErr *err)
{
    char buf[4096], ad[REPO_PATH_MAX];
    ObjectReadOptions opt = {.codec = obj->codec, .expect_sha256 = obj->sha256_hex,
                             .expect_name = true, .buf = buf, .buf_size = sizeof buf};
    ObjectReadResult res;
    int rc = repo_archive_seal(repo, obj, &opt.seal, ad, err);
    return rc != 0 ? rc
                   : object_io_read_verify(repo_storage(repo), obj->path, &opt,
                                           (PipeSink){mem_write, out}, &res, err);
}

int wal_history_read(WalHistoryIndex *ix, uint32_t tli, PgTimelineHistory *out, bool *found,
                     PgpErr *err)
{
    char name[32];
    RepoArchiveObject obj;
    *found = false;
    memset(out, 0, sizeof *out);
    if (tli == 1)
        return pg_timeline_single(tli, out, err);
    pg_timeline_history_name(tli, name);
    int rc = repo_archive_find(ix->repo, name, &obj, err);
    if (rc == PGP_ERR_NOT_FOUND)
        return pg_timeline_single(tli, out, err);
    if (rc != 0)
        return rc;
    MemSink m = {0};
    rc = read_verified(ix->repo, &obj, &m, err);
    if (rc != 0) {
        if (err != NULL && err->code == PGP_ERR_NOT_FOUND)
            err->code = rc = PGP_ERR_CORRUPT; /* vanished while read: not "no history" */
        pgp_err_context(err, "cannot read history file \"%s\" (object \"%s\")", name, obj.path);
    }
    if (rc == 0) {
        rc = pg_timeline_parse(tli, m.buf != NULL ? m.buf : "", m.len, out, err);
        *found = rc == 0;
    }
    free(m.buf);
    return rc;
}

/* ---- what each timeline received --------------------------------------------------------- */

static int on_history_note(void *ud, const WalIndexEntry *e, PgpErr *err)
{
    TlActivityList *l = ud;
    uint32_t tli = history_tli(e);
    if (tli == 0)
        return 0;
    return tl_activity_history(l, tli, e->info->mtime, err);
}

/* Where each timeline with a history file forked off: its history's next-to-last entry. A
 * file that does not verify or parse leaves the parent unknown: the timeline restore follows
 * has its history read again, and refused, by whoever needs it. */
static void note_parents(WalHistoryIndex *ix, TlActivityList *l)
{
    for (size_t i = 0; i < l->n; i++) {
        TlActivity *a = &l->v[i];
        PgTimelineHistory h = {0};
        bool found = false;
        PgpErr ignore;
        if (!a->has_history || wal_history_read(ix, a->tli, &h, &found, &ignore) != 0) {
            pg_timeline_free(&h);
            continue;
        }
        if (found && h.n >= 2) {
            a->parent = h.entries[h.n - 2].tli;
            a->fork_lsn = h.entries[h.n - 1].begin;
        }
        pg_timeline_free(&h);
    }
}

int wal_history_activity(WalHistoryIndex *ix, TlActivityList *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    int rc = load_top(ix, err);
    for (size_t i = 0; rc == 0 && i < ix->n_dirs; i++) {
        WalDir *d = &ix->dirs[i];
        if ((rc = load_dir(ix, d, err)) != 0)
            break;
        for (size_t j = 0; rc == 0 && j < d->n; j++) {
            char name[PG_WALNAME_SEG_LEN + 1];
            pg_walname_format(d->tli, d->segs[j].segno, ix->segsize, name);
            rc = tl_activity_segment(out, d->tli, d->segs[j].segno, d->segs[j].mtime, name, err);
        }
    }
    if (rc == 0)
        rc = list_history(ix, on_history_note, out, err);
    if (rc == 0)
        note_parents(ix, out);
    else
        tl_activity_free(out);
    return rc;
}

/* ---- the walk --------------------------------------------------------------------------- */

/* After the hole at walk->missing_segno: is any later segment of the history archived? */
static int find_later(WalHistoryIndex *ix, const PgTimelineHistory *h, WalHistoryWalk *w,
                      PgpErr *err)
{
    uint64_t after = w->missing_segno + 1;
    for (size_t i = 0; i < h->n; i++) {
        uint64_t lo = h->entries[i].begin / ix->segsize;
        uint64_t hi = i + 1 < h->n ? h->entries[i + 1].begin / ix->segsize : UINT64_MAX;
        if (hi != UINT64_MAX) /* the next timeline's first segment replaces this one's last */
            hi = hi > 0 ? hi - 1 : 0;
        if (lo < after)
            lo = after;
        if (lo > hi)
            continue;
        bool found = false;
        uint64_t segno = 0;
        int rc = first_in(ix, h->entries[i].tli, lo, hi, &found, &segno, err);
        if (rc != 0)
            return rc;
        if (!found)
            continue;
        pg_walname_format(h->entries[i].tli, segno, ix->segsize, w->gap_next);
        w->gap = true;
        return 0;
    }
    return 0;
}

int wal_history_walk(WalHistoryIndex *ix, const PgTimelineHistory *h, uint64_t from,
                     uint64_t until, WalHistoryWalk *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    out->first_segno = from;
    for (uint64_t segno = from;; segno++) {
        uint32_t tli = pg_timeline_of_segno(h, segno, ix->segsize);
        const WalSeg *s = NULL;
        int rc = lookup(ix, tli, segno, &s, err);
        if (rc != 0)
            return rc;
        if (s == NULL) {
            pg_walname_format(tli, segno, ix->segsize, out->missing);
            out->missing_segno = segno;
            return find_later(ix, h, out, err);
        }
        out->n_present++;
        out->last_segno = segno;
        out->last_mtime = s->mtime;
        pg_walname_format(tli, segno, ix->segsize, out->last_name);
        if (segno >= until) {
            out->complete = true;
            return 0;
        }
    }
}
