/*
 * check_judge.c - `pgpitr check`'s verdicts (check_judge.h): facts in, one status and reason
 * per check out. Owns the thresholds and the wording; gathers nothing (src/cmd/check.c does).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/repo/check_judge.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/pg/walname.h"

static const char *const NAMES[CHECK__COUNT] = {
    [CHECK_CONFIG] = "configuration",
    [CHECK_REPOSITORY] = "repository",
    [CHECK_CLUSTER] = "cluster",
    [CHECK_ARCHIVE_MODE] = "archive-mode",
    [CHECK_ARCHIVE_COMMAND] = "archive-command",
    [CHECK_ARCHIVE_TEST] = "archive-test",
    [CHECK_ARCHIVER] = "archiver",
    [CHECK_ARCHIVE_HOLES] = "archive-holes",
    [CHECK_BACKUP_AGE] = "backup-age",
    [CHECK_DRILL] = "drill",
    [CHECK_FREE_SPACE] = "free-space",
    [CHECK_RPO] = "rpo",
    [CHECK_DRILL_OBJECTIVES] = "drill-objectives",
};

const char *check_name(CheckId id)
{
    return id < CHECK__COUNT ? NAMES[id] : "?";
}

const char *check_status_name(CheckStatus s)
{
    switch (s) {
    case CHECK_OK: return "OK";
    case CHECK_WARNING: return "WARNING";
    case CHECK_CRITICAL: return "CRITICAL";
    case CHECK_SKIPPED: return "SKIPPED";
    }
    return "UNKNOWN";
}

static void set(CheckReport *r, CheckId id, CheckStatus st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set(CheckReport *r, CheckId id, CheckStatus st, const char *fmt, ...)
{
    r->r[id].status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->r[id].reason, sizeof r->r[id].reason, fmt, ap);
    va_end(ap);
}

/* "45s", "12min", "5h 03min", "3d 04h": short, for one-line reasons. */
static const char *dur(int64_t s, char *buf, size_t size)
{
    if (s < 0)
        s = 0;
    if (s < 60)
        snprintf(buf, size, "%" PRId64 "s", s);
    else if (s < 3600)
        snprintf(buf, size, "%" PRId64 "min", s / 60);
    else if (s < 86400)
        snprintf(buf, size, "%" PRId64 "h %02" PRId64 "min", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, size, "%" PRId64 "d %02" PRId64 "h", s / 86400, s % 86400 / 3600);
    return buf;
}
#define DUR(s) dur((s), (char[32]){0}, 32)

static void judge_config(const CheckFacts *f, CheckReport *r)
{
    if (f->config_error[0] != '\0')
        set(r, CHECK_CONFIG, CHECK_CRITICAL, "%s", f->config_error);
    else
        set(r, CHECK_CONFIG, CHECK_OK, "every setting parses");
}

static void judge_repository(const CheckFacts *f, CheckReport *r)
{
    if (f->repo_error[0] != '\0')
        set(r, CHECK_REPOSITORY, CHECK_CRITICAL, "%s", f->repo_error);
    else if (f->probe_error[0] != '\0')
        set(r, CHECK_REPOSITORY, CHECK_CRITICAL, "readable but not writable: %s",
            f->probe_error);
    else
        set(r, CHECK_REPOSITORY, CHECK_OK, "\"%s\" is readable and writable", f->repo_path);
}

/* The server checks' common skip: no connection, or the connection failed. */
static bool server_skipped(const CheckFacts *f, CheckReport *r, CheckId id)
{
    if (f->pg_skip[0] != '\0') {
        set(r, id, CHECK_SKIPPED, "%s", f->pg_skip);
        return true;
    }
    if (f->pg_error[0] != '\0') {
        set(r, id, CHECK_SKIPPED, "no connection to the server (see cluster)");
        return true;
    }
    return false;
}

static void judge_cluster(const CheckFacts *f, CheckReport *r)
{
    if (f->pg_skip[0] == '\0' && f->pg_error[0] != '\0') {
        set(r, CHECK_CLUSTER, CHECK_CRITICAL, "%s", f->pg_error);
        return;
    }
    if (server_skipped(f, r, CHECK_CLUSTER))
        return;
    if (f->info == NULL) {
        set(r, CHECK_CLUSTER, CHECK_SKIPPED, "the repository cannot be read");
        return;
    }
    if (!f->info->cat.bound) {
        set(r, CHECK_CLUSTER, CHECK_WARNING, "repository not bound to a cluster yet (no "
            "repo.json: nothing archived); this server is %" PRIu64 ", PostgreSQL %d",
            f->server_sysid, f->server_major);
        return;
    }
    const RepoIdentity *id = &f->info->cat.id;
    if (f->sysid_error[0] != '\0')
        set(r, CHECK_CLUSTER, CHECK_WARNING, "cannot read the server's system identifier: "
            "%.300s; HINT: GRANT EXECUTE ON FUNCTION pg_control_system() to the role",
            f->sysid_error);
    else if (id->system_identifier != f->server_sysid)
        set(r, CHECK_CLUSTER, CHECK_CRITICAL, "repository belongs to system identifier %" PRIu64
            ", the server is %" PRIu64, id->system_identifier, f->server_sysid);
    else if (id->pg_major != f->server_major)
        set(r, CHECK_CLUSTER, CHECK_CRITICAL, "repository holds PostgreSQL %d, the server runs "
            "%d", id->pg_major, f->server_major);
    else
        set(r, CHECK_CLUSTER, CHECK_OK, "system identifier %" PRIu64 ", PostgreSQL %d",
            f->server_sysid, f->server_major);
}

static void judge_archive_mode(const CheckFacts *f, CheckReport *r)
{
    if (server_skipped(f, r, CHECK_ARCHIVE_MODE))
        return;
    const char *m = f->archive_mode;
    if (f->settings_error[0] != '\0')
        set(r, CHECK_ARCHIVE_MODE, CHECK_WARNING, "%s", f->settings_error);
    else if (strcmp(m, "on") == 0 || strcmp(m, "always") == 0)
        set(r, CHECK_ARCHIVE_MODE, CHECK_OK, "archive_mode = %s%s", m,
            f->standby && strcmp(m, "on") == 0 ? " (a standby archives once promoted)" : "");
    else if (f->standby)
        set(r, CHECK_ARCHIVE_MODE, CHECK_WARNING, "archive_mode = %s: once promoted, this "
            "standby would not archive", m);
    else
        set(r, CHECK_ARCHIVE_MODE, CHECK_CRITICAL, "archive_mode = %s: nothing is archived", m);
}

bool check_same_repo(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (lb > 1 && b[lb - 1] == '/')
        lb--;
    return la == lb && memcmp(a, b, la) == 0;
}

static void judge_archive_command(const CheckFacts *f, CheckReport *r)
{
    if (server_skipped(f, r, CHECK_ARCHIVE_COMMAND))
        return;
    const char *via = f->ac_note;
    if (f->settings_error[0] != '\0') {
        set(r, CHECK_ARCHIVE_COMMAND, CHECK_WARNING, "%s", f->settings_error);
    } else if (f->archive_command[0] == '\0') {
        set(r, CHECK_ARCHIVE_COMMAND, CHECK_CRITICAL, "archive_command is empty");
    } else if (f->ac.kind == CHECK_AC_NOT_PGPITR) {
        set(r, CHECK_ARCHIVE_COMMAND, CHECK_CRITICAL, "archive_command does not run pgpitr "
            "archive-push%s: \"%.200s\"", via, f->archive_command);
    } else if (f->ac_repo[0] != '\0') {
        if (check_same_repo(f->ac_repo, f->repo_path))
            set(r, CHECK_ARCHIVE_COMMAND, CHECK_OK, "pgpitr archive-push to this repository%s",
                via);
        else
            set(r, CHECK_ARCHIVE_COMMAND, CHECK_CRITICAL, "archive_command archives to "
                "\"%.300s\"%s, not to this repository \"%.300s\"", f->ac_repo, via,
                f->repo_path);
    } else if (f->ac.kind == CHECK_AC_DEFAULT) {
        set(r, CHECK_ARCHIVE_COMMAND, CHECK_WARNING, "pgpitr archive-push without --repo or "
            "--config%s: the server's environment decides, cannot tell", via);
    } else {
        set(r, CHECK_ARCHIVE_COMMAND, CHECK_WARNING, "cannot tell where archive_command "
            "archives%s: %.300s", via, f->ac.value);
    }
}

bool check_archives_elsewhere(const CheckFacts *f)
{
    return f->archive_command[0] == '\0' || f->ac.kind == CHECK_AC_NOT_PGPITR ||
           (f->ac_repo[0] != '\0' && !check_same_repo(f->ac_repo, f->repo_path));
}

static void judge_archive_test(const CheckFacts *f, CheckReport *r)
{
    if (f->test_skip[0] != '\0')
        set(r, CHECK_ARCHIVE_TEST, CHECK_SKIPPED, "%s", f->test_skip);
    else if (server_skipped(f, r, CHECK_ARCHIVE_TEST))
        return;
    else if (f->test_denied)
        set(r, CHECK_ARCHIVE_TEST, CHECK_WARNING, "%s; HINT: GRANT EXECUTE ON FUNCTION "
            "pg_create_restore_point(text), pg_switch_wal() to the role, or use "
            "--no-archive-test", f->test_error);
    else if (f->test_error[0] != '\0')
        set(r, CHECK_ARCHIVE_TEST, CHECK_CRITICAL, "%s", f->test_error);
    else if (!f->test_archived)
        set(r, CHECK_ARCHIVE_TEST, CHECK_CRITICAL, "segment %s (restore point and WAL switch) "
            "not in the repository after %ds (archive-timeout)", f->test_wal, f->test_timeout_s);
    else
        set(r, CHECK_ARCHIVE_TEST, CHECK_OK, "segment %s archived in %ds", f->test_wal,
            f->test_waited_s);
}

static void judge_archiver(const CheckFacts *f, CheckReport *r)
{
    if (server_skipped(f, r, CHECK_ARCHIVER))
        return;
    if (f->standby && strcmp(f->archive_mode, "always") != 0) {
        set(r, CHECK_ARCHIVER, CHECK_SKIPPED, "a standby without archive_mode = always does not "
            "archive");
        return;
    }
    if (f->archiver_error[0] != '\0') {
        set(r, CHECK_ARCHIVER, CHECK_WARNING, "%s", f->archiver_error);
        return;
    }
    char t[MANIFEST_TIME_LEN + 1];
    if (f->last_failed_us != 0 && f->last_failed_us > f->last_archived_us) {
        manifest_time_format(f->last_failed_us / 1000000, t);
        set(r, CHECK_ARCHIVER, CHECK_CRITICAL, "archiving fails: last failure %s at %s, %s; "
            "%" PRId64 " failures since the server started", f->last_failed_wal, t,
            f->last_archived_us == 0 ? "nothing archived since the server started"
                                    : "no success since", f->failed_count);
    } else if (f->failed_count > 0) {
        manifest_time_format(f->last_failed_us / 1000000, t);
        set(r, CHECK_ARCHIVER, CHECK_OK, "%" PRId64 " archived; recovered from %" PRId64
            " failures (the last at %s)", f->archived_count, f->failed_count, t);
    } else {
        set(r, CHECK_ARCHIVER, CHECK_OK, "%" PRId64 " archived, no failure%s%s",
            f->archived_count, f->last_archived_wal[0] != '\0' ? "; last " : "",
            f->last_archived_wal);
    }
}

/* The oldest complete backup's start segment (on its timeline), false when none. */
static bool oldest_start(const Info *info, uint64_t *segno)
{
    for (size_t i = 0; i < info->cat.n_backups; i++) {
        const CatalogBackup *b = &info->cat.backups[i];
        if (b->status == CATALOG_BACKUP_COMPLETE && info->cat.id.wal_segsize > 0) {
            *segno = b->manifest->start_lsn / info->cat.id.wal_segsize;
            return true;
        }
    }
    return false;
}

static void judge_holes(const CheckFacts *f, CheckReport *r)
{
    const Info *info = f->info;
    if (info == NULL) {
        set(r, CHECK_ARCHIVE_HOLES, CHECK_SKIPPED, "the repository cannot be read");
        return;
    }
    uint64_t from;
    if (!oldest_start(info, &from)) {
        set(r, CHECK_ARCHIVE_HOLES, CHECK_SKIPPED, "no complete backup to start from");
        return;
    }
    size_t n = 0;
    uint64_t dropped = 0;
    const CatalogGap *first = NULL;
    for (size_t i = 0; i < info->n_gaps; i++)
        if (info->gaps[i].to_segno >= from) {
            if (first == NULL)
                first = &info->gaps[i];
            n++;
            dropped += info->gaps[i].n_dropped;
        }
    if (first == NULL) {
        set(r, CHECK_ARCHIVE_HOLES, CHECK_OK, "no hole since the oldest backup");
        return;
    }
    char a[PG_WALNAME_MAX + 1], b[PG_WALNAME_MAX + 1];
    pg_walname_format(first->tli, first->from_segno, info->cat.id.wal_segsize, a);
    pg_walname_format(first->tli, first->to_segno, info->cat.id.wal_segsize, b);
    char why[96] = "";
    if (dropped > 0)
        snprintf(why, sizeof why, " (%" PRIu64 " segment%s dropped by archive-push-queue-full = "
                 "drop)", dropped, dropped == 1 ? "" : "s");
    set(r, CHECK_ARCHIVE_HOLES, CHECK_CRITICAL, "%zu hole%s since the oldest backup, the first "
        "%s..%s: no recovery across it%s", n, n == 1 ? "" : "s", a, b, why);
}

static void judge_backup_age(const CheckFacts *f, CheckReport *r)
{
    if (f->info == NULL) {
        set(r, CHECK_BACKUP_AGE, CHECK_SKIPPED, "the repository cannot be read");
        return;
    }
    const CatalogBackup *b = catalog_newest_complete(&f->info->cat);
    if (b == NULL) {
        set(r, CHECK_BACKUP_AGE, CHECK_CRITICAL, "no complete backup");
        return;
    }
    int64_t age = f->now - b->manifest->stop_time;
    int64_t max = f->info->backup_max_age_s;
    if (max > 0 && age > max)
        set(r, CHECK_BACKUP_AGE, CHECK_CRITICAL, "newest complete backup %s is %s old, more "
            "than backup-max-age %s", b->label, DUR(age), DUR(max));
    else if (max > 0)
        set(r, CHECK_BACKUP_AGE, CHECK_OK, "newest complete backup %s is %s old (max %s)",
            b->label, DUR(age), DUR(max));
    else
        set(r, CHECK_BACKUP_AGE, CHECK_OK, "newest complete backup %s is %s old "
            "(backup-max-age not set)", b->label, DUR(age));
}

static void judge_drill(const CheckFacts *f, CheckReport *r)
{
    if (f->info == NULL) {
        set(r, CHECK_DRILL, CHECK_SKIPPED, "the repository cannot be read");
        return;
    }
    const InfoDrill *d = &f->info->drill;
    int64_t max = f->info->drill_max_age_s;
    if (!d->found) {
        set(r, CHECK_DRILL, CHECK_WARNING, "no drill report: run pgpitr drill");
        return;
    }
    int64_t age = d->started_t > 0 ? f->now - d->started_t : -1;
    char a[40] = "of unknown age";
    if (age >= 0)
        snprintf(a, sizeof a, "%s old", DUR(age));
    if (strcmp(d->status, "passed") != 0)
        set(r, CHECK_DRILL, CHECK_CRITICAL, "newest drill %s %s, %s", d->id,
            d->status[0] != '\0' ? d->status : "did not pass", a);
    else if (max > 0 && (age < 0 || age > max))
        set(r, CHECK_DRILL, CHECK_WARNING, "newest drill %s passed, %s: more than "
            "drill-max-age %s", d->id, a, DUR(max));
    else
        set(r, CHECK_DRILL, CHECK_OK, "newest drill %s passed, %s%s", d->id, a,
            max > 0 ? "" : " (drill-max-age not set)");
}

static void judge_free_space(const CheckFacts *f, CheckReport *r)
{
    if (!f->repo_local) {
        set(r, CHECK_FREE_SPACE, CHECK_SKIPPED, "not a local repository");
        return;
    }
    if (!f->fs_known) {
        set(r, CHECK_FREE_SPACE, CHECK_WARNING, "%s", f->fs_error[0] != '\0' ? f->fs_error
                                                                    : "free space unknown");
        return;
    }
    uint64_t need = 0;
    const CatalogBackup *b = f->info != NULL ? catalog_newest_complete(&f->info->cat) : NULL;
    if (b != NULL)
        need = b->manifest->stored_size;
    double pct = f->fs_total > 0 ? 100.0 * (double)f->fs_avail / (double)f->fs_total : 0;
    char avail[32], total[32];
    snprintf(avail, sizeof avail, "%.1f GiB", (double)f->fs_avail / (1 << 30));
    snprintf(total, sizeof total, "%.1f GiB", (double)f->fs_total / (1 << 30));
    if (pct < CHECK_SPACE_CRIT_PCT)
        set(r, CHECK_FREE_SPACE, CHECK_CRITICAL, "%s free of %s (%.1f%%, below %d%%)", avail,
            total, pct, CHECK_SPACE_CRIT_PCT);
    else if (f->fs_avail < need)
        set(r, CHECK_FREE_SPACE, CHECK_CRITICAL, "%s free: less than the newest backup's "
            "stored size (%" PRIu64 " bytes)", avail, need);
    else if (pct < CHECK_SPACE_WARN_PCT)
        set(r, CHECK_FREE_SPACE, CHECK_WARNING, "%s free of %s (%.1f%%, below %d%%)", avail,
            total, pct, CHECK_SPACE_WARN_PCT);
    else
        set(r, CHECK_FREE_SPACE, CHECK_OK, "%s free of %s (%.1f%%)", avail, total, pct);
}

static void judge_rpo(const CheckFacts *f, CheckReport *r)
{
    if (f->info == NULL) {
        set(r, CHECK_RPO, CHECK_SKIPPED, "the repository cannot be read");
        return;
    }
    int64_t obj = f->info->rpo_objective_s, age;
    bool has = info_archive_freshness(f->info, &age);
    if (obj <= 0)
        set(r, CHECK_RPO, CHECK_SKIPPED, "rpo-objective not set");
    else if (!has)
        set(r, CHECK_RPO, CHECK_CRITICAL, "nothing archived: rpo-objective %s cannot be met",
            DUR(obj));
    else if (age > obj)
        set(r, CHECK_RPO, CHECK_CRITICAL, "newest archived WAL is %s old, more than "
            "rpo-objective %s", DUR(age), DUR(obj));
    else
        set(r, CHECK_RPO, CHECK_OK, "newest archived WAL is %s old (rpo-objective %s)",
            DUR(age), DUR(obj));
}

/* One objective of the newest drill into buf: "rto 2min <= 30min" / "rpo not measured". */
static bool objective_met(const char *what, const InfoObjective *o, char *buf, size_t size)
{
    if (!o->set) {
        buf[0] = '\0';
        return true;
    }
    if (!o->measured)
        snprintf(buf, size, "%s not measured (objective %s)", what, DUR((int64_t)o->objective_s));
    else
        snprintf(buf, size, "%s %s %s %s", what, DUR((int64_t)o->measured_s),
                 o->met ? "<=" : ">", DUR((int64_t)o->objective_s));
    return o->met;
}

static void judge_drill_objectives(const CheckFacts *f, CheckReport *r)
{
    if (f->info == NULL) {
        set(r, CHECK_DRILL_OBJECTIVES, CHECK_SKIPPED, "the repository cannot be read");
        return;
    }
    const InfoDrill *d = &f->info->drill;
    if (!d->found) {
        set(r, CHECK_DRILL_OBJECTIVES, CHECK_SKIPPED, "no drill report");
        return;
    }
    if (!d->has_objectives || (!d->obj_rto.set && !d->obj_rpo.set)) {
        set(r, CHECK_DRILL_OBJECTIVES, CHECK_SKIPPED, "drill %s states no objectives "
            "(rto-objective, rpo-objective not set when it ran)", d->id);
        return;
    }
    char a[96], b[96];
    bool ok = objective_met("rto", &d->obj_rto, a, sizeof a);
    ok = objective_met("rpo", &d->obj_rpo, b, sizeof b) && ok;
    const char *sep = a[0] != '\0' && b[0] != '\0' ? ", " : "";
    if (ok)
        set(r, CHECK_DRILL_OBJECTIVES, CHECK_OK, "drill %s met its objectives: %s%s%s", d->id,
            a, sep, b);
    else
        set(r, CHECK_DRILL_OBJECTIVES, CHECK_CRITICAL, "drill %s missed its objectives: %s%s%s",
            d->id, a, sep, b);
}

void check_judge(const CheckFacts *f, CheckReport *out)
{
    memset(out, 0, sizeof *out);
    judge_config(f, out);
    judge_repository(f, out);
    judge_cluster(f, out);
    judge_archive_mode(f, out);
    judge_archive_command(f, out);
    judge_archive_test(f, out);
    judge_archiver(f, out);
    judge_holes(f, out);
    judge_backup_age(f, out);
    judge_drill(f, out);
    judge_free_space(f, out);
    judge_rpo(f, out);
    judge_drill_objectives(f, out);
    out->overall = CHECK_OK;
    for (int i = 0; i < CHECK__COUNT; i++) {
        CheckStatus s = out->r[i].status;
        if (s == CHECK_WARNING)
            out->n_warning++;
        else if (s == CHECK_CRITICAL)
            out->n_critical++;
        else if (s == CHECK_SKIPPED)
            out->n_skipped++;
        if (s != CHECK_SKIPPED && s > out->overall)
            out->overall = s;
    }
}

void check_summary(const CheckReport *r, char *out, size_t size)
{
    if (r->overall == CHECK_OK) {
        snprintf(out, size, "PGPITR CHECK OK - %d checks, %d skipped", CHECK__COUNT,
                 r->n_skipped);
        return;
    }
    int worst = 0;
    for (int i = 0; i < CHECK__COUNT; i++)
        if (r->r[i].status == r->overall) {
            worst = i;
            break;
        }
    char counts[64];
    if (r->n_critical > 0 && r->n_warning > 0)
        snprintf(counts, sizeof counts, "%d critical, %d warning", r->n_critical, r->n_warning);
    else if (r->n_critical > 0)
        snprintf(counts, sizeof counts, "%d critical", r->n_critical);
    else
        snprintf(counts, sizeof counts, "%d warning", r->n_warning);
    snprintf(out, size, "PGPITR CHECK %s - %s: %s: %s", check_status_name(r->overall), counts,
             check_name((CheckId)worst), r->r[worst].reason);
}

/* ---- archive_command ------------------------------------------------------------------------ */

#define AC_WORDS 16

typedef struct AcWords {
    char w[AC_WORDS][CHECK_TEXT_MAX];
    bool dynamic[AC_WORDS];     /* held an unquoted or double-quoted $ or ` */
    int n;
    bool ops_before_end;        /* an unquoted operator ; | & < > ( ) was met */
} AcWords;

/* One word at *p with sound shell quoting; false at an operator or the end. */
static bool ac_word(const char **pp, char *out, bool *dynamic, bool *op)
{
    const char *p = *pp;
    size_t n = 0;
    *dynamic = false;
    *op = false;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '\n')
        return false;
    if (strchr(";|&<>()", *p) != NULL) {
        *op = true;
        return false;
    }
    while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' && strchr(";|&<>()", *p) == NULL) {
        char c = *p++;
        if (c == '\'') {
            while (*p != '\0' && *p != '\'' && n + 1 < CHECK_TEXT_MAX)
                out[n++] = *p++;
            if (*p == '\'')
                p++;
        } else if (c == '"') {
            while (*p != '\0' && *p != '"' && n + 1 < CHECK_TEXT_MAX) {
                if (*p == '$' || *p == '`')
                    *dynamic = true;
                if (*p == '\\' && p[1] != '\0' && strchr("\"\\$`", p[1]) != NULL)
                    p++;
                out[n++] = *p++;
            }
            if (*p == '"')
                p++;
        } else if (c == '\\' && *p != '\0') {
            if (n + 1 < CHECK_TEXT_MAX)
                out[n++] = *p++;
        } else {
            if (c == '$' || c == '`' || c == '*' || c == '?' || c == '~')
                *dynamic = true;
            if (n + 1 < CHECK_TEXT_MAX)
                out[n++] = c;
        }
    }
    out[n] = '\0';
    *pp = p;
    return true;
}

static void ac_split(const char *cmd, AcWords *w)
{
    memset(w, 0, sizeof *w);
    const char *p = cmd;
    bool op;
    while (w->n < AC_WORDS && ac_word(&p, w->w[w->n], &w->dynamic[w->n], &op))
        w->n++;
    w->ops_before_end = op;
}

static bool is_assignment(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
    return n > 0 && s[n] == '=';
}

static const char *base_name(const char *s)
{
    const char *b = strrchr(s, '/');
    return b != NULL ? b + 1 : s;
}

static bool is_env(const char *s)
{
    return strcmp(s, "env") == 0 || strcmp(s, "/usr/bin/env") == 0;
}

static bool is_shell(const char *s)
{
    const char *b = base_name(s);
    return strcmp(b, "sh") == 0 || strcmp(b, "bash") == 0 || strcmp(b, "dash") == 0;
}

static bool is_pgpitr(const char *s)
{
    return strcmp(base_name(s), "pgpitr") == 0;
}

static void ac_result(CheckArchiveCommand *out, CheckAcKind kind, const char *value)
{
    out->kind = kind;
    snprintf(out->value, sizeof out->value, "%s", value);
}

/* The global options after pgpitr (words[i..]) up to archive-push. --repo wins over the
 * repo setting of --config's file, whatever their order (cmd_settings_load). */
static void ac_options(const AcWords *w, int i, CheckArchiveCommand *out)
{
    const char *repo = NULL, *conf = NULL;
    for (; i < w->n; i++) {
        const char *s = w->w[i];
        if (strcmp(s, "archive-push") == 0) {
            if (repo != NULL)
                ac_result(out, CHECK_AC_REPO, repo);
            else if (conf != NULL)
                ac_result(out, CHECK_AC_CONFIG, conf);
            else
                ac_result(out, CHECK_AC_DEFAULT, "");
            return;
        }
        const char **slot = NULL;
        const char *value = NULL;
        if ((strcmp(s, "--repo") == 0 || strcmp(s, "--config") == 0) && i + 1 < w->n) {
            slot = s[2] == 'r' ? &repo : &conf;
            value = w->w[++i];
        } else if (strncmp(s, "--repo=", 7) == 0 || strncmp(s, "--config=", 9) == 0) {
            slot = s[2] == 'r' ? &repo : &conf;
            value = strchr(s, '=') + 1;
        }
        /* --log-level and the like: the repository does not depend on them */
        if (w->dynamic[i] && slot != NULL) {
            ac_result(out, CHECK_AC_UNKNOWN, "a variable or expansion in its options");
            return;
        }
        if (slot != NULL)
            *slot = value;
    }
    ac_result(out, w->ops_before_end ? CHECK_AC_UNKNOWN : CHECK_AC_NOT_PGPITR,
              w->ops_before_end ? "shell operators before archive-push"
                                : "pgpitr runs, but not archive-push");
}

void check_parse_archive_command(const char *cmd, bool script_ok, CheckArchiveCommand *out)
{
    AcWords *w = &(AcWords){0};
    ac_split(cmd, w);
    int i = 0;
    while (i < w->n && (strcmp(w->w[i], "exec") == 0 || is_env(w->w[i]) ||
                        is_assignment(w->w[i])))
        i++;
    /* "sh /path/wrap.sh %p": the script is what runs */
    if (i + 1 < w->n && is_shell(w->w[i]) && w->w[i + 1][0] == '/')
        i++;
    /* Shell syntax around a command that never names pgpitr ("test ! -f ... && cp ..."):
     * whatever it does, it is not pgpitr archive-push. */
    bool names = strstr(cmd, "pgpitr") != NULL || strchr(cmd, '$') != NULL ||
                 strchr(cmd, '`') != NULL;
    if (w->ops_before_end && !names && !(script_ok && i < w->n && w->w[i][0] == '/')) {
        ac_result(out, CHECK_AC_NOT_PGPITR, "a command that does not name pgpitr");
        return;
    }
    if (i >= w->n) {
        ac_result(out, w->ops_before_end ? CHECK_AC_UNKNOWN : CHECK_AC_NOT_PGPITR,
                  w->ops_before_end ? "shell syntax" : "no command");
        return;
    }
    if (w->dynamic[i]) {
        ac_result(out, CHECK_AC_UNKNOWN, "the program is a variable or expansion");
        return;
    }
    if (is_pgpitr(w->w[i])) {
        ac_options(w, i + 1, out);
        return;
    }
    if (script_ok && w->w[i][0] == '/') {
        ac_result(out, CHECK_AC_SCRIPT, w->w[i]);
        return;
    }
    ac_result(out, w->ops_before_end ? CHECK_AC_UNKNOWN : CHECK_AC_NOT_PGPITR,
              w->ops_before_end ? "shell syntax" : w->w[i]);
}
