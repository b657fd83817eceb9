/*
 * drill_report.c - the drill report (drill_report.h): filling it, its JSON form (the schema in
 * docs/drill-report.schema.json describes exactly what is written here: change both
 * together and bump DRILL_SCHEMA_VERSION on an incompatible change), the text summary, and
 * keeping reports in the repository (drill/<id>.json) and in a file.
 */
#include "pgpitr/drill/drill_report.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/repo/repo_json.h"
#include "drill_report_impl.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/timefmt.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/repo/meta_io.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/common/fdio.h"

#define REPORT_DIR REPO_LAYOUT_DRILL_DIR
#define REPORT_MAX_BYTES ((size_t)64 << 20)

void drill_report_init(DrillReport *r)
{
    memset(r, 0, sizeof *r);
    r->target_kind = "latest";
    r->select_s = r->restore_files_s = r->replay_s = r->checks_s = r->total_s = -1;
}

void drill_report_free(DrillReport *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_reasons; i++)
        free(r->reasons[i]);
    free(r->reasons);
    for (size_t i = 0; i < r->n_checks; i++) {
        free(r->checks[i].name);
        free(r->checks[i].detail);
    }
    free(r->checks);
    for (size_t i = 0; i < r->n_tables; i++) {
        free(r->tables[i].database);
        free(r->tables[i].table);
    }
    free(r->tables);
    free(r->target_value);
    free(r->workdir);
    for (size_t i = 0; i < r->n_log_tail; i++)
        free(r->log_tail[i]);
    free(r->log_tail);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r->warnings);
    tl_activity_free(&r->timelines);
    memset(r, 0, sizeof *r);
}

bool drill_report_passed(const DrillReport *r)
{
    return r->n_reasons == 0 && !r->nomem;
}

static void add_line(DrillReport *r, char ***lines, size_t *n, char *text)
{
    char **v = text ? realloc(*lines, (*n + 1) * sizeof *v) : NULL;
    if (v == NULL) {
        free(text);
        r->nomem = true;
        return;
    }
    *lines = v;
    v[(*n)++] = text;
}

static char *format_line(const char *fmt, va_list ap)
{
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0)
        text = NULL;
    return text;
}

void drill_report_fail(DrillReport *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = format_line(fmt, ap);
    va_end(ap);
    add_line(r, &r->reasons, &r->n_reasons, text);
}

void drill_report_warn(DrillReport *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = format_line(fmt, ap);
    va_end(ap);
    add_line(r, &r->warnings, &r->n_warnings, text);
}

void drill_report_fail_err(DrillReport *r, const PgpErr *err)
{
    if (r->first_error == PGP_ERR_OK)
        r->first_error = err->code != PGP_ERR_OK ? err->code : PGP_ERR_INTERNAL;
    drill_report_fail(r, "%s", err->msg[0] ? err->msg : "failed without a message");
}

void drill_report_check(DrillReport *r, const char *name, DrillCheckStatus status,
                        const char *fmt, ...)
{
    char *detail = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&detail, fmt, ap) < 0)
        detail = NULL;
    va_end(ap);
    DrillCheck *v = realloc(r->checks, (r->n_checks + 1) * sizeof *v);
    char *n = strdup(name);
    if (v == NULL || n == NULL || detail == NULL) {
        if (v != NULL)
            r->checks = v;
        free(n);
        free(detail);
        r->nomem = true;
        return;
    }
    r->checks = v;
    v[r->n_checks++] = (DrillCheck){.name = n, .status = status, .detail = detail};
    if (status == DRILL_CHECK_FAILED) {
        if (r->first_error == PGP_ERR_OK)
            r->first_error = PGP_ERR_CORRUPT;
        drill_report_fail(r, "check \"%s\" failed: %s", name, detail);
    }
}

void drill_report_table(DrillReport *r, const char *database, const char *table, int64_t rows)
{
    DrillTable *v = realloc(r->tables, (r->n_tables + 1) * sizeof *v);
    char *d = strdup(database), *t = strdup(table);
    if (v == NULL || d == NULL || t == NULL) {
        if (v != NULL)
            r->tables = v;
        free(d);
        free(t);
        r->nomem = true;
        return;
    }
    r->tables = v;
    v[r->n_tables++] = (DrillTable){.database = d, .table = t, .rows = rows};
}

void drill_report_set_log_tail(DrillReport *r, char **lines, size_t n)
{
    for (size_t i = 0; i < r->n_log_tail; i++)
        free(r->log_tail[i]);
    free(r->log_tail);
    r->log_tail = lines;
    r->n_log_tail = n;
}

void drill_report_headline(const DrillReport *r, char *out, size_t size)
{
    const char *why = r->n_reasons > 0 ? r->reasons[0] : "out of memory while checking";
    size_t more = r->n_reasons > 1 ? r->n_reasons - 1 : 0;
    if (more == 0)
        snprintf(out, size, "%s", why);
    else
        snprintf(out, size, "%s (and %zu more reason%s)", why, more, more == 1 ? "" : "s");
}

void drill_make_id(int64_t started_us, unsigned suffix, char out[DRILL_ID_MAX])
{
    char when[TIMEFMT_MAX];
    if (!timefmt_iso(started_us / 1000000, TIMEFMT_BASIC, when, sizeof when))
        snprintf(when, sizeof when, "19700101T000000Z");
    snprintf(out, DRILL_ID_MAX, "%s-%04x", when, suffix & 0xffffu);
}

void drill_format_time(int64_t us, char out[DRILL_TIME_MAX])
{
    if (!timefmt_iso_us(us, out, DRILL_TIME_MAX))
        snprintf(out, DRILL_TIME_MAX, "%lld", (long long)us);
}

/* ---- JSON ---------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s)
{
    size_t n;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* A JSON string of s with every byte that is not valid UTF-8 replaced by '?': server log
 * lines and names from other databases may be in another encoding. NULL s: JSON null. */
static json_t *jstr(const char *s)
{
    if (s == NULL)
        return json_null();
    size_t len = strlen(s);
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0';) {
        size_t n = utf8_seq(p);
        if (n == 0) {
            copy[o++] = '?';
            p++;
            continue;
        }
        memcpy(copy + o, p, n);
        o += n;
        p += n;
    }
    copy[o] = '\0';
    json_t *j = json_string(copy);
    free(copy);
    return j;
}

static json_t *jtime(int64_t us)
{
    char t[DRILL_TIME_MAX];
    drill_format_time(us, t);
    return json_string(t);
}

/* Whether s is a duration a drill can have taken: finite, within [min, DRILL_SECONDS_MAX]. Every
 * double that is converted to an integer passes here first: the conversion of a value out of
 * range (a tampered report's 1e308) is undefined behaviour. */
static bool seconds_ok(double s, double min)
{
    return isfinite(s) && s >= min && s <= DRILL_SECONDS_MAX;
}

/* Seconds rounded to milliseconds; null for "not measured" (< 0) or out of range. */
static json_t *jsecs(double s)
{
    return seconds_ok(s, 0) ? json_real((double)(int64_t)(s * 1000.0 + 0.5) / 1000.0)
                            : json_null();
}

bool drill_report_seconds_ok(double s, double min)
{
    return seconds_ok(s, min);
}

json_t *drill_report_jsecs(double s)
{
    return jsecs(s);
}

static json_t *backup_json(const DrillReport *r)
{
    if (!r->has_backup)
        return json_null();
    const RestoreReport *b = &r->backup;
    return json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "label", jstr(b->label), "why", jstr(b->why), "timeline", (json_int_t)b->backup_timeline,
                     "start_lsn", repo_json_lsn(b->backup_start_lsn),
                     "stop_lsn", repo_json_lsn(b->backup_stop_lsn),
                     "start_time", jtime(b->backup_start_time * 1000000),
                     "stop_time", jtime(b->backup_stop_time * 1000000),
                     "size", (json_int_t)b->backup_size, "stored_size",
                     (json_int_t)b->backup_stored_size, "pg_major", (json_int_t)b->pg_major,
                     "files_restored", (json_int_t)b->files, "bytes_restored", (json_int_t)b->bytes,
                     "chunked_files", (json_int_t)b->chunked_files,
                     "chunks_fetched", (json_int_t)b->chunks_fetched);
}

static json_t *target_json(const DrillReport *r)
{
    json_t *reached = json_null();
    if (r->has_reached)
        reached = json_pack("{s:o, s:o, s:o, s:o}",
                            "time", r->reached_has_time ? jtime(r->reached_time_us) : json_null(),
                            "lsn", r->reached_has_lsn ? repo_json_lsn(r->reached_lsn) : json_null(),
                            "timeline", r->reached_timeline ?
                                json_integer(r->reached_timeline) : json_null(),
                            "new_timeline", r->new_timeline ?
                                json_integer(r->new_timeline) : json_null());
    return json_pack("{s:{s:s, s:o}, s:o}", "requested", "kind", r->target_kind, "value",
                     jstr(r->target_value), "reached",
                     reached);
}

static json_t *timelines_json(const TlActivityList *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < l->n; i++) {
        const TlActivity *t = &l->v[i];
        json_array_append_new(a, json_pack("{s:I, s:o, s:o, s:b, s:o, s:o}", "timeline",
                                           (json_int_t)t->tli, "parent", t->parent ?
                                           json_integer(t->parent) : json_null(), "fork_lsn",
                                           t->parent ? repo_json_lsn(t->fork_lsn) : json_null(),
                                           "history", t->has_history, "last_archived",
                                           t->has_last ? jtime(t->last * 1000000) : json_null(),
                                           "last_object", t->has_last ? jstr(t->last_name) :
                                           json_null()));
    }
    return a;
}

static json_t *timeline_json(const DrillReport *r)
{
    if (!r->has_timeline)
        return json_null();
    const TlProduction *p = &r->production;
    return json_pack("{s:I, s:o, s:o, s:b, s:I, s:o}", "followed", (json_int_t)r->timeline,
                     "why", jstr(r->timeline_why), "production",
                     p->known ? json_integer(p->tli) : json_null(), "production_ambiguous",
                     p->known && p->ambiguous, "latest", (json_int_t)r->latest_timeline,
                     "timelines", timelines_json(&r->timelines));
}

static json_t *phases_json(const DrillReport *r)
{
    double select_restore = -1, select = -1;
    if (r->select_s >= 0 && r->restore_files_s >= 0) {
        select_restore = r->select_s + r->restore_files_s;
        select = r->select_s;
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "select_s", jsecs(select),
                     "restore_files_s", jsecs(r->restore_files_s), "select_restore_s",
                     jsecs(select_restore), "replay_s", jsecs(r->replay_s), "checks_s",
                     jsecs(r->checks_s), "total_s", jsecs(r->total_s), "rto_s",
                     r->recovered ? jsecs(r->total_s) : json_null());
}

static json_t *lists_checks(const DrillReport *r)
{
    static const char *const names[] = {"passed", "failed", "skipped"};
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->n_checks; i++)
        json_array_append_new(a, json_pack("{s:o, s:s, s:o}", "name", jstr(r->checks[i].name),
                                           "status", names[r->checks[i].status], "detail",
                                           jstr(r->checks[i].detail)));
    return a;
}

static json_t *lists_tables(const DrillReport *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < r->n_tables; i++)
        json_array_append_new(a, json_pack("{s:o, s:o, s:I}", "database", jstr(r->tables[i].database),
                                           "table", jstr(r->tables[i].table), "rows",
                                           (json_int_t)r->tables[i].rows));
    return a;
}

static json_t *strings_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, jstr(v[i]));
    return a;
}

static json_t *previous_json(const DrillReport *r)
{
    if (!r->has_previous)
        return json_null();
    /* A failed drill's total is not a recovery time: no change is computed against one. */
    bool delta = r->previous_has_rto && seconds_ok(r->total_s, 0) &&
                 seconds_ok(r->previous_rto_s, 0) && drill_report_passed(r) &&
                 strcmp(r->previous_status, "passed") == 0;
    return json_pack("{s:s, s:s, s:o, s:o}", "id", r->previous_id, "status", r->previous_status,
                     "rto_s", r->previous_has_rto ? jsecs(r->previous_rto_s) : json_null(),
                     "delta_rto_s", delta ? json_real((double)(int64_t)((r->total_s -
                                            r->previous_rto_s) * 1000.0) / 1000.0) : json_null());
}

static json_t *wal_json(const DrillReport *r)
{
    if (!r->has_wal)
        return json_null();
    return json_pack("{s:I, s:I, s:I}", "segments", (json_int_t)r->wal_segments, "fetches",
                     (json_int_t)r->wal_fetches, "bytes", (json_int_t)r->wal_bytes);
}

static json_t *report_json(const DrillReport *r)
{
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(j, "schema_version", json_integer(DRILL_SCHEMA_VERSION));
    bad |= json_object_set_new(j, "id", json_string(r->id));
    bad |= json_object_set_new(j, "host", jstr(r->host));
    bad |= json_object_set_new(j, "pgpitr_version", json_string(PGPITR_VERSION));
    bad |= json_object_set_new(j, "started", jtime(r->started_us));
    bad |= json_object_set_new(j, "finished", jtime(r->finished_us));
    bad |= json_object_set_new(j, "status", json_string(drill_report_passed(r) ? "passed" : "failed"));
    bad |= json_object_set_new(j, "reasons", strings_json(r->reasons, r->n_reasons));
    bad |= json_object_set_new(j, "warnings", strings_json(r->warnings, r->n_warnings));
    bad |= json_object_set_new(j, "backup", backup_json(r));
    bad |= json_object_set_new(j, "timeline", timeline_json(r));
    bad |= json_object_set_new(j, "target", target_json(r));
    bad |= json_object_set_new(j, "phases", phases_json(r));
    bad |= json_object_set_new(j, "wal", wal_json(r));
    bad |= json_object_set_new(j, "checks", lists_checks(r));
    bad |= json_object_set_new(j, "tables", lists_tables(r));
    bad |= json_object_set_new(j, "tables_truncated", json_boolean(r->tables_truncated));
    bad |= json_object_set_new(j, "archive_freshness_s",
                               r->has_freshness ? jsecs(r->archive_freshness_s) : json_null());
    bad |= json_object_set_new(j, "objectives", drill_objectives_json(r));
    bad |= json_object_set_new(j, "previous", previous_json(r));
    bad |= json_object_set_new(j, "workdir", jstr(r->workdir));
    bad |= json_object_set_new(j, "server_log_tail", strings_json(r->log_tail, r->n_log_tail));
    if (bad != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int drill_report_to_json(const DrillReport *r, char **out, PgpErr *err)
{
    json_t *j = report_json(r);
    *out = repo_json_text(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII |
                                JSON_REAL_PRECISION(10));
    json_decref(j);
    /* json_pack fails on strings that are not UTF-8: a server log line, a table name. */
    if (*out == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "cannot build the drill report (out of memory "
                        "or text that is not UTF-8)");
    return 0;
}

/* ---- text ---------------------------------------------------------------------------------- */

static void print_target(const DrillReport *r, FILE *out)
{
    fprintf(out, "  target:  %s%s%s", r->target_kind, r->target_value ? " " : "",
            r->target_value ? r->target_value : "");
    if (!r->has_reached) {
        fputs(" (not reached)\n", out);
        return;
    }
    char lsn[20] = "?", at[DRILL_TIME_MAX] = "none";
    if (r->reached_has_lsn)
        pg_lsn_format(r->reached_lsn, lsn);
    if (r->reached_has_time)
        drill_format_time(r->reached_time_us, at);
    fprintf(out, " -> redo done at %s, last transaction %s, timeline %u", lsn, at,
            r->reached_timeline);
    if (r->new_timeline)
        fprintf(out, " (promoted to %u)", r->new_timeline);
    fputc('\n', out);
}

/* The timeline and, loud, every warning: a drill that passed on a timeline production is not
 * on proves nothing about production. */
static void print_timeline(const DrillReport *r, FILE *out)
{
    if (r->has_timeline)
        fprintf(out, "  timeline: %u (%s)\n", r->timeline, r->timeline_why);
    for (size_t i = 0; i < r->n_warnings; i++)
        fprintf(out, "  WARNING: %s\n", r->warnings[i]);
}

static void print_rto(const DrillReport *r, FILE *out)
{
    if (r->total_s < 0)
        return;
    if (!r->recovered) {
        fprintf(out, "  time:    %.1f s until it failed (recovery did not finish: no RTO)\n",
                r->total_s);
        return;
    }
    fprintf(out, "  RTO:     %.1f s (select + restore %.1f s, replay %.1f s, checks %.1f s)",
            r->total_s, (r->select_s > 0 ? r->select_s : 0) +
            (r->restore_files_s > 0 ? r->restore_files_s : 0),
            r->replay_s > 0 ? r->replay_s : 0, r->checks_s > 0 ? r->checks_s : 0);
    if (!drill_report_passed(r))
        fputs("; recovery finished, the drill failed on its checks", out);
    else if (r->has_previous && r->previous_has_rto &&
             strcmp(r->previous_status, "passed") == 0)
        fprintf(out, "; previous drill %.1f s (%+.1f s)", r->previous_rto_s,
                r->total_s - r->previous_rto_s);
    fputc('\n', out);
}

void drill_report_print_text(const DrillReport *r, FILE *out)
{
    fprintf(out, "drill %s: %s", r->id, drill_report_passed(r) ? "PASSED" : "FAILED");
    if (r->n_warnings > 0)
        fprintf(out, " with %zu WARNING%s", r->n_warnings, r->n_warnings == 1 ? "" : "S");
    fputc('\n', out);
    if (r->has_backup) {
        char stop[20], when[DRILL_TIME_MAX];
        pg_lsn_format(r->backup.backup_stop_lsn, stop);
        drill_format_time(r->backup.backup_stop_time * 1000000, when);
        fprintf(out, "  backup:  %s (%s), stop LSN %s at %s\n", r->backup.label, r->backup.why,
                stop, when);
    }
    print_timeline(r, out);
    print_target(r, out);
    print_rto(r, out);
    if (r->has_wal)
        fprintf(out, "  WAL:     %llu segment%s restored from the archive, %.1f MiB handed over\n",
                (unsigned long long)r->wal_segments, r->wal_segments == 1 ? "" : "s",
                (double)r->wal_bytes / 1048576.0);
    if (r->has_freshness)
        fprintf(out, "  archive: newest segment %.0f s old when the drill began\n",
                r->archive_freshness_s);
    drill_objectives_print(r, out);
    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < r->n_checks; i++) {
        passed += r->checks[i].status == DRILL_CHECK_PASSED;
        failed += r->checks[i].status == DRILL_CHECK_FAILED;
    }
    fprintf(out, "  checks:  %zu passed, %zu failed; %zu tables counted%s\n", passed, failed,
            r->n_tables, r->tables_truncated ? " (limit reached)" : "");
    for (size_t i = 0; i < r->n_reasons; i++)
        fprintf(out, "  reason:  %s\n", r->reasons[i]);
    if (r->n_log_tail > 0)
        fputs("  log:     the server log's lines about recovery and errors:\n", out);
    for (size_t i = 0; i < r->n_log_tail; i++)
        fprintf(out, "           %s\n", r->log_tail[i]);
    if (r->workdir != NULL)
        fprintf(out, "  kept:    %s\n", r->workdir);
}

/* ---- keeping reports ------------------------------------------------------------------------ */

#define FIND_TRIES 10

/* The FIND_TRIES newest report ids (older than `before` if set), newest first. */
typedef struct FindCtx {
    const char *before;
    char best[FIND_TRIES][DRILL_ID_MAX];
    int n;
} FindCtx;

static int find_candidate(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    (void)err;      /* never fails */
    FindCtx *c = ud;
    size_t n = strlen(name);
    if (info->is_dir || n <= 5 || n - 5 >= DRILL_ID_MAX || strcmp(name + n - 5, ".json") != 0)
        return 0;
    char id[DRILL_ID_MAX];
    memcpy(id, name, n - 5);
    id[n - 5] = '\0';
    if (c->before != NULL && strcmp(id, c->before) >= 0)
        return 0;
    int pos = c->n;                    /* insertion into the sorted, bounded list */
    while (pos > 0 && strcmp(id, c->best[pos - 1]) > 0)
        pos--;
    if (pos >= FIND_TRIES)
        return 0;
    int last = c->n < FIND_TRIES ? c->n : FIND_TRIES - 1;
    memmove(c->best[pos + 1], c->best[pos], (size_t)(last - pos) * DRILL_ID_MAX);
    memcpy(c->best[pos], id, sizeof id);
    if (c->n < FIND_TRIES)
        c->n++;
    return 0;
}

static void copy_str(char *dst, size_t size, json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(dst, size, "%s", s != NULL ? s : "");
}

/* 1: parsed into out; 0: skipped; < 0: -(storage error), in err. */
static int read_summary(Storage *s, const CryptoRepoKey *key, const char *id,
                        DrillReportSummary *out, PgpErr *err)
{
    char path[REPO_PATH_MAX], *text = NULL;
    size_t len = 0;
    PgpErr e;
    pgp_err_clear(&e);
    int rc = repo_drill_report_path(id, path, &e);
    if (rc == 0)
        rc = meta_get_all(s, key, path, REPORT_MAX_BYTES, &text, &len, &e);
    if (rc == PGP_ERR_NOT_FOUND)        /* removed since the listing */
        return 0;
    if (rc == PGP_ERR_CORRUPT) {        /* too large, or (encrypted) altered: as unparsable */
        log_warn("ignoring the drill report \"%s\": %s", path, e.msg);
        return 0;
    }
    if (rc != 0) {
        if (err != NULL)
            *err = e;
        return -rc;
    }
    bool ok = drill_report_summary_parse(id, text, len, out);
    free(text);
    if (!ok) {
        log_warn("ignoring the drill report \"%s\": it does not parse", path);
        return 0;
    }
    return 1;
}

bool drill_report_summary_parse(const char *id, const char *text, size_t len,
                                DrillReportSummary *out)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    const char *status = json_string_value(json_object_get(j, "status"));
    if (status == NULL || (strcmp(status, "passed") != 0 && strcmp(status, "failed") != 0)) {
        json_decref(j);
        return false;
    }
    memset(out, 0, sizeof *out);
    out->found = true;
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->status, sizeof out->status, "%s", status);
    copy_str(out->started, sizeof out->started, json_object_get(j, "started"));
    copy_str(out->finished, sizeof out->finished, json_object_get(j, "finished"));
    json_t *total = json_object_get(json_object_get(j, "phases"), "total_s");
    double secs = json_is_number(total) ? json_number_value(total) : 0;
    out->has_total = json_is_number(total) && seconds_ok(secs, 0);
    out->total_s = out->has_total ? secs : 0;
    if (json_is_number(total) && !out->has_total)
        log_warn("ignoring the duration in the drill report \"" REPORT_DIR "/%s.json\": %g is "
                 "not a number of seconds between 0 and %.0f", id, secs, DRILL_SECONDS_MAX);
    drill_objectives_parse(json_object_get(j, "objectives"), id, out);
    json_decref(j);
    return true;
}

int drill_report_find_newest(Storage *s, const CryptoRepoKey *key, const char *before,
                             DrillReportSummary *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    FindCtx c = {.before = before};
    int rc = storage_list(s, REPORT_DIR, find_candidate, &c, err);
    if (rc != 0) {
        pgp_err_context(err, "cannot list the drill reports");
        return rc;
    }
    for (int i = 0; i < c.n; i++) {
        rc = read_summary(s, key, c.best[i], out, err);
        if (rc < 0) {
            pgp_err_context(err, "cannot read the drill report \"%s\"", c.best[i]);
            return -rc;
        }
        if (rc == 1)
            break;
    }
    return 0;
}

int drill_report_find_previous(Storage *s, const CryptoRepoKey *key, DrillReport *r, PgpErr *err)
{
    DrillReportSummary prev;
    int rc = drill_report_find_newest(s, key, r->id, &prev, err);
    if (rc != 0 || !prev.found)
        return rc;
    r->has_previous = true;
    snprintf(r->previous_id, sizeof r->previous_id, "%s", prev.id);
    snprintf(r->previous_status, sizeof r->previous_status, "%s", prev.status);
    r->previous_has_rto = prev.has_total;
    r->previous_rto_s = prev.total_s;
    return 0;
}

int drill_report_store(Storage *s, const CryptoRepoKey *key, const DrillReport *r,
                       const char *json, PgpErr *err)
{
    char path[REPO_PATH_MAX];
    int rc = repo_drill_report_path(r->id, path, err);
    if (rc == 0)
        rc = meta_put_all(s, key, path, 0, json, strlen(json), err);
    if (rc != 0)
        pgp_err_context(err, "cannot keep the drill report in the repository");
    return rc;
}

static int write_all(int fd, const char *text, size_t len, const char *path, PgpErr *err)
{
    int e = fd_write_all(fd, text, len, -1, NULL);
    return e == 0 ? 0 : PGP_FAIL_SYS(err, e, "cannot write \"%s\"", path);
}

int drill_report_write_file(const char *path, const char *text, PgpErr *err)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return PGP_FAIL(err, PGP_ERR_USAGE, "--report path is too long");
    snprintf(dir, sizeof dir, "%s", path);
    char *d = dirname(dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create \"%s\"", tmp);
    int rc = write_all(fd, text, strlen(text), tmp, err);
    if (rc == 0 && fsync(fd) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot fsync \"%s\"", tmp);
    if (close(fd) != 0 && rc == 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot close \"%s\"", tmp);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot rename \"%s\" to \"%s\"", tmp, path);
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot fsync the directory \"%s\"", d);
    if (dfd >= 0)
        close(dfd);
    return rc;
}
