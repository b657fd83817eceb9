/*
 * verify_summary.c - the newest whole-repository verify's result in the repository
 * (verify_summary.h): verify/<YYYYmmddTHHMMSSZ>-<8 hex>.json, names that sort by time, each
 * written once (meta_put_all never replaces), the oldest beyond VERIFY_SUMMARY_KEEP
 * removed after a new one is stored.
 */
#include "pgpitr/repo/verify_summary.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pgpitr/common/log.h"
#include "pgpitr/common/timefmt.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/meta_io.h"
#include "pgpitr/repo/repo_json.h"
#include "pgpitr/repo/repo_layout.h"

#define SUMMARY_MAX 4096
#define NAME_LEN 30            /* "20261122T040000Z-0123abcd.json" */

static bool name_valid(const char *name)
{
    if (strlen(name) != NAME_LEN || strcmp(name + NAME_LEN - 5, ".json") != 0 ||
        name[8] != 'T' || name[15] != 'Z' || name[16] != '-')
        return false;
    for (int i = 0; i < NAME_LEN - 5; i++)
        if (i != 8 && i != 15 && i != 16 && strchr("0123456789abcdef", name[i]) == NULL)
            return false;
    return true;
}

bool verify_summary_parse(const char *text, size_t len, VerifySummary *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = json_loadb(text, len, 0, NULL);
    json_t *errors = json_object_get(j, "errors"), *objects = json_object_get(j, "objects");
    const char *fin = json_string_value(json_object_get(j, "finished"));
    bool ok = json_is_integer(errors) && json_integer_value(errors) >= 0 &&
              json_is_integer(objects) && json_integer_value(objects) >= 0 && fin != NULL &&
              manifest_time_parse(fin, &out->finished);
    if (ok) {
        out->found = true;
        out->errors = (uint64_t)json_integer_value(errors);
        out->objects = (uint64_t)json_integer_value(objects);
    }
    json_decref(j);
    return ok;
}

/* Names in verify/, ascending (oldest first). */
typedef struct Names {
    char (*v)[NAME_LEN + 1];
    size_t n, cap;
} Names;

static int collect(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Names *ns = ud;
    if (info->is_dir || !name_valid(name))
        return 0;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        void *v = realloc(ns->v, cap * sizeof *ns->v);
        if (v == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        ns->v = v;
        ns->cap = cap;
    }
    memcpy(ns->v[ns->n++], name, NAME_LEN + 1);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int list_names(Storage *s, Names *ns, PgpErr *err)
{
    memset(ns, 0, sizeof *ns);
    int rc = storage_list(s, REPO_LAYOUT_VERIFY_DIR, collect, ns, err);
    if (rc == PGP_ERR_NOT_FOUND) {   /* no verify yet */
        pgp_err_clear(err);
        rc = 0;
    }
    if (rc == 0 && ns->n > 1)
        qsort(ns->v, ns->n, sizeof *ns->v, cmp_name);
    return rc;
}

int verify_summary_find_newest(Storage *s, const CryptoRepoKey *key, VerifySummary *out,
                               PgpErr *err)
{
    memset(out, 0, sizeof *out);
    Names ns;
    int rc = list_names(s, &ns, err);
    for (size_t i = ns.n; rc == 0 && i-- > 0;) {
        char path[REPO_PATH_MAX], *text = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, REPO_LAYOUT_VERIFY_DIR "/%s", ns.v[i]);
        rc = meta_get_all(s, key, path, SUMMARY_MAX, &text, &len, err);
        if (rc == PGP_ERR_CORRUPT)   /* too large, or (encrypted) altered: say so, go on */
            log_warn("ignoring \"%s\": %s", path, err->msg);
        if (rc == PGP_ERR_NOT_FOUND || rc == PGP_ERR_CORRUPT) {   /* removed, or see above */
            pgp_err_clear(err);
            rc = 0;
        } else if (rc == 0 && verify_summary_parse(text, len, out)) {
            free(text);
            break;
        } else if (rc == 0) {
            log_warn("ignoring \"%s\": not a verify summary", path);
        }
        free(text);
    }
    free(ns.v);
    return rc;
}

/* All but the newest VERIFY_SUMMARY_KEEP; failures are warnings. */
static void prune(Storage *s)
{
    Names ns;
    PgpErr e = {0};
    if (list_names(s, &ns, &e) != 0) {
        log_warn("cannot list the verify summaries: %s", e.msg);
        return;
    }
    for (size_t i = 0; i + VERIFY_SUMMARY_KEEP < ns.n; i++) {
        char path[REPO_PATH_MAX];
        snprintf(path, sizeof path, REPO_LAYOUT_VERIFY_DIR "/%s", ns.v[i]);
        if (storage_remove(s, path, &e) != 0)
            log_warn("cannot remove the old verify summary \"%s\": %s", path, e.msg);
    }
    free(ns.v);
}

int verify_summary_store(Storage *s, const CryptoRepoKey *key, const VerifySummary *v,
                         PgpErr *err)
{
    char stamp[32], path[REPO_PATH_MAX];
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
        rnd = (uint32_t)v->finished ^ (uint32_t)v->objects;   /* the time makes it unique */
    if (!timefmt_utc(v->finished, "%Y%m%dT%H%M%SZ", stamp, sizeof stamp))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "verify summary: time %lld out of range",
                        (long long)v->finished);
    snprintf(path, sizeof path, REPO_LAYOUT_VERIFY_DIR "/%s-%08x.json", stamp, rnd);
    json_t *j = json_pack("{s:o, s:I, s:I}", "finished", repo_json_time(v->finished), "objects",
                          (json_int_t)v->objects, "errors", (json_int_t)v->errors);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (text == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = meta_put_all(s, key, path, 0, text, strlen(text), err);
    free(text);
    if (rc != 0) {
        pgp_err_context(err, "cannot keep the verify summary in the repository");
        return rc;
    }
    prune(s);
    return 0;
}
