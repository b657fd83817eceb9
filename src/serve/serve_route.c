/*
 * serve_route.c - routes, parameter patterns and the POST body whitelist of `pgpitr serve`
 * (serve_route.h). Pure: strings in, decisions out.
 */
#include "pgpitr/serve/serve_route.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/repo/manifest.h"

static const char *const kind_names[SERVE_JOB__COUNT] = {"backup", "drill", "verify",
                                                         "expire"};

const char *serve_job_kind_name(ServeJobKind k)
{
    return k < SERVE_JOB__COUNT ? kind_names[k] : "?";
}

bool serve_label_valid(const char *s)
{
    return strlen(s) < SERVE_PARAM_MAX && manifest_label_valid(s);
}

static bool all_of(const char *s, size_t n, const char *set)
{
    return strspn(s, set) >= n;
}

bool serve_drill_id_valid(const char *s)
{
    /* 20261122T040000Z-3fa9 */
    static const char *const shape = "ddddddddTddddddZ-hhhh";
    if (strlen(s) != strlen(shape))
        return false;
    for (size_t i = 0; shape[i] != '\0'; i++) {
        char c = s[i];
        bool ok = shape[i] == 'd'   ? c >= '0' && c <= '9'
                  : shape[i] == 'h' ? (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                                    : c == shape[i];
        if (!ok)
            return false;
    }
    return true;
}

bool serve_job_id_valid(const char *s)
{
    for (int k = 0; k < SERVE_JOB__COUNT; k++) {
        size_t n = strlen(kind_names[k]);
        if (strncmp(s, kind_names[k], n) != 0 || s[n] != '-')
            continue;
        const char *a = s + n + 1, *dash = strchr(a, '-');
        if (dash == NULL || dash == a || dash - a > 20 || !all_of(a, (size_t)(dash - a),
                                                                 "0123456789"))
            return false;
        size_t rest = strlen(dash + 1);
        return rest >= 1 && rest <= 10 && all_of(dash + 1, rest, "0123456789");
    }
    return false;
}

/* path == prefix + "/" + PARAM: copies PARAM (true); false when path is not below prefix. A
 * PARAM too long to copy is left empty, which no pattern accepts. */
static bool below(const char *path, const char *prefix, char param[SERVE_PARAM_MAX])
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
        return false;
    if (strlen(path + n + 1) < SERVE_PARAM_MAX)
        snprintf(param, SERVE_PARAM_MAX, "%s", path + n + 1);
    return true;
}

void serve_route_match(const char *path, ServeRoute *out)
{
    static const struct {
        const char *path;
        ServeRouteId id;
        const char *allow;
    } fixed[] = {
        {"/health", SERVE_R_HEALTH, "GET"},         {"/metrics", SERVE_R_METRICS, "GET"},
        {"/api/v1/info", SERVE_R_INFO, "GET"},      {"/api/v1/backups", SERVE_R_BACKUPS, "GET, POST"},
        {"/api/v1/drills", SERVE_R_DRILLS, "GET, POST"}, {"/api/v1/verify", SERVE_R_VERIFY, "POST"},
        {"/api/v1/expire", SERVE_R_EXPIRE, "POST"},
    };
    memset(out, 0, sizeof *out);
    out->allow = "";
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(path, fixed[i].path) == 0) {
            out->id = fixed[i].id;
            out->allow = fixed[i].allow;
            return;
        }
    if (below(path, "/api/v1/backups", out->param)) {
        out->id = SERVE_R_BACKUP;
        out->param_bad = !serve_label_valid(out->param);
    } else if (below(path, "/api/v1/drills", out->param)) {
        out->id = SERVE_R_DRILL;
        out->param_bad = !serve_drill_id_valid(out->param);
    } else if (below(path, "/api/v1/jobs", out->param)) {
        out->id = SERVE_R_JOB;
        out->param_bad = !serve_job_id_valid(out->param);
    } else {
        return;
    }
    out->allow = "GET";
}

bool serve_route_allows(const ServeRoute *r, const char *method)
{
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return strstr(r->allow, "GET") != NULL;
    if (strcmp(method, "POST") == 0)
        return strstr(r->allow, "POST") != NULL;
    return false;
}

bool serve_route_needs_token(const ServeRoute *r)
{
    return r->id != SERVE_R_HEALTH;
}

bool serve_route_job_kind(const ServeRoute *r, ServeJobKind *kind)
{
    switch (r->id) {
    case SERVE_R_BACKUPS: *kind = SERVE_JOB_BACKUP; return true;
    case SERVE_R_DRILLS: *kind = SERVE_JOB_DRILL; return true;
    case SERVE_R_VERIFY: *kind = SERVE_JOB_VERIFY; return true;
    case SERVE_R_EXPIRE: *kind = SERVE_JOB_EXPIRE; return true;
    default: return false;
    }
}

/* ---- the POST body ------------------------------------------------------------------------ */

typedef enum { F_LABEL, F_TIME, F_CHECKPOINT, F_TRUE } FieldType;

typedef struct Field {
    ServeJobKind kind;
    const char *name;       /* the JSON member */
    FieldType type;
    const char *flag;       /* the command's flag */
} Field;

static const Field fields[] = {
    {SERVE_JOB_BACKUP, "label", F_LABEL, "--label"},
    {SERVE_JOB_BACKUP, "checkpoint", F_CHECKPOINT, "--checkpoint"},
    {SERVE_JOB_DRILL, "backup", F_LABEL, "--backup"},
    {SERVE_JOB_DRILL, "target_time", F_TIME, "--target-time"},
    {SERVE_JOB_DRILL, "target_latest", F_TRUE, "--target-latest"},
    {SERVE_JOB_DRILL, "target_immediate", F_TRUE, "--target-immediate"},
    {SERVE_JOB_DRILL, "amcheck", F_TRUE, "--amcheck"},
    {SERVE_JOB_VERIFY, "backup", F_LABEL, "--backup"},
    {SERVE_JOB_EXPIRE, "dry_run", F_TRUE, "--dry-run"},
};

/* One member: false with why when its value does not fit the field. */
static bool take_field(const Field *f, json_t *v, ServeJobArgs *out, char *why, size_t why_size)
{
    if (f->type == F_TRUE) {
        if (!json_is_boolean(v)) {
            snprintf(why, why_size, "\"%s\" must be true or false", f->name);
            return false;
        }
        if (json_is_true(v))
            snprintf(out->v[out->n++], SERVE_ARG_MAX, "%s", f->flag);
        return true;
    }
    const char *s = json_string_value(v);
    bool ok = s != NULL && strlen(s) == json_string_length(v);
    const char *need = "a backup label ([A-Za-z0-9._-], not starting with '.')";
    if (f->type == F_LABEL) {
        ok = ok && serve_label_valid(s);
    } else if (f->type == F_CHECKPOINT) {
        ok = ok && (strcmp(s, "fast") == 0 || strcmp(s, "spread") == 0);
        need = "\"fast\" or \"spread\"";
    } else {
        /* ISO 8601 with an offset; the command parses it, this only keeps the characters
         * such a time has */
        ok = ok && s[0] != '\0' && strlen(s) <= 64 && all_of(s, strlen(s), "0123456789-:T+. Z");
        need = "a time such as \"2026-12-04T10:00:00+00:00\"";
    }
    if (!ok) {
        snprintf(why, why_size, "\"%s\" must be %s", f->name, need);
        return false;
    }
    snprintf(out->v[out->n++], SERVE_ARG_MAX, "%s=%s", f->flag, s);
    return true;
}

bool serve_job_args_parse(ServeJobKind k, const char *body, size_t len, ServeJobArgs *out,
                          char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || strspn(body, " \t\r\n") >= len)
        return true;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        snprintf(why, why_size, "malformed JSON: %s (line %d, column %d)", je.text, je.line,
                 je.column);
        return false;
    }
    bool ok = json_is_object(root);
    if (!ok)
        snprintf(why, why_size, "the body must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!ok)
            break;
        const Field *f = NULL;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0] && f == NULL; i++)
            if (fields[i].kind == k && strcmp(fields[i].name, key) == 0)
                f = &fields[i];
        if (f == NULL) {
            char q[48];
            snprintf(q, sizeof q, "%.40s", key);
            for (char *p = q; *p != '\0'; p++)
                if ((unsigned char)*p < 0x20 || *p == '"' || *p == 0x7f)
                    *p = '?';
            char known[160] = "";
            for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
                if (fields[i].kind == k)
                    snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                             known[0] != '\0' ? ", " : "", fields[i].name);
            snprintf(why, why_size, "unknown field \"%s\" (a %s job takes: %s)", q,
                     serve_job_kind_name(k), known);
            ok = false;
        } else {
            ok = take_field(f, v, out, why, why_size);
        }
    }
    json_decref(root);
    return ok;
}
