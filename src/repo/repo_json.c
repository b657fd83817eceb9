/*
 * repo_json.c - JSON pieces the commands' documents share (info, verify, expire, drill
 * reports): the document as text with its final newline, and times and LSNs as values, so
 * every document writes them the same way. Owns no document.
 */
#include "pgpitr/repo/repo_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/repo/catalog.h"
#include "pgpitr/repo/lease.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/repolock.h"
#include "pgpitr/pg/walname.h"

char *repo_json_text(const json_t *j, size_t flags)
{
    char *text = j != NULL ? json_dumps(j, flags) : NULL;
    if (text == NULL)
        return NULL;
    size_t n = strlen(text);
    char *t = realloc(text, n + 2);
    if (t == NULL) {
        free(text);
        return NULL;
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    return t;
}

json_t *repo_json_time(int64_t t)
{
    char s[32];
    catalog_format_time(t, s);
    return strcmp(s, "-") == 0 ? json_null() : json_string(s);
}

json_t *repo_json_lsn(uint64_t lsn)
{
    char s[20];
    pg_lsn_format(lsn, s);
    return json_string(s);
}

json_t *repo_json_ascii(const char *s)
{
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        copy[i] = (i == n || (s[i] >= 0x20 && s[i] < 0x7f)) ? s[i] : '?';
    json_t *j = json_string(copy);
    free(copy);
    return j;
}

json_t *repo_json_source(const ManifestSource *src)
{
    if (src == NULL)
        return json_null();
    return json_pack("{s:s, s:o, s:o}", "role", "standby", "server", repo_json_ascii(src->server),
                     "primary", repo_json_ascii(src->primary));
}

static json_t *str_or_null(bool ok, const char *s)
{
    return ok ? json_string(s) : json_null();
}

json_t *repo_json_lease(const LeaseEntry *e)
{
    const Lease *x = &e->lease;
    bool ok = e->parsed;
    char sysid[24];
    snprintf(sysid, sizeof sysid, "%" PRIu64, x->system_identifier);
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "path", e->path, "state", lease_state_name(e->state),
                     "host", str_or_null(ok, x->host),
                     "data_directory", str_or_null(ok, x->datadir),
                     "system_identifier", str_or_null(ok, sysid), "wal", str_or_null(ok, x->wal),
                     "timeline", ok ? json_integer((json_int_t)x->tli) : json_null(),
                     "created_by", str_or_null(ok, x->created_by),
                     "since", ok ? repo_json_time(x->since) : json_null(),
                     "renewed", ok ? repo_json_time(x->renewed) : json_null(),
                     "expires", ok ? repo_json_time(x->expires) : json_null(),
                     "error", str_or_null(!ok, e->error),
                     "last_change", repo_json_time(e->mtime));
}

static json_t *ascii_or_null(bool present, const char *s)
{
    return present ? repo_json_ascii(s) : json_null();
}

json_t *repo_json_lock_holder(const RepoLockHolder *h)
{
    bool p = h->parsed;
    return json_pack("{s:o, s:b, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                     "object", repo_json_ascii(h->path), "readable", p, "alive", h->alive,
                     "kind", ascii_or_null(p, h->kind_name),
                     "command", ascii_or_null(p, h->command),
                     "pid", p ? json_integer((json_int_t)h->pid) : json_null(),
                     "host", ascii_or_null(p, h->host),
                     "label", ascii_or_null(p && h->label[0] != '\0', h->label),
                     "since", p ? repo_json_time(h->since) : json_null(),
                     "heartbeat", p ? repo_json_time(h->heartbeat) : json_null(),
                     "last_change", repo_json_time(h->mtime));
}
