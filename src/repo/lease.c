/*
 * lease.c - recovery lease objects in leases/ (see lease.h): their names, their JSON text,
 * strict parsing, atomic writing, removal, and the read-only listing with each lease's state.
 * It never decides when a lease is written or what position it holds (recovery_lease.c), nor
 * what expire does with it (expire_plan.c).
 */
#include "pgpitr/repo/lease.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/pipe/pipe.h"

#define ID_HEX 16

int lease_path(const char *host, const char *datadir, char out[REPO_PATH_MAX], PgpErr *err)
{
    char safe[PROC_HOST_NAME_PART], id[ID_HEX + 1];
    proc_host_name_part(host, safe);
    /* host NUL datadir: "a" + "b/c" and "ab" + "/c" must not collide */
    char buf[PROC_HOST_MAX + 4096];
    size_t hl = strnlen(host, PROC_HOST_MAX - 1), dl = strnlen(datadir, 4096);
    memcpy(buf, host, hl);
    buf[hl] = '\0';
    memcpy(buf + hl + 1, datadir, dl);
    uint8_t digest[PIPE_SHA256_LEN];
    int rc = pipe_sha256_buf(buf, hl + 1 + dl, digest, err);
    if (rc != 0)
        return rc;
    for (size_t k = 0; k < ID_HEX / 2; k++)
        snprintf(id + 2 * k, 3, "%02x", digest[k]);
    snprintf(out, REPO_PATH_MAX, LEASE_DIR "/recovery-%s-%s.json", safe, id);
    return 0;
}

void lease_set_position(Lease *l, uint32_t tli, uint64_t segno, uint32_t segsize)
{
    l->tli = tli;
    l->segno = segno;
    pg_walname_format(tli, segno, segsize, l->wal);
}

/* ---- text ----------------------------------------------------------------------------------- */

static bool times_valid(const Lease *l)
{
    return l->since >= 0 && l->since <= l->renewed && l->renewed <= l->expires &&
           l->expires - l->renewed <= LEASE_TTL_MAX;
}

int lease_to_json(const Lease *l, char **out, PgpErr *err)
{
    *out = NULL;
    char since[MANIFEST_TIME_LEN + 1], renewed[MANIFEST_TIME_LEN + 1],
        expires[MANIFEST_TIME_LEN + 1], sysid[24];
    manifest_time_format(l->since, since);
    manifest_time_format(l->renewed, renewed);
    manifest_time_format(l->expires, expires);
    if (l->host[0] == '\0' || l->datadir[0] != '/' || l->created_by[0] == '\0' ||
        !times_valid(l) || since[0] == '\0' || expires[0] == '\0' ||
        strlen(l->wal) != PG_WALNAME_SEG_LEN)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "invalid recovery lease for \"%s\"", l->datadir);
    snprintf(sysid, sizeof sysid, "%" PRIu64, l->system_identifier);
    json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:I}", "format",
                          LEASE_FORMAT, "host", l->host, "data_directory", l->datadir,
                          "system_identifier", sysid, "wal", l->wal, "timeline",
                          (json_int_t)l->tli, "created_by", l->created_by, "since", since,
                          "renewed", renewed, "expires", expires, "ttl_s",
                          (json_int_t)(l->expires - l->renewed));
    *out = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (*out == NULL)   /* also a data directory that is not UTF-8 */
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "cannot write the recovery lease for \"%s\" as "
                        "JSON", l->datadir);
    return 0;
}

/* A string field: present, non-empty, shorter than size, no control bytes. */
static bool get_str(json_t *j, const char *key, char *out, size_t size)
{
    const char *s = json_string_value(json_object_get(j, key));
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n >= size || n != json_string_length(json_object_get(j, key)))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    memcpy(out, s, n + 1);
    return true;
}

static bool get_time(json_t *j, const char *key, int64_t *out)
{
    char text[MANIFEST_TIME_LEN + 1];
    return get_str(j, key, text, sizeof text) && manifest_time_parse(text, out);
}

static int bad(PgpErr *err, const char *field)
{
    return PGP_FAIL(err, PGP_ERR_CORRUPT, "recovery lease: missing or invalid \"%s\"", field);
}

/* Every field but the position. */
static int parse_fields(json_t *j, Lease *l, PgpErr *err)
{
    char sysid[24];
    char *end = NULL;
    json_t *format = json_object_get(j, "format");
    if (!json_is_integer(format) || json_integer_value(format) != LEASE_FORMAT)
        return bad(err, "format");
    if (!get_str(j, "host", l->host, sizeof l->host))
        return bad(err, "host");
    if (!get_str(j, "data_directory", l->datadir, sizeof l->datadir) || l->datadir[0] != '/')
        return bad(err, "data_directory");
    if (!get_str(j, "system_identifier", sysid, sizeof sysid) || sysid[0] < '0' ||
        sysid[0] > '9' || (l->system_identifier = strtoull(sysid, &end, 10), *end != '\0') ||
        strlen(sysid) > 20)
        return bad(err, "system_identifier");
    if (!get_str(j, "created_by", l->created_by, sizeof l->created_by))
        return bad(err, "created_by");
    if (!get_time(j, "since", &l->since) || !get_time(j, "renewed", &l->renewed) ||
        !get_time(j, "expires", &l->expires) || !times_valid(l))
        return bad(err, "since/renewed/expires");
    return 0;
}

int lease_parse(const char *text, size_t len, uint32_t segsize, Lease *out, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    if (len > LEASE_MAX_BYTES)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "recovery lease: %zu bytes, more than %u", len,
                        LEASE_MAX_BYTES);
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "recovery lease: not a JSON object");
    }
    int rc = parse_fields(j, out, err);
    PgWalName wn;
    json_t *tli = json_object_get(j, "timeline");
    if (rc == 0 && (!get_str(j, "wal", out->wal, sizeof out->wal) ||
                    pg_walname_parse(out->wal, &wn, NULL) != 0 ||
                    wn.kind != PG_WALFILE_SEGMENT || !pg_walname_segno(&wn, segsize, &out->segno)))
        rc = bad(err, "wal");
    /* redundant with the name, so it must agree with it */
    if (rc == 0 && (!json_is_integer(tli) || json_integer_value(tli) != (json_int_t)wn.tli))
        rc = bad(err, "timeline");
    if (rc == 0)
        out->tli = wn.tli;
    json_decref(j);
    return rc;
}

/* ---- objects -------------------------------------------------------------------------------- */

int lease_write(Storage *s, const Lease *l, PgpErr *err)
{
    char path[REPO_PATH_MAX], *text = NULL;
    int rc = lease_path(l->host, l->datadir, path, err);
    if (rc != 0)
        return rc;
    rc = lease_to_json(l, &text, err);
    if (rc == 0)
        rc = storage_put_all(s, path, STORAGE_WRITE_REPLACE, text, strlen(text), err);
    free(text);
    if (rc != 0)
        pgp_err_context(err, "cannot write the recovery lease \"%s\"", path);
    return rc;
}

int lease_read(Storage *s, const char *path, uint32_t segsize, Lease *out, PgpErr *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = storage_get_all(s, path, LEASE_MAX_BYTES, &text, &len, err);
    if (rc == 0)
        rc = lease_parse(text, len, segsize, out, err);
    free(text);
    return rc;
}

int lease_remove(Storage *s, const char *path, PgpErr *err)
{
    int rc = storage_remove(s, path, err);
    if (rc == PGP_ERR_NOT_FOUND) {
        pgp_err_clear(err);
        return 0;
    }
    return rc != 0 ? pgp_err_context(err, "cannot remove the recovery lease \"%s\"", path) : 0;
}

/* ---- listing -------------------------------------------------------------------------------- */

const char *lease_state_name(LeaseState s)
{
    switch (s) {
    case LEASE_LIVE: return "live";
    case LEASE_STALE: return "stale";
    case LEASE_UNREADABLE: return "unreadable";
    }
    return "unknown";
}

typedef struct Listing {
    LeaseEntry *v;
    size_t n, cap;
} Listing;

static int on_lease(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    Listing *l = ud;
    size_t len = strlen(name);
    if (info->is_dir || len < 6 || strcmp(name + len - 5, ".json") != 0)
        return 0;   /* not a lease object: not ours to judge */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f)
            return 0;   /* nor is a name lease_path never makes (and no report could show) */
    if (GROW(l->v, l->n, l->cap, 8, "leases", err) != 0)
        return PGP_ERR_NOMEM;
    LeaseEntry *e = &l->v[l->n];
    memset(e, 0, sizeof *e);
    int n = snprintf(e->path, sizeof e->path, LEASE_DIR "/%s", name);
    if (n < 0 || (size_t)n >= sizeof e->path)
        return 0;   /* no lease of ours has such a name */
    e->mtime = info->mtime;
    l->n++;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const LeaseEntry *)a)->path, ((const LeaseEntry *)b)->path);
}

int lease_list(Storage *s, uint32_t segsize, int64_t now, LeaseEntry **out, size_t *n,
               PgpErr *err)
{
    *out = NULL;
    *n = 0;
    Listing l = {0};
    int rc = storage_list(s, LEASE_DIR, on_lease, &l, err);   /* none: empty */
    if (rc != 0)
        pgp_err_context(err, "cannot list \"%s\"", LEASE_DIR);
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        LeaseEntry e = l.v[i];
        PgpErr perr;
        pgp_err_clear(&perr);
        int prc = lease_read(s, e.path, segsize, &e.lease, &perr);
        if (prc == PGP_ERR_NOT_FOUND)
            continue;               /* removed meanwhile (renewal never removes) */
        if (prc != 0 && prc != PGP_ERR_CORRUPT) {
            *err = perr;
            rc = prc;
            break;
        }
        e.parsed = prc == 0;
        if (e.parsed)
            e.state = now < e.lease.expires ? LEASE_LIVE : LEASE_STALE;
        else
            e.state = now - e.mtime > LEASE_UNREADABLE_HOLD_S ? LEASE_STALE : LEASE_UNREADABLE;
        if (!e.parsed) {
            snprintf(e.error, sizeof e.error, "%.159s", perr.msg);
            for (char *c = e.error; *c != '\0'; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                    *c = '?';   /* one printable line in every report */
        }
        l.v[k++] = e;
    }
    if (rc != 0 || k == 0) {
        free(l.v);
        return rc;
    }
    qsort(l.v, k, sizeof *l.v, cmp_entry);
    *out = l.v;
    *n = k;
    return 0;
}
