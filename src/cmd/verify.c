/*
 * verify.c - `pgpitr verify`: re-reads every object of the repository (or of one backup and
 * its WAL), checks each against its checksum, and reports every problem with what it breaks,
 * as text or JSON. Parses options, takes the READ repository lock, runs verify_run
 * (src/repo/verify_run.c: the catalog, the plan and the analysis, the object pool), and
 * prints. Exits 0 only when nothing is wrong; problems exit with
 * PGP_ERR_CORRUPT's status after the whole report.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/repo/catalog.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"
#include "pgpitr/common/log.h"
#include "pgpitr/repo/repolock.h"
#include "pgpitr/repo/verify_check.h"
#include "pgpitr/repo/verify_objects.h"
#include "pgpitr/repo/verify_run.h"
#include "pgpitr/repo/verify_summary.h"
#include "pgpitr/repo/uploads.h"
#include "pgpitr/common/timefmt.h"

typedef struct VerifyOptions {
    bool json;
    const char *label;
    int jobs;
    const char *lock_wait;   /* --lock-wait, checked by cmd_lock_repo */
} VerifyOptions;

static int parse_options(int argc, char **argv, const CmdSettings *s, VerifyOptions *o,
                         bool *help, PgpErr *err)
{
    memset(o, 0, sizeof *o);
    CmdParse p = {.cmd = &cmd_verify};
    CmdArgs a;
    int rc = cmd_args_parse(&p, argc, argv, &a, err);
    if (rc != 0 || (*help = a.help))
        return rc;
    o->label = a.flag[CMD_OPT_BACKUP];
    o->lock_wait = a.flag[CMD_OPT_LOCK_WAIT];
    o->json = a.json;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN), v = ncpu > 0 ? (ncpu < 256 ? ncpu : 256) : 1;
    rc = cmd_opt_int_setting(s, CMD_OPT_JOBS, a.flag[CMD_OPT_JOBS], &v, err);
    o->jobs = (int)v;
    return rc;
}

/* ---- output ------------------------------------------------------------------------------- */

typedef struct Totals {
    VerifyPoolResult pool;
    double seconds;
    int jobs;
} Totals;

static void print_reach_text(const Catalog *c, const VerifyReport *r, size_t bi)
{
    for (size_t i = 0; i < r->n_reach; i++) {
        const VerifyReachRow *row = &r->reach[i];
        if (row->backup != bi || !row->reach.consistent)
            continue;
        char from[20], to[20], when[32];
        pg_lsn_format(row->reach.earliest_lsn, from);
        pg_lsn_format(row->reach.latest_lsn, to);
        catalog_format_time(row->reach.latest_time, when);
        printf("    timeline %u: recoverable from %s to %s (about %s)\n", row->tli, from, to,
               when);
    }
    (void)c;
}

/* The backups the report lists: every complete one checked, and every one whose manifest.json
 * does not load (corrupt), which can never be restored. */
static bool listed(const VerifyPlan *pl, const CatalogBackup *b)
{
    return (b->status == CATALOG_BACKUP_COMPLETE || b->status == CATALOG_BACKUP_CORRUPT) &&
           (pl->only == NULL || pl->only == b);
}

static void print_text(const VerifyPlan *pl, const VerifyReport *r, const Totals *t)
{
    const Catalog *c = pl->c;
    double mib = (double)(t->pool.bytes_read + pl->chunks.pool.bytes_read) / 1048576.0;
    char chunked[96] = "";
    if (pl->chunks.n_lists > 0)   /* files stored as chunks (manifest format 3) */
        snprintf(chunked, sizeof chunked, ", %zu chunk list%s, %" PRIu64 " chunk%s",
                 pl->chunks.n_lists, pl->chunks.n_lists == 1 ? "" : "s",
                 pl->chunks.pool.objects, pl->chunks.pool.objects == 1 ? "" : "s");
    printf("verify: %zu backups, %zu backup file objects%s, %zu WAL files and %zu history files "
           "checked: %.1f MiB read in %.1f s (%.1f MiB/s, %d jobs)\n",
           pl->n_backups_checked, pl->n_file_objs, chunked, pl->n_objs - pl->n_file_objs,
           pl->n_histories, mib, t->seconds, t->seconds > 0 ? mib / t->seconds : 0.0, t->jobs);
    for (size_t i = 0; i < r->n_problems; i++) {
        const VerifyProblem *p = &r->problems[i];
        printf("%s: %s\n", p->error ? "ERROR" : "NOTE", p->message);
        if (p->breaks != NULL)
            printf("  breaks: %s\n", p->breaks);
    }
    for (size_t i = 0; i < c->n_backups; i++) {
        const CatalogBackup *b = &c->backups[i];
        if (!listed(pl, b))
            continue;
        /* a backup whose manifest is corrupt (tampered, in an encrypted repository) is listed
         * too: its label is all that is known of it, and that it cannot be restored */
        printf("backup %s: %s%s\n", b->label, r->restorable[i] ? "restorable" : "NOT restorable",
               b->status == CATALOG_BACKUP_CORRUPT ? " (manifest.json is corrupt)" : "");
        if (r->restorable[i])
            print_reach_text(c, r, i);
    }
    if (r->n_errors == 0)
        printf("verify: ok, no problems found\n");
    else
        printf("verify: %zu problem%s found\n", r->n_errors, r->n_errors == 1 ? "" : "s");
}

static json_t *labels_json(const char *const *labels, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_string(labels[i]));
    return a != NULL ? a : json_array();
}

/* The files a problem of a chunked file breaks; NULL (no "files" key) for other kinds. */
static json_t *files_json(const VerifyProblem *p)
{
    if (p->n_files == 0)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < p->n_files; i++) {
        const VerifyProblemFile *f = &p->files[i];
        json_t *o = json_pack("{s:s, s:I, s:o}", "path", f->path, "tablespace",
                              (json_int_t)f->tablespace, "backups",
                              labels_json(f->backups, f->n_backups));
        if (o != NULL && f->has_chunk) {
            json_object_set_new(o, "chunk", json_integer((json_int_t)f->chunk));
            json_object_set_new(o, "offset", json_integer((json_int_t)f->offset));
            json_object_set_new(o, "length", json_integer((json_int_t)f->length));
        }
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *problem_json(const VerifyProblem *p)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s*, s:o, s:o, s:o*}", "severity",
                     p->error ? "error" : "note", "kind", p->kind, "subject", p->subject,
                     "message", p->message, "breaks", p->breaks, "backups",
                     labels_json(p->backups, p->n_backups), "timeline",
                     p->tli != 0 ? json_integer(p->tli) : json_null(), "files", files_json(p));
}

static json_t *backup_json(const Catalog *c, const VerifyReport *r, size_t bi)
{
    json_t *reach = json_array();
    for (size_t i = 0; reach != NULL && i < r->n_reach; i++) {
        const VerifyReachRow *row = &r->reach[i];
        if (row->backup != bi || !row->reach.consistent)
            continue;
        /* to_time null when unknown, as info and expire write it */
        json_array_append_new(reach, json_pack("{s:I, s:o, s:o, s:o, s:b}", "timeline",
                                               (json_int_t)row->tli, "from_lsn",
                                               repo_json_lsn(row->reach.earliest_lsn), "to_lsn",
                                               repo_json_lsn(row->reach.latest_lsn), "to_time",
                                               repo_json_time(row->reach.latest_time),
                                               "gap_after", row->reach.gap));
    }
    return json_pack("{s:s, s:b, s:o}", "label", c->backups[bi].label, "restorable",
                     r->restorable[bi], "recoverable", reach != NULL ? reach : json_array());
}

static int print_json(const VerifyPlan *pl, const VerifyReport *r, const Totals *t, PgpErr *err)
{
    const Catalog *c = pl->c;
    char sysid[32];
    snprintf(sysid, sizeof sysid, "%" PRIu64, c->id.system_identifier);
    json_t *problems = json_array(), *notes = json_array(), *backups = json_array();
    for (size_t i = 0; problems && notes && i < r->n_problems; i++)
        json_array_append_new(r->problems[i].error ? problems : notes,
                              problem_json(&r->problems[i]));
    for (size_t i = 0; backups && i < c->n_backups; i++)
        if (listed(pl, &c->backups[i]))
            json_array_append_new(backups, backup_json(c, r, i));
    const VerifyPoolResult *cp = &pl->chunks.pool;
    uint64_t read = t->pool.bytes_read + cp->bytes_read;
    json_t *checked = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:i}", "backups",
        (json_int_t)pl->n_backups_checked, "backup_objects", (json_int_t)pl->n_file_objs,
        "chunk_lists", (json_int_t)pl->chunks.n_lists, "chunks", (json_int_t)cp->objects,
        "wal_files", (json_int_t)(pl->n_objs - pl->n_file_objs), "history_files",
        (json_int_t)pl->n_histories, "bytes_read", (json_int_t)read, "bytes_original",
        (json_int_t)(t->pool.bytes_original + cp->bytes_original), "seconds", t->seconds,
        "mib_per_second", t->seconds > 0 ? (double)read / 1048576.0 / t->seconds : 0.0, "jobs",
        t->jobs);
    json_t *j = json_pack("{s:i, s:s, s:s?, s:s, s:I, s:o?, s:o?, s:o?, s:o?}", "format", 1,
                          "status", r->n_errors == 0 ? "ok" : "problems", "backup",
                          pl->only != NULL ? pl->only->label : NULL, "system_identifier", sysid,
                          "wal_segment_size", (json_int_t)c->id.wal_segsize, "checked", checked,
                          "problems", problems, "notes", notes, "backups", backups);
    if (j == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory building the JSON report");
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(j);
    return 0;
}

/* verify_run's result as text or JSON; PGP_ERR_CORRUPT after the whole report when it found
 * a problem. */
static int report(const VerifyOptions *o, const VerifyRun *run, PgpErr *err)
{
    const VerifyReport *rep = &run->report;
    Totals t = {.pool = run->pool, .seconds = run->seconds, .jobs = o->jobs};
    int rc = 0;
    if (o->json)
        rc = print_json(&run->plan, rep, &t, err);
    else
        print_text(&run->plan, rep, &t);
    if (rc == 0 && rep->n_errors > 0) {
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "verify found %zu problem%s in the repository",
                      rep->n_errors, rep->n_errors == 1 ? "" : "s");
        pgp_err_hint(err, "each problem above says what it breaks; take a new backup if a "
                          "backup cannot be restored");
    }
    return rc;
}

/* Unfinished multipart uploads (S3): no damage, but storage paid for; a warning. */
static void report_uploads(Storage *st)
{
    RepoUploads u;
    PgpErr e;
    pgp_err_clear(&e);
    if (repo_uploads_sweep(st, 0, &u, &e) != 0) {
        log_warn("cannot list unfinished multipart uploads: %s", e.msg);
        return;
    }
    if (u.n == 0)
        return;
    char when[32];
    timefmt_iso(u.oldest, 0, when, sizeof when);
    log_warn("%zu unfinished multipart upload(s) in the repository (the oldest begun %s): "
             "never objects, but stored; expire aborts those older than %d s", u.n, when,
             REPO_UPLOAD_ABORT_AGE_S);
}

/* A whole-repository verify leaves its result where info's model and `pgpitr metrics` read
 * it (verify_summary.h); failing to is a warning: the report is what the DBA asked for. */
static void keep_summary(Repo *repo, const VerifyRun *run)
{
    const VerifyChunks *ch = &run->plan.chunks;
    VerifySummary v = {.finished = (int64_t)time(NULL),
                       .objects = run->pool.objects + ch->n_lists + ch->pool.objects,
                       .errors = run->report.n_errors};
    PgpErr e = {0};
    if (verify_summary_store(repo_storage(repo), repo_crypto_key(repo), &v, &e) != 0)
        log_warn("%s", e.msg);
}

static int run_verify(const CmdSettings *s, const VerifyOptions *o, PgpErr *err)
{
    Storage *st = NULL;
    Repo *repo = NULL;
    VerifyRun run = {0};
    RepoLock *lock = NULL;
    int rc = cmd_open_repo(s, false, &st, &repo, err);
    if (rc == 0 && !repo_is_bound(repo)) {
        rc = PGP_FAIL(err, PGP_ERR_NOT_FOUND, "the repository holds nothing yet (no repo.json)");
        pgp_err_hint(err, "archive WAL or take a backup first");
    }
    if (rc == 0)
        /* READ: an expire must not remove objects while they are being checked */
        rc = cmd_lock_repo(s, st, REPO_LOCK_READ, "verify", o->lock_wait, &lock, err);
    VerifyRequest req = {.label = o->label, .jobs = o->jobs, .progress = !o->json};
    if (rc == 0)
        rc = verify_run(repo, &req, &run, err);
    if (rc == 0 && o->label == NULL)
        keep_summary(repo, &run);
    if (rc == 0)
        rc = report(o, &run, err);
    if (rc == 0)
        report_uploads(st);
    verify_run_free(&run);
    repo_lock_release(lock);
    repo_free(repo);
    storage_free(st);
    return rc;
}

static int run(const CmdGlobal *g, int argc, char **argv, PgpErr *err)
{
    CmdSettings s;
    VerifyOptions o;
    bool help = false;
    int rc = cmd_settings_load(g, &s, err);
    if (rc != 0)
        return rc;
    rc = parse_options(argc, argv, &s, &o, &help, err);
    if (rc == 0 && !help)   /* help: the parser printed the usage */
        rc = run_verify(&s, &o, err);
    cmd_settings_free(&s);
    return rc;
}

const CmdDef cmd_verify = {
    .name = "verify",
    .summary = "re-read every backup and WAL object and say what any damage breaks",
    .usage =
        "usage: pgpitr [--repo PATH] verify [OPTIONS]\n"
        "\n"
        "Re-reads every object of every complete backup (each shared object once: whole\n"
        "files, and the chunk lists and chunks of files stored as chunks) and\n"
        "every archived WAL file, decompresses it and checks its SHA-256 and size; checks\n"
        "that the WAL from each backup's start is continuous on every timeline that\n"
        "contains it and that every timeline's history file is present and sound.\n"
        "Every problem says what it breaks: which backups can no longer be restored,\n"
        "which ranges are no longer recoverable.\n"
        "\n"
        "options:\n"
        "  --backup LABEL          only this backup's objects and the WAL it reads\n"
        "  --jobs N                reader threads (env PGPITR_JOBS, config jobs;\n"
        "                          default: number of CPUs)\n"
        "  --output text|json      report format (default text; see docs/verify.md)\n"
        "  --lock-wait SECONDS     wait this long while an expire holds the repository\n"
        "                          (env PGPITR_LOCK_WAIT, config lock-wait; default 0)\n",
    .run = run,
    .exit_ok = "nothing is wrong",
    .exit_not_found =
        "--backup LABEL is not in the repository, or the repository holds nothing yet",
    .exit_other = "7 when a problem was found (after the whole report)",
};
