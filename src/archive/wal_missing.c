/*
 * wal_missing.c - "not archived" (exit 1) or fatal, for a WAL file that archive-get did not
 * find; see wal_missing.h for the contract and the decision table.
 *
 * Owns the recovery mode read from the data directory and the classification of a miss. Reads
 * the archive only through wal_history's index (the listing code restore, info and verify
 * share) and never writes to the repository or the data directory.
 */
#include "pgpitr/archive/wal_missing.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pgpitr/common/log.h"
#include "pgpitr/pg/pgrecovery.h"
#include "pgpitr/repo/wal_history.h"
#include "pgpitr/pg/timeline.h"

/* ---- the recovery mode ------------------------------------------------------------------ */

static bool file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX + 32];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

/* The data directory of DEST = ".../pg_wal/<file>", lexically; false if DEST is not so. */
static bool data_dir_of(const char *dest, char out[PATH_MAX])
{
    const char *slash = strrchr(dest, '/');
    if (slash == NULL)
        return false;
    size_t len = (size_t)(slash - dest);
    while (len > 0 && dest[len - 1] == '/')
        len--;
    if (len >= PATH_MAX)
        return false;
    char dir[PATH_MAX];
    memcpy(dir, dest, len);
    dir[len] = '\0';
    const char *last = strrchr(dir, '/');
    const char *comp = last != NULL ? last + 1 : dir;
    if (strcmp(comp, "pg_wal") != 0)
        return false;
    size_t dlen = (size_t)(comp - dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    if (dlen == 0) {
        strcpy(out, ".");   /* "pg_wal/RECOVERYXLOG": PostgreSQL's cwd is the data directory */
    } else {
        memcpy(out, dir, dlen);
        out[dlen] = '\0';
    }
    return true;
}

WalRecoveryMode wal_missing_mode(const char *dest, char datadir[PATH_MAX])
{
    char dir[PATH_MAX];
    if (datadir != NULL)
        datadir[0] = '\0';
    if (!data_dir_of(dest, dir))
        return WAL_MODE_UNKNOWN;
    if (datadir != NULL)
        memcpy(datadir, dir, strlen(dir) + 1);
    /* standby.signal first: PostgreSQL enters standby mode when both files exist */
    if (file_exists(dir, "standby.signal"))
        return WAL_MODE_STANDBY;
    if (file_exists(dir, "recovery.signal"))
        return WAL_MODE_ARCHIVE_RECOVERY;
    return WAL_MODE_UNKNOWN;
}

const char *wal_missing_mode_name(WalRecoveryMode m)
{
    switch (m) {
    case WAL_MODE_ARCHIVE_RECOVERY: return "archive recovery";
    case WAL_MODE_STANDBY: return "standby mode";
    default: return "unknown mode";
    }
}

/* ---- classification --------------------------------------------------------------------- */

static void set_beyond(WalMissing *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_beyond(WalMissing *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    out->kind = WAL_MISSING_BEYOND;
    vsnprintf(out->reason, sizeof out->reason, fmt, ap);
    va_end(ap);
}

/* The segment where timeline tli begins, from its archived history file (0 without one: then
 * PostgreSQL too assumes the timeline alone, from the start). */
static int timeline_begin_segno(WalHistoryIndex *ix, uint32_t tli, uint64_t *segno, PgpErr *err)
{
    PgTimelineHistory h;
    bool found = false;
    *segno = 0;
    int rc = wal_history_read(ix, tli, &h, &found, err);
    if (rc == 0 && found && h.n > 0)
        *segno = pg_lsn_segno(h.entries[h.n - 1].begin, wal_history_segsize(ix));
    pg_timeline_free(&h);
    return rc;
}

/* Whether the history of a later timeline says tli went on past segment segno. */
static int find_lost_tail(WalHistoryIndex *ix, uint32_t tli, uint64_t segno, WalMissing *out,
                          PgpErr *err)
{
    uint32_t *tlis = NULL;
    size_t n = 0;
    uint32_t segsize = wal_history_segsize(ix);
    int rc = wal_history_tlis(ix, &tlis, &n, err);
    for (size_t i = 0; rc == 0 && i < n && out->kind != WAL_MISSING_LOST_TAIL; i++) {
        if (tlis[i] <= tli)
            continue;
        PgTimelineHistory h;
        bool found = false;
        PgpErr herr;
        pgp_err_clear(&herr);
        if (wal_history_read(ix, tlis[i], &h, &found, &herr) != 0) {
            if (herr.code == PGP_ERR_NOMEM)
                rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
            else   /* proves nothing; PostgreSQL gets an error if it ever asks for it */
                log_warn("history file of timeline %" PRIu32 " ignored: %s", tlis[i], herr.msg);
            pg_timeline_free(&h);
            continue;
        }
        const PgTimelineEntry *e = found ? pg_timeline_find(&h, tli) : NULL;
        if (e != NULL && e->end != PG_TIMELINE_OPEN && pg_lsn_segno(e->end, segsize) > segno &&
            pg_lsn_segno(e->begin, segsize) <= segno) {
            out->kind = WAL_MISSING_LOST_TAIL;
            out->child_tli = tlis[i];
            out->fork_lsn = e->end;
            pg_timeline_history_name(tlis[i], out->next);
        }
        pg_timeline_free(&h);
    }
    free(tlis);
    return rc;
}

static int classify_segment(WalHistoryIndex *ix, const PgWalName *wn, WalMissing *out,
                            PgpErr *err)
{
    uint32_t segsize = wal_history_segsize(ix);
    uint64_t segno, later = 0, begin = 0;
    bool found = false;
    if (!pg_walname_segno(wn, segsize, &segno)) {
        set_beyond(out, "not a segment name for %" PRIu32 "-byte segments", segsize);
        return 0;
    }
    int rc = wal_history_first(ix, wn->tli, segno + 1, UINT64_MAX, &found, &later, err);
    if (rc == 0 && found)
        rc = timeline_begin_segno(ix, wn->tli, &begin, err);
    if (rc != 0)
        return rc;
    if (found && segno < begin) {
        char first[PG_WALNAME_SEG_LEN + 1];
        pg_walname_format(wn->tli, begin, segsize, first);
        set_beyond(out, "timeline %" PRIu32 " begins later, in segment %s (its history file)",
                   wn->tli, first);
        return 0;
    }
    if (found) {
        out->kind = WAL_MISSING_HOLE;
        pg_walname_format(wn->tli, later, segsize, out->next);
        return 0;
    }
    rc = find_lost_tail(ix, wn->tli, segno, out, err);
    if (rc == 0 && out->kind != WAL_MISSING_LOST_TAIL)
        set_beyond(out, "no later segment of timeline %" PRIu32 " is archived and no later "
                   "timeline forked off it after this segment", wn->tli);
    return rc;
}

static int classify_history(WalHistoryIndex *ix, uint32_t tli, WalMissing *out, PgpErr *err)
{
    uint32_t *tlis = NULL;
    size_t n = 0;
    int rc = wal_history_tlis(ix, &tlis, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (tli > 1 && tlis[i] > tli) {   /* timeline 1 never has a history file */
            out->kind = WAL_MISSING_HISTORY_GAP;
            pg_timeline_history_name(tlis[i], out->next);
            break;
        }
    }
    if (rc == 0 && out->kind != WAL_MISSING_HISTORY_GAP)
        set_beyond(out, "no history file of a higher timeline is archived");
    free(tlis);
    return rc;
}

int wal_missing_classify(Repo *repo, const char *walname, WalMissing *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    PgWalName wn;
    int rc = pg_walname_parse(walname, &wn, err);
    if (rc != 0)
        return rc;
    out->tli = wn.tli;
    if (!repo_is_bound(repo)) {
        out->kind = WAL_MISSING_NOT_REPOSITORY;
        return 0;
    }
    if (wn.kind != PG_WALFILE_SEGMENT && wn.kind != PG_WALFILE_HISTORY) {
        set_beyond(out, "%s files are never asked for by recovery", pg_walfile_kind_name(wn.kind));
        return 0;
    }
    WalHistoryIndex *ix = NULL;
    rc = wal_history_index_new(repo, &ix, err);
    if (rc == 0 && wn.kind == PG_WALFILE_SEGMENT)
        rc = classify_segment(ix, &wn, out, err);
    else if (rc == 0)
        rc = classify_history(ix, wn.tli, out, err);
    wal_history_index_free(ix);
    return rc;
}

/* ---- the decision ----------------------------------------------------------------------- */

static bool is_damage(WalMissingKind k)
{
    return k == WAL_MISSING_HOLE || k == WAL_MISSING_LOST_TAIL || k == WAL_MISSING_HISTORY_GAP;
}

static void default_sleep(void *ud, unsigned ms)
{
    (void)ud;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The fatal error for m (never NOT_FOUND). */
static int damage_error(const WalMissingRequest *req, const WalMissing *m, PgpErr *err)
{
    const char *name = req->walname, *repo = req->repo_path;
    char lsn[20];
    switch (m->kind) {
    case WAL_MISSING_NOT_REPOSITORY:
        PGP_FAIL(err, PGP_ERR_CONFIG, "\"%s\" is not a pgpitr repository (no repo.json): cannot "
                 "tell whether \"%s\" is archived", repo, name);
        pgp_err_hint(err, "is the repository mounted? an empty directory in its place (an NFS or "
                     "automount point not mounted) would end recovery early");
        return PGP_ERR_CONFIG;
    case WAL_MISSING_HOLE:
        PGP_FAIL(err, PGP_ERR_CORRUPT, "WAL segment %s is missing from repository \"%s\", but "
                 "the later segment %s is archived: recovery would end early at this hole",
                 name, repo, m->next);
        pgp_err_hint(err, "push %s from pg_wal of the server that wrote it (pgpitr archive-push), "
                     "or restore to a target before it", name);
        return PGP_ERR_CORRUPT;
    case WAL_MISSING_LOST_TAIL:
        pg_lsn_format(m->fork_lsn, lsn);
        PGP_FAIL(err, PGP_ERR_CORRUPT, "WAL segment %s is missing from repository \"%s\", but "
                 "%s says timeline %" PRIu32 " went on to %s, where timeline %" PRIu32
                 " forked off: recovery would end early", name, repo, m->next, m->tli, lsn,
                 m->child_tli);
        pgp_err_hint(err, "push the missing segments of timeline %" PRIu32 " from pg_wal of the "
                     "server that wrote them (a promoted standby does not archive WAL it "
                     "streamed), or restore to a target before %s", m->tli, name);
        return PGP_ERR_CORRUPT;
    default:   /* WAL_MISSING_HISTORY_GAP */
        PGP_FAIL(err, PGP_ERR_CORRUPT, "timeline history file %s is missing from repository "
                 "\"%s\", but %s is archived: recovery would follow the wrong timeline", name,
                 repo, m->next);
        pgp_err_hint(err, "history files are never expired: push %s from pg_wal of the server "
                     "that created timeline %" PRIu32 " (pgpitr archive-push)", name, m->tli);
        return PGP_ERR_CORRUPT;
    }
}

/*
 * What the answers may be for this request: whether fatal answers are right at all (strict),
 * whether the server recovers to a recovery target, and the mode as the log says it.
 */
typedef struct Context {
    bool strict;
    bool target;
    char mode[2 * PATH_MAX + 256];
} Context;

/*
 * Strict unless in standby mode, or a history file is asked for in a data directory without
 * signal file. That is PostgreSQL at the very end of a promotion, which removes the signal
 * files and then fetches the parent timeline's history to copy it into the new timeline's file
 * (writeTimeLineHistory): recovery is over, and a fatal answer would crash the promotion
 * halfway. Nothing else runs restore_command there (no signal file means crash recovery, which
 * never does; pg_rewind -c asks for segments).
 *
 * With a recovery target, a missing segment is not fatal: PostgreSQL refuses to end recovery
 * short of its target by itself, while its WAL read-ahead (recovery_prefetch) asks for
 * segments beyond the target that replay will never need: a hole just after the target must
 * not stop a recovery that is about to reach it.
 */
static void decide_context(const WalMissingRequest *req, Context *c)
{
    char datadir[PATH_MAX];
    PgWalName wn;
    WalRecoveryMode md = wal_missing_mode(req->dest, datadir);
    bool history = pg_walname_parse(req->walname, &wn, NULL) == 0 &&
                   wn.kind == PG_WALFILE_HISTORY;
    PgRecoveryTarget tg = {0};
    c->strict = md != WAL_MODE_STANDBY &&
                !(md == WAL_MODE_UNKNOWN && datadir[0] != '\0' && history);
    if (c->strict && datadir[0] != '\0')
        pg_recovery_target_read(datadir, &tg);
    c->target = tg.set;
    if (datadir[0] == '\0')
        snprintf(c->mode, sizeof c->mode, "unknown mode: DEST is not in a pg_wal directory; strict");
    else if (md == WAL_MODE_UNKNOWN)
        snprintf(c->mode, sizeof c->mode, "no standby.signal or recovery.signal in data directory "
                 "\"%s\"; %s", datadir, c->strict ? "strict" : "the end of a promotion");
    else
        snprintf(c->mode, sizeof c->mode, "%s, data directory \"%s\"", wal_missing_mode_name(md),
                 datadir);
    if (tg.set) {
        size_t len = strlen(c->mode);
        snprintf(c->mode + len, sizeof c->mode - len, ", %s set in \"%s\": PostgreSQL stops "
                 "with an error rather than end recovery before its target", tg.setting,
                 tg.source);
    }
}

/* Whether kind is answered with a fatal error in this context. */
static bool is_fatal(const Context *c, WalMissingKind kind)
{
    switch (kind) {
    case WAL_MISSING_BEYOND: return false;
    case WAL_MISSING_HOLE:
    case WAL_MISSING_LOST_TAIL: return c->strict && !c->target;
    default: return c->strict;
    }
}

/* Classifies (errors in *aerr), and while the answer would be fatal for damage a push in
 * flight may explain, fetches again a few times: *fetched when a fetch ended it (restored: 0;
 * failed: its error in err). */
static int classify_rechecked(const WalMissingRequest *req, const Context *c, WalMissing *m,
                              bool *fetched, PgpErr *aerr, PgpErr *err)
{
    *fetched = false;
    int rc = wal_missing_classify(req->repo, req->walname, m, aerr);
    for (unsigned i = 0; rc == 0 && is_damage(m->kind) && is_fatal(c, m->kind) &&
                         i < req->recheck_tries;
         i++) {
        log_info("\"%s\" looks like a hole in the archive; fetching it again in %u ms (a push "
                 "may be in flight)", req->walname, req->recheck_ms);
        (req->sleep_ms != NULL ? req->sleep_ms : default_sleep)(req->refetch_ud, req->recheck_ms);
        rc = req->refetch(req->refetch_ud, err);
        if (rc != PGP_ERR_NOT_FOUND) {
            *fetched = true;
            return rc;
        }
        rc = wal_missing_classify(req->repo, req->walname, m, aerr);
    }
    return rc;
}

int wal_missing_decide(const WalMissingRequest *req, PgpErr *err)
{
    Context *c = malloc(sizeof *c);   /* paths: not on the stack */
    if (c == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    decide_context(req, c);
    WalMissing m;
    bool fetched = false;
    PgpErr aerr, derr;
    pgp_err_clear(&aerr);
    pgp_err_clear(&derr);
    int rc = classify_rechecked(req, c, &m, &fetched, &aerr, err);
    if (fetched) {
        free(c);
        return rc;
    }
    if (rc != 0 && c->strict) {
        if (aerr.code == PGP_ERR_NOT_FOUND)   /* never "not archived" by accident */
            aerr.code = PGP_ERR_IO;
        pgp_err_context(&aerr, "\"%s\" is not in the archive, and cannot tell whether it is "
                        "beyond its end", req->walname);
    } else if (rc != 0) {
        log_warn("\"%s\" is not in the archive, and cannot tell whether it is beyond its end: %s "
                 "(%s: answering \"not archived\")", req->walname, aerr.msg, c->mode);
        rc = 0;
    } else if (m.kind == WAL_MISSING_BEYOND) {
        log_info("\"%s\" is not archived: %s (%s): answering \"not archived\"", req->walname,
                 m.reason, c->mode);
    } else if (!is_fatal(c, m.kind)) {
        damage_error(req, &m, &derr);
        log_warn("%s; HINT: %s (%s: answering \"not archived\")", derr.msg, derr.hint, c->mode);
    } else {
        rc = damage_error(req, &m, &aerr);
    }
    free(c);
    if (rc != 0) {
        if (err != NULL)
            *err = aerr;
        return rc;
    }
    pgp_err_clear(err);
    return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "\"%s\" is not in the archive", req->walname);
}

/* ---- a repository that cannot be read --------------------------------------------------- */

/* Errors that may pass by themselves (the repository comes back), as opposed to damage. */
static bool may_pass(int rc)
{
    switch (rc) {
    case PGP_ERR_CONFIG:     /* storage root missing, not a repository (not mounted) */
    case PGP_ERR_IO:         /* unreachable store, timeouts, i/o errors */
    case PGP_ERR_NO_SPACE:
    case PGP_ERR_NOMEM:
    case PGP_ERR_LOCKED:
        return true;
    default:
        return false;
    }
}

int wal_missing_unreachable(const char *dest, const char *repo_path, int rc, PgpErr *err)
{
    char datadir[PATH_MAX];
    if (rc == 0 || rc == PGP_ERR_NOT_FOUND || !may_pass(rc) ||
        wal_missing_mode(dest, datadir) != WAL_MODE_STANDBY)
        return rc;
    log_warn("cannot read repository \"%s\": %s (standby mode, data directory \"%s\": "
             "answering \"not archived\"; PostgreSQL asks again)", repo_path, err->msg, datadir);
    pgp_err_clear(err);
    return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "repository \"%s\" cannot be read", repo_path);
}
