/*
 * verify_check.c - the plan (which objects verify re-reads) and the analysis (what each
 * problem breaks) of `pgpitr verify`; contracts in verify_check.h. Reads no object itself
 * except PostgreSQL's backup_manifest of each checked backup (streamed and checked against its
 * own Manifest-Checksum); prints nothing.
 */
#include "pgpitr/repo/verify_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/repo/object_io.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/pg/pgmanifest.h"
#include "pgpitr/pg/walhdr.h"
#include "pgpitr/pipe/pull_bridge.h"
#include "verify_impl.h"

/* ---- the plan -------------------------------------------------------------------------- */

static const ManifestPackItem *ref_item(const Catalog *c, const VerifyRef *r)
{
    return manifest_pack_at(c->backups[r->backup].files, r->entry);
}

/* By object path, then backup and entry: the references of one object are adjacent. The
 * paths are compared without formatting them (manifest_pack_content_cmp). */
static int ref_cmp(const void *a, const void *b, void *cat)
{
    const VerifyRef *x = a, *y = b;
    int r = manifest_pack_content_cmp(ref_item(cat, x), ref_item(cat, y));
    if (r != 0)
        return r;
    if (x->backup != y->backup)
        return x->backup < y->backup ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

static bool backup_checked(const VerifyPlan *p, const CatalogBackup *b)
{
    return b->status == CATALOG_BACKUP_COMPLETE && (p->only == NULL || p->only == b);
}

static PipeCodec path_codec(const char *path)
{
    PipeCodec codec = PIPE_CODEC_NONE;
    if (!repo_object_codec(path, &codec))
        codec = PIPE_CODEC_NONE;   /* the checksum then fails and names the object */
    return codec;
}

/* A file stored whole (chunked files are verify_chunks.c's). */
static bool whole_file(const ManifestPackItem *it)
{
    char buf[REPO_PATH_MAX];
    return !manifest_pack_item_chunked(it) && manifest_pack_item_content(it, buf) != NULL;
}

/* Every file entry of the checked backups, sorted by object (the plan's refs, no copy of the
 * paths: a million entries cost 16 bytes each here). */
static int collect_refs(VerifyPlan *p, VerifyRef **out, size_t *n)
{
    const Catalog *c = p->c;
    size_t count = 0;
    for (size_t i = 0; i < c->n_backups; i++)
        if (backup_checked(p, &c->backups[i]) && c->backups[i].files != NULL)
            count += manifest_pack_count(c->backups[i].files);
    VerifyRef *t = malloc((count ? count : 1) * sizeof *t);
    if (t == NULL)
        return PGP_ERR_NOMEM;
    *n = 0;
    for (size_t i = 0; i < c->n_backups; i++) {
        if (!backup_checked(p, &c->backups[i]))
            continue;
        p->n_backups_checked++;
        const ManifestPack *f = c->backups[i].files;
        size_t m = f != NULL ? manifest_pack_count(f) : 0;
        for (size_t e = 0; e < m; e++)
            if (whole_file(manifest_pack_at(f, e)))
                t[(*n)++] = (VerifyRef){i, e};
    }
    qsort_r(t, *n, sizeof *t, ref_cmp, (void *)c);   /* GNU argument order */
    *out = t;
    return 0;
}

/* Is WAL file w read when recovering from backup b along some timeline's history? */
static bool wal_of_backup(const Catalog *c, const CatalogBackup *b, const CatalogWal *w)
{
    const BackupManifest *m = b->manifest;
    uint32_t segsize = c->id.wal_segsize;
    if (w->segno < pg_lsn_segno(m->start_lsn, segsize))
        return false;
    for (size_t i = 0; i < c->n_timelines; i++) {
        const PgTimelineHistory *h = &c->timelines[i].history;
        if (!pg_timeline_contains(h, m->timeline, m->stop_lsn, NULL))
            continue;
        const PgTimelineEntry *e = pg_timeline_find(h, w->tli);
        if (e != NULL && w->segno >= pg_lsn_segno(e->begin, segsize) &&
            (e->end == PG_TIMELINE_OPEN || w->segno <= pg_lsn_segno(e->end, segsize)))
            return true;
    }
    return false;
}

static void set_object(VerifyObject *o, const char *path, const char *sha, PipeCodec codec,
                       uint64_t size)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    o->sha256 = sha;
    o->codec = codec;
    o->size = size;
}

/* A backup file object: its path and checksum stay in the pack (made again when read). */
static void set_file_object(VerifyObject *o, const ManifestPackItem *it)
{
    char buf[REPO_PATH_MAX];
    const char *path = manifest_pack_item_content(it, buf);
    *o = (VerifyObject){.item = it, .codec = path_codec(path != NULL ? path : ""),
                        .size = manifest_pack_item_size(it)};
}

static int add_wal(VerifyPlan *p)
{
    const Catalog *c = p->c;
    for (size_t i = 0; i < c->n_wal; i++) {
        const CatalogWal *w = &c->wal[i];
        if (p->only != NULL && !wal_of_backup(c, p->only, w))
            continue;
        /* a segment is exactly one segment long; .partial and .backup files vary */
        uint64_t size = w->kind == PG_WALFILE_SEGMENT ? c->id.wal_segsize : VERIFY_SIZE_UNKNOWN;
        size_t k = p->n_objs - p->n_file_objs;
        p->wal_index[k] = i;
        set_object(&p->objs[p->n_objs], w->path, w->sha256, w->codec, size);
        p->objs[p->n_objs++].head = p->wal_heads + k * VERIFY_HEAD_LEN;
    }
    return 0;
}

int verify_plan_build(const Catalog *c, const CatalogBackup *only, VerifyPlan *out,
                      PgpErr *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < c->n_backups; i++) {
        const BackupManifest *m = c->backups[i].manifest;
        /* a header alone would verify none of its files and call the backup intact */
        if (m != NULL && (only == NULL || only == &c->backups[i]) &&
            c->backups[i].files == NULL && m->n_listed > 0)
            return PGP_FAIL(err, PGP_ERR_INTERNAL, "entries of backup \"%s\" not loaded",
                            c->backups[i].label);
    }
    out->c = c;
    out->only = only;
    out->n_histories = c->n_histories;
    size_t n = 0, uniq = 0;
    int rc = collect_refs(out, &out->refs, &n);
    const VerifyRef *t = out->refs;
    for (size_t i = 0; rc == 0 && i < n; i++)
        uniq += i == 0 || manifest_pack_content_cmp(ref_item(c, &t[i]), ref_item(c, &t[i - 1])) != 0;
    if (rc == 0) {
        out->objs = calloc(uniq + c->n_wal + 1, sizeof *out->objs);
        out->ref_first = calloc(uniq + 1, sizeof *out->ref_first);
        out->wal_index = calloc(c->n_wal + 1, sizeof *out->wal_index);
        out->wal_heads = calloc(c->n_wal + 1, VERIFY_HEAD_LEN);
        if (!out->objs || !out->ref_first || !out->wal_index || !out->wal_heads)
            rc = PGP_ERR_NOMEM;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0 && manifest_pack_content_cmp(ref_item(c, &t[i]), ref_item(c, &t[i - 1])) == 0)
            continue;
        out->ref_first[out->n_objs] = i;
        set_file_object(&out->objs[out->n_objs++], ref_item(c, &t[i]));
    }
    if (rc == 0) {
        out->ref_first[out->n_objs] = n;
        out->n_file_objs = out->n_objs;
        rc = add_wal(out);
    }
    if (rc == 0)
        rc = verify_chunks_plan(c, only, &out->chunks, NULL);
    if (rc != 0) {
        verify_plan_free(out);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    return 0;
}

void verify_plan_free(VerifyPlan *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; p->objs != NULL && i < p->n_objs; i++)
        verify_object_clear(&p->objs[i]);
    free(p->objs);
    free(p->refs);
    free(p->ref_first);
    free(p->wal_index);
    free(p->wal_heads);
    verify_chunks_free(&p->chunks);
    memset(p, 0, sizeof *p);
}

/* ---- problems -------------------------------------------------------------------------- */

typedef VerifyAnalysis Analysis;   /* verify_impl.h: shared with verify_chunk_report.c */

static char *vfmt(Analysis *a, const char *f, va_list ap)
    __attribute__((format(printf, 2, 0)));
static char *vfmt(Analysis *a, const char *f, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) {
        s = NULL;
        a->nomem = true;
    }
    return s;
}

static char *fmt(Analysis *a, const char *f, ...) __attribute__((format(printf, 2, 3)));
static char *fmt(Analysis *a, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = vfmt(a, f, ap);
    va_end(ap);
    return s;
}

char *verify_fmt(VerifyAnalysis *a, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = vfmt(a, f, ap);
    va_end(ap);
    return s;
}

/* Adds a problem; takes ownership of subject, message and breaks. */
static VerifyProblem *add(Analysis *a, bool error, const char *kind, char *subject,
                          char *message, char *breaks, uint32_t tli)
{
    VerifyReport *r = a->r;
    if (GROW(r->problems, r->n_problems, a->cap, 16, NULL, NULL) != 0) {
        a->nomem = true;
        free(subject), free(message), free(breaks);
        return NULL;
    }
    VerifyProblem *p = &r->problems[r->n_problems++];
    *p = (VerifyProblem){.error = error, .kind = kind, .subject = subject, .message = message,
                         .breaks = breaks, .tli = tli};
    if (subject == NULL || message == NULL)
        a->nomem = true;
    r->n_errors += error;
    return p;
}

/* Records that the problem makes backup bi unrestorable. */
static void add_backup(Analysis *a, VerifyProblem *p, size_t bi)
{
    if (p == NULL)
        return;
    a->r->restorable[bi] = false;
    const char *label = a->c->backups[bi].label;
    for (size_t i = 0; i < p->n_backups; i++)
        if (p->backups[i] == label)
            return;
    const char **n = realloc(p->backups, (p->n_backups + 1) * sizeof *n);
    if (n == NULL) {
        a->nomem = true;
        return;
    }
    p->backups = n;
    p->backups[p->n_backups++] = label;
}

VerifyProblem *verify_add(VerifyAnalysis *a, bool error, const char *kind, char *subject,
                          char *message, char *breaks, uint32_t tli)
{
    return add(a, error, kind, subject, message, breaks, tli);
}

void verify_add_backup(VerifyAnalysis *a, VerifyProblem *p, size_t bi)
{
    add_backup(a, p, bi);
}

static void check_backups(Analysis *a)
{
    const Catalog *c = a->c;
    for (size_t i = 0; i < c->n_backups; i++) {
        const CatalogBackup *b = &c->backups[i];
        a->r->restorable[i] = b->status == CATALOG_BACKUP_COMPLETE;
        if (a->plan->only != NULL && a->plan->only != b)
            continue;
        if (b->status == CATALOG_BACKUP_CORRUPT)
            add_backup(a, add(a, true, "manifest", fmt(a, "%s", b->label),
                              fmt(a, "backup \"%s\": manifest.json does not load: %s", b->label,
                                  b->error),
                              fmt(a, "backup \"%s\" cannot be restored", b->label), 0), i);
        else if (b->status == CATALOG_BACKUP_INCOMPLETE)
            add(a, a->plan->only == b, "incomplete_backup", fmt(a, "%s", b->label),
                fmt(a, "backup \"%s\" is incomplete (no manifest.json): running, failed or "
                       "interrupted", b->label),
                a->plan->only == b ? fmt(a, "backup \"%s\" cannot be restored", b->label) : NULL,
                0);
    }
}

/* "backup "A" (file "base/1/2"), backup "B" (file "x" and 2 more)" for file object oi. */
static char *who_uses(Analysis *a, size_t oi, VerifyProblem *p)
{
    const VerifyPlan *pl = a->plan;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (f == NULL) {
        a->nomem = true;
        return NULL;
    }
    size_t end = pl->ref_first[oi + 1];
    for (size_t i = pl->ref_first[oi]; i < end;) {
        size_t bi = pl->refs[i].backup, more = 0, j = i + 1;
        while (j < end && pl->refs[j].backup == bi)
            j++, more++;
        const CatalogBackup *b = &a->c->backups[bi];
        const char *path = manifest_pack_item_path(manifest_pack_at(b->files, pl->refs[i].entry));
        char q[PGP_QUOTE_BUF];
        fprintf(f, "%sbackup \"%s\" (file \"%s\"", i > pl->ref_first[oi] ? ", " : "", b->label,
                pgp_quote(path, q));
        if (more > 0)
            fprintf(f, " and %zu more", more);
        fputc(')', f);
        add_backup(a, p, bi);
        i = j;
    }
    if (fclose(f) != 0)
        a->nomem = true;
    return out;
}

static void check_file_objects(Analysis *a)
{
    const VerifyPlan *pl = a->plan;
    for (size_t i = 0; i < pl->n_file_objs; i++) {
        const VerifyObject *o = &pl->objs[i];
        if (o->status == VERIFY_OK)
            continue;
        char buf[REPO_PATH_MAX];
        const char *path = verify_object_path(o, buf);
        VerifyProblem *p = add(a, true, "backup_file", fmt(a, "%s", path),
                               fmt(a, "backup file object \"%s\" is %s: %s", path,
                                   verify_status_name(o->status), verify_object_reason(o)),
                               NULL, 0);
        if (p == NULL)
            return;
        char *users = who_uses(a, i, p);
        p->breaks = users != NULL ? fmt(a, "%s can no longer be restored", users) : NULL;
        free(users);
    }
}

/* PostgreSQL's backup_manifest carries its own SHA-256 (Manifest-Checksum), which the reader
 * checks as the text goes by; its files are not kept (one JSON value at a time in memory, not
 * the text: about 150 bytes a file of the cluster). */
typedef struct PgManifestRead {
    Storage *s;
    const char *path;
    ObjectReadOptions opt;
} PgManifestRead;

static int produce_pg_manifest(void *ud, PipeSink out, PgpErr *err)
{
    PgManifestRead *r = ud;
    ObjectReadResult res;
    return object_io_read_verify(r->s, r->path, &r->opt, out, &res, err);
}

static int ignore_file(void *ud, const PgManifestFile *f, PgpErr *err)
{
    (void)ud, (void)f, (void)err;
    return 0;
}

static int consume_pg_manifest(void *ud, PullReadFn rd, void *rd_ud, PgpErr *err)
{
    (void)ud;
    PgManifest *pm = NULL;
    int rc = pg_manifest_read_each(rd, rd_ud, ignore_file, NULL, &pm, err);
    pg_manifest_free(pm);
    return rc;
}

/* The object's own checks (decoding, decryption) come first: a damaged object is reported as
 * such, not as the parse error its garbage causes. */
static int read_pg_manifest(Storage *s, const CryptoRepoKey *key, const char *path, PgpErr *err)
{
    /* decoded only: see above; encrypted bound to its path (object_io.h) */
    PgManifestRead r = {.s = s, .path = path,
                        .opt = {.codec = path_codec(path), .seal = {key, path}}};
    return pull_bridge_run(produce_pg_manifest, &r, consume_pg_manifest, NULL, 0, err);
}

static void check_pg_manifests(Analysis *a, Storage *s, PgpErr *err)
{
    const Catalog *c = a->c;
    for (size_t i = 0; i < c->n_backups && !a->nomem; i++) {
        const CatalogBackup *b = &c->backups[i];
        if (!backup_checked(a->plan, b) || b->manifest->pg_manifest_object == NULL)
            continue;
        const char *path = b->manifest->pg_manifest_object;
        PgpErr e;
        pgp_err_clear(&e);
        int rc = read_pg_manifest(s, a->plan->key, path, &e);
        if (rc == 0)
            continue;
        if (rc == PGP_ERR_NOMEM) {
            a->nomem = true;
            *err = e;
            return;
        }
        add_backup(a, add(a, true, "pg_manifest", fmt(a, "%s", path),
                          fmt(a, "backup \"%s\": PostgreSQL's backup_manifest \"%s\" is %s: %s",
                              b->label, path, rc == PGP_ERR_NOT_FOUND ? "missing" : "damaged",
                              e.msg),
                          fmt(a, "backup \"%s\" cannot be restored", b->label), 0),
                   i);
    }
}

/* The long page header of a segment must name this cluster and this segment. */
static bool header_ok(Analysis *a, const VerifyObject *o, const CatalogWal *w, char *why,
                      size_t size)
{
    PgWalHeader h;
    PgpErr e;
    pgp_err_clear(&e);
    uint32_t segsize = a->c->id.wal_segsize;
    if (pg_walhdr_parse(o->head, o->head_len, &h, &e) != 0)
        snprintf(why, size, "its page header does not parse: %.200s", e.msg);
    else if (h.system_identifier != a->c->id.system_identifier)
        snprintf(why, size, "it belongs to another cluster (system identifier %llu, the "
                            "repository's is %llu)",
                 (unsigned long long)h.system_identifier,
                 (unsigned long long)a->c->id.system_identifier);
    else if (h.segsize != segsize || h.pageaddr != w->segno * (uint64_t)segsize)
        snprintf(why, size, "its page header is for another segment or segment size");
    else
        return true;
    return false;
}

static void check_wal_objects(Analysis *a)
{
    const VerifyPlan *pl = a->plan;
    for (size_t k = 0; k + pl->n_file_objs < pl->n_objs; k++) {
        const VerifyObject *o = &pl->objs[pl->n_file_objs + k];
        size_t wi = pl->wal_index[k];
        const CatalogWal *w = &a->c->wal[wi];
        char why[VERIFY_REASON_MAX + 64];
        if (o->status != VERIFY_OK)
            snprintf(why, sizeof why, "is %s: %s", verify_status_name(o->status),
                     verify_object_reason(o));
        else if (w->kind == PG_WALFILE_SEGMENT || w->kind == PG_WALFILE_PARTIAL) {
            char h[VERIFY_REASON_MAX];
            if (header_ok(a, o, w, h, sizeof h))
                continue;
            snprintf(why, sizeof why, "does not belong here: %s", h);
        } else
            continue;
        a->damaged[wi] = true;
        a->view[wi].conflict = true;   /* catalog_reach skips it like archive-get would */
        bool seg = w->kind == PG_WALFILE_SEGMENT;
        add(a, true, "wal_file", fmt(a, "%s", w->path),
            fmt(a, "%s %s (object \"%s\") %s", pg_walfile_kind_name(w->kind), w->name, w->path,
                why),
            fmt(a, seg ? "archive-get refuses it: recovery cannot read past segment %s"
                       : "%s is not replayed by recovery, but the archive holds a damaged copy",
                w->name),
            w->tli);
    }
    for (size_t i = 0; i < a->c->n_wal; i++) {
        const CatalogWal *w = &a->c->wal[i];
        if (pl->only != NULL && !wal_of_backup(a->c, pl->only, w))
            continue;
        if (w->conflict && (i == 0 || strcmp(a->c->wal[i - 1].name, w->name) != 0))
            add(a, true, "wal_conflict", fmt(a, "%s", w->name),
                fmt(a, "more than one object claims %s with different content", w->name),
                fmt(a, "archive-get refuses %s: recovery cannot read past it", w->name), w->tli);
    }
}

/* ---- WAL continuity -------------------------------------------------------------------- */

typedef struct Reported {
    uint32_t tli;
    uint64_t segno;
} Reported;

/* The first usable segment after `after` along h, if any: where the archive resumes. */
static const CatalogWal *resume_after(const Catalog *view, const PgTimelineHistory *h,
                                      uint64_t after)
{
    uint64_t max = 0;
    for (size_t i = 0; i < view->n_wal; i++)
        if (view->wal[i].segno > max)
            max = view->wal[i].segno;
    for (uint64_t s = after + 1; s <= max; s++) {
        uint32_t tli = pg_timeline_of_segno(h, s, view->id.wal_segsize);
        const CatalogWal *w = tli != 0 ? catalog_segment(view, tli, s) : NULL;
        if (w != NULL && !w->conflict)
            return w;
    }
    return NULL;
}

/* The WAL from b's start to its stop is incomplete along timeline tli. When some other
 * timeline's history still has all of it, the backup restores (along that one) but cannot
 * reach tli; otherwise it cannot be restored at all. */
static void report_unrestorable(Analysis *a, size_t bi, uint32_t tli, bool elsewhere,
                                const CatalogReach *r)
{
    const CatalogBackup *b = &a->c->backups[bi];
    char seg[PG_WALNAME_SEG_LEN + 1], start[20], stop[20];
    pg_walname_format(r->missing_tli, r->missing_segno, a->c->id.wal_segsize, seg);
    pg_lsn_format(b->manifest->start_lsn, start);
    pg_lsn_format(b->manifest->stop_lsn, stop);
    VerifyProblem *p = add(
        a, true, "wal_missing", fmt(a, "%s", seg),
        fmt(a, "segment %s is %s", seg, catalog_segment_word(a->c, r->missing_tli, r->missing_segno)),
        elsewhere ? fmt(a, "backup \"%s\" cannot be restored along timeline %u: the WAL between "
                           "its start %s and its stop %s is incomplete on that history",
                        b->label, tli, start, stop)
                  : fmt(a, "backup \"%s\" cannot be restored: the WAL between its start %s and "
                           "its stop %s is incomplete",
                        b->label, start, stop),
        tli);
    if (!elsewhere)
        add_backup(a, p, bi);
}

static void report_hole(Analysis *a, const Catalog *view, size_t bi, uint32_t tli,
                        const CatalogReach *r)
{
    const CatalogBackup *b = &a->c->backups[bi];
    const PgTimelineHistory *h = &catalog_timeline(view, tli)->history;
    const CatalogWal *res = resume_after(view, h, r->missing_segno);
    char seg[PG_WALNAME_SEG_LEN + 1], lsn[20], when[32];
    pg_walname_format(r->missing_tli, r->missing_segno, a->c->id.wal_segsize, seg);
    pg_lsn_format(r->latest_lsn, lsn);
    catalog_format_time(r->latest_time, when);
    add(a, true, "wal_missing", fmt(a, "%s", seg),
        fmt(a, "segment %s is %s", seg, catalog_segment_word(a->c, r->missing_tli, r->missing_segno)),
        fmt(a, "backup \"%s\": points after %s (about %s) on timeline %u are not recoverable; "
               "the archive resumes at %s",
            b->label, lsn, when, tli, res != NULL ? res->name : "(none)"),
        tli);
}

static bool was_reported(const Reported *rep, size_t n, uint32_t tli, uint64_t segno)
{
    for (size_t i = 0; i < n; i++)
        if (rep[i].tli == tli && rep[i].segno == segno)
            return true;
    return false;
}

static int add_row(Analysis *a, size_t bi, uint32_t tli, const CatalogReach *r, size_t *cap)
{
    VerifyReport *rp = a->r;
    if (GROW(rp->reach, rp->n_reach, *cap, 16, NULL, NULL) != 0)
        return PGP_ERR_NOMEM;
    rp->reach[rp->n_reach++] = (VerifyReachRow){bi, tli, *r};
    return 0;
}

static bool consistent_somewhere(const Catalog *view, const CatalogBackup *b)
{
    for (size_t t = 0; t < view->n_timelines; t++) {
        CatalogReach r;
        catalog_reach(view, b, view->timelines[t].tli, &r);
        if (r.on_history && r.consistent)
            return true;
    }
    return false;
}

static int remember(Reported **rep, size_t *n, size_t *cap, const CatalogReach *r)
{
    if (GROW(*rep, *n, *cap, 16, NULL, NULL) != 0)
        return PGP_ERR_NOMEM;
    (*rep)[(*n)++] = (Reported){r->missing_tli, r->missing_segno};
    return 0;
}

/* Every checked backup along every timeline whose history contains it. Returns the missing
 * segments reported (so the gap notes below skip them). */
static void check_continuity(Analysis *a, const Catalog *view, Reported **rep, size_t *n_rep)
{
    size_t cap = 0, rcap = 0;
    for (size_t bi = 0; bi < a->c->n_backups && !a->nomem; bi++) {
        const CatalogBackup *b = &a->c->backups[bi];
        if (!backup_checked(a->plan, b))
            continue;
        bool elsewhere = consistent_somewhere(view, b), told = false;
        for (size_t t = 0; t < view->n_timelines && !a->nomem; t++) {
            CatalogReach r;
            uint32_t tli = view->timelines[t].tli;
            catalog_reach(view, b, tli, &r);
            if (!r.on_history)
                continue;
            if (add_row(a, bi, tli, &r, &cap) != 0) {
                a->nomem = true;
                return;
            }
            if ((r.consistent && !r.gap) || (!r.consistent && !elsewhere && told))
                continue;
            if (!r.consistent)
                report_unrestorable(a, bi, tli, elsewhere, &r), told = true;
            else
                report_hole(a, view, bi, tli, &r);
            if (remember(rep, n_rep, &rcap, &r) != 0)
                a->nomem = true;
        }
    }
}

static void check_gaps(Analysis *a, const Reported *rep, size_t n_rep, PgpErr *err)
{
    CatalogGap *gaps = NULL;
    size_t n = 0;
    if (catalog_gaps(a->c, &gaps, &n, err) != 0) {
        a->nomem = true;
        return;
    }
    uint32_t segsize = a->c->id.wal_segsize;
    for (size_t i = 0; i < n; i++) {
        if (was_reported(rep, n_rep, gaps[i].tli, gaps[i].from_segno) || a->plan->only != NULL)
            continue;
        char from[PG_WALNAME_SEG_LEN + 1], to[PG_WALNAME_SEG_LEN + 1];
        pg_walname_format(gaps[i].tli, gaps[i].from_segno, segsize, from);
        pg_walname_format(gaps[i].tli, gaps[i].to_segno, segsize, to);
        add(a, false, "wal_gap", fmt(a, "%s", from),
            fmt(a, "timeline %u: segments %s to %s are missing; no checked backup reads them",
                gaps[i].tli, from, to),
            NULL, gaps[i].tli);
    }
    free(gaps);
}

/* ---- histories ------------------------------------------------------------------------- */

static bool timeline_used(const Catalog *c, const CatalogTimeline *t)
{
    if (t->n_wal > 0)
        return true;
    for (size_t i = 0; i < c->n_backups; i++)
        if (c->backups[i].status == CATALOG_BACKUP_COMPLETE &&
            c->backups[i].manifest->timeline == t->tli)
            return true;
    return false;
}

/* Does a complete backup lie on parent or on one of its ancestors in h? */
static bool backup_before(const Catalog *c, const PgTimelineHistory *h, uint32_t parent)
{
    for (size_t i = 0; i < c->n_backups; i++) {
        if (c->backups[i].status != CATALOG_BACKUP_COMPLETE)
            continue;
        uint32_t bt = c->backups[i].manifest->timeline;
        if (bt <= parent && pg_timeline_find(h, bt) != NULL)
            return true;
    }
    return false;
}

static void check_parents(Analysis *a, const CatalogTimeline *t)
{
    const PgTimelineHistory *h = &t->history;
    for (size_t e = 0; e + 1 < h->n; e++) {
        uint32_t p = h->entries[e].tli;
        if (catalog_timeline(a->c, p) != NULL)
            continue;
        bool needed = backup_before(a->c, h, p);
        add(a, needed, "history_parent", fmt(a, "%u", p),
            fmt(a, "the history of timeline %u names parent timeline %u, which the repository "
                   "does not hold (no WAL, history file or backup)",
                t->tli, p),
            needed ? fmt(a, "timeline %u cannot be followed from the backups taken before it",
                         t->tli)
                   : NULL,
            t->tli);
    }
}

static void check_histories(Analysis *a)
{
    const Catalog *c = a->c;
    uint32_t min_tli = a->plan->only != NULL ? a->plan->only->manifest->timeline : 0;
    for (size_t i = 0; i < c->n_timelines && !a->nomem; i++) {
        const CatalogTimeline *t = &c->timelines[i];
        if (t->tli <= 1 || t->tli < min_tli)
            continue;
        char name[32];
        pg_timeline_history_name(t->tli, name);
        if (t->history_bad)
            add(a, true, "history_corrupt", fmt(a, "%s", name),
                fmt(a, "the history file of timeline %u is damaged: %s", t->tli, t->error),
                fmt(a, "timeline %u cannot be followed: recovery cannot tell where it forks "
                       "from its parent",
                    t->tli),
                t->tli);
        else if (!t->history_found && timeline_used(c, t))
            add(a, true, "history_missing", fmt(a, "%s", name),
                fmt(a, "the history file of timeline %u (%s) is missing", t->tli, name),
                fmt(a, "timeline %u cannot be followed: recovery from backups taken before it "
                       "cannot switch to it",
                    t->tli),
                t->tli);
        else if (t->history_found)
            check_parents(a, t);
    }
}

static void check_foreign(Analysis *a)
{
    for (size_t i = 0; i < a->c->n_foreign && i < CATALOG_FOREIGN_MAX; i++)
        add(a, false, "foreign", fmt(a, "%s", a->c->foreign[i]),
            fmt(a, "\"%s\" is not something pgpitr wrote; it was not checked",
                a->c->foreign[i]),
            NULL, 0);
}

/* ---- entry ----------------------------------------------------------------------------- */

int verify_analyze(Storage *s, const VerifyPlan *plan, VerifyReport *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    const Catalog *c = plan->c;
    Analysis a = {.plan = plan, .c = c, .r = out};
    Reported *rep = NULL;
    size_t n_rep = 0;
    out->restorable = calloc(c->n_backups + 1, sizeof *out->restorable);
    a.damaged = calloc(c->n_wal + 1, sizeof *a.damaged);
    a.view = malloc((c->n_wal + 1) * sizeof *a.view);
    if (out->restorable == NULL || a.damaged == NULL || a.view == NULL)
        a.nomem = true;
    else
        memcpy(a.view, c->wal, c->n_wal * sizeof *a.view);
    if (!a.nomem) {
        check_backups(&a);
        check_file_objects(&a);
        verify_check_chunks(&a);
        check_pg_manifests(&a, s, err);
    }
    if (!a.nomem) {
        check_wal_objects(&a);
        Catalog view = *c;   /* shallow: the same timelines, the WAL with damage marked */
        view.wal = a.view;
        check_continuity(&a, &view, &rep, &n_rep);
    }
    if (!a.nomem)
        check_gaps(&a, rep, n_rep, err);
    if (!a.nomem) {
        check_histories(&a);
        if (plan->only == NULL)
            check_foreign(&a);
    }
    free(rep);
    free(a.damaged);
    free(a.view);
    if (a.nomem) {
        verify_report_free(out);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    return 0;
}

void verify_report_free(VerifyReport *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_problems; i++) {
        free(r->problems[i].subject);
        free(r->problems[i].message);
        free(r->problems[i].breaks);
        free(r->problems[i].backups);
        for (size_t f = 0; f < r->problems[i].n_files; f++)
            free(r->problems[i].files[f].backups);
        free(r->problems[i].files);
    }
    free(r->problems);
    free(r->restorable);
    free(r->reach);
    memset(r, 0, sizeof *r);
}
