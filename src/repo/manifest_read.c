/*
 * manifest_read.c - the fields of a backup manifest's JSON values: the header (every top-level
 * field but "entries", as one small object) and one entry at a time, each field's presence,
 * type and range. manifest_stream.c walks the document and hands the values here; the semantic
 * rules are manifest_validate_*() (manifest.c). Strict: unknown fields, and fields that do not belong to an entry's type, are
 * errors naming the field and the entry, because a manifest drives what restore writes where.
 */
#include "manifest_impl.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/hexstr.h"
#include "pgpitr/repo/chunk_list.h"


/* manifest_time_parse for get_conv. */
static bool time_parse(const char *s, void *out)
{
    return manifest_time_parse(s, out);
}

static int need(json_t *o, const char *key, const char *where, json_t **v, PgpErr *err)
{
    *v = json_object_get(o, key);
    return *v != NULL ? 0 : BAD(err, "%s: missing field \"%s\"", where, key);
}

static int get_int(json_t *o, const char *key, const char *where, int64_t min, int64_t max,
                   int64_t *out, PgpErr *err)
{
    json_t *v;
    TRY(need(o, key, where, &v, err));
    if (!json_is_integer(v))
        return BAD(err, "%s: field \"%s\" must be an integer", where, key);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return BAD(err, "%s: field \"%s\" is out of range (%lld)", where, key, (long long)i);
    *out = i;
    return 0;
}

static int get_str(json_t *o, const char *key, const char *where, const char **out, PgpErr *err)
{
    json_t *v;
    TRY(need(o, key, where, &v, err));
    *out = json_string_value(v);   /* NULL if not a string */
    return *out != NULL ? 0 : BAD(err, "%s: field \"%s\" must be a string", where, key);
}

static int get_dup(json_t *o, const char *key, const char *where, char **out, PgpErr *err)
{
    const char *s;
    TRY(get_str(o, key, where, &s, err));
    return (*out = strdup(s)) != NULL ? 0 : NOMEM(err);
}

/* Non-empty lowercase hex of a string without NUL bytes, into a malloc'd string. */
static int hex_decode(const char *h, const char *where, const char *key, char **out, PgpErr *err)
{
    size_t n = strlen(h);
    if (n == 0 || n % 2 != 0 || !hexstr_exact(h, n, HEX_LOWER))
        return BAD(err, "%s: field \"%s\" must be lowercase hex", where, key);
    char *s = malloc(n / 2 + 1);
    if (s == NULL)
        return NOMEM(err);
    for (size_t i = 0; i < n / 2; i++)
        sscanf(h + 2 * i, "%2hhx", (unsigned char *)&s[i]);   /* checked hex just above */
    s[n / 2] = '\0';
    if (strlen(s) != n / 2) {
        free(s);
        return BAD(err, "%s: field \"%s\" holds a NUL byte", where, key);
    }
    *out = s;
    return 0;
}

/* The counterpart of set_text: exactly one of key and key_hex (null only if nullable). */
static int get_text(json_t *o, const char *key, const char *where, bool nullable, char **out,
                    PgpErr *err)
{
    char hk[32];
    snprintf(hk, sizeof hk, "%s_hex", key);
    json_t *v = json_object_get(o, key), *h = json_object_get(o, hk);
    const char *s;
    *out = NULL;
    if (v != NULL && h != NULL)
        return BAD(err, "%s: both \"%s\" and \"%s\"", where, key, hk);
    if (v != NULL && nullable && json_is_null(v))
        return 0;
    if (h == NULL)
        return get_dup(o, key, where, out, err);
    TRY(get_str(o, hk, where, &s, err));
    return hex_decode(s, where, hk, out, err);
}

/* Every key of o must be in allowed (NULL-terminated); `what` names the kind of object. */
static int check_keys(json_t *o, const char *const *allowed, const char *where,
                      const char *what, PgpErr *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL) {
            char q[PGP_QUOTE_BUF];
            return BAD(err, "%s: unexpected field \"%s\" for %s", where, pgp_quote(key, q), what);
        }
    }
    return 0;
}

/* A string field turned into a value by conv, which returns false for a malformed text. */
static int get_conv(json_t *o, const char *key, const char *where,
                    bool (*conv)(const char *, void *), void *out, const char *like, PgpErr *err)
{
    const char *s;
    TRY(get_str(o, key, where, &s, err));
    return conv(s, out) ? 0 : BAD(err, "%s: field \"%s\" must be %s", where, key, like);
}

/* Decimal, canonical (the identifier does not fit a JSON number safely above 2^53). */
static bool sysid_parse(const char *s, void *out)
{
    char *end = NULL, back[24];
    unsigned long long v = strtoull(s, &end, 10);   /* saturates: the round trip catches it */
    snprintf(back, sizeof back, "%llu", v);
    *(uint64_t *)out = v;
    return *end == '\0' && strcmp(back, s) == 0;
}

/* Exactly four octal digits, as written by "%04o". */
static bool mode_parse(const char *s, void *out)
{
    *(uint16_t *)out = (uint16_t)strtoul(s, NULL, 8);   /* ManifestEntry.mode */
    return strlen(s) == 4 && strspn(s, "01234567") == 4;
}

#define LSN_LIKE "an LSN like \"0/2000028\""
#define TIME_LIKE "a UTC time like \"2026-11-22T03:00:00Z\""

/* Format 2's "source" (a missing one is caught by validate_format). */
static int parse_source(json_t *r, BackupManifest *m, PgpErr *err)
{
    static const char *const keys[] = {"role", "server", "server_hex", "primary",
                                       "primary_hex", NULL};
    json_t *o = json_object_get(r, "source");
    const char *w = "\"source\"", *role;
    if (o == NULL)
        return 0;
    if (!json_is_object(o))
        return BAD(err, "field \"source\" must be an object");
    TRY(check_keys(o, keys, w, "a source", err));
    TRY(get_str(o, "role", w, &role, err));
    if (strcmp(role, "standby") != 0)
        return BAD(err, "%s: \"role\" must be \"standby\"", w);
    if ((m->source = calloc(1, sizeof *m->source)) == NULL)
        return NOMEM(err);
    TRY(get_text(o, "server", w, false, &m->source->server, err));
    return get_text(o, "primary", w, false, &m->source->primary, err);
}

static int parse_header(json_t *r, BackupManifest *m, PgpErr *err)
{
    /* "source" belongs to format 2 only: validate_format refuses it in format 1. */
    static const char *const keys[] = {
        "format", "label", "status", "system_identifier", "pg_version_num", "pg_major",
        "timeline", "start_lsn", "stop_lsn", "start_time", "stop_time", "compress",
        "pg_manifest_object", "pg_manifest_object_hex", "size", "stored_size",
        "new_stored_size", "tablespaces", "entries", "source", NULL};
    const char *w = "top level";
    int64_t v = 0;
    /* The format first: a newer format is reported as such, not as its first new field. */
    TRY(get_int(r, "format", w, INT32_MIN, INT32_MAX, &v, err));
    if (v < MANIFEST_FORMAT || v > MANIFEST_FORMAT_CHUNKED)
        return BAD(err, "format %lld is not supported (expected %d to %d)", (long long)v,
                   MANIFEST_FORMAT, MANIFEST_FORMAT_CHUNKED);
    m->format = (int)v;
    TRY(check_keys(r, keys, w, "a manifest", err));
    TRY(parse_source(r, m, err));
    TRY(get_dup(r, "label", w, &m->label, err));
    TRY(get_dup(r, "status", w, &m->status, err));
    TRY(get_conv(r, "system_identifier", w, sysid_parse, &m->system_identifier,
                 "a decimal string below 2^64", err));
    TRY(get_int(r, "pg_version_num", w, INT32_MIN, INT32_MAX, &v, err));
    m->pg_version_num = (int)v;
    TRY(get_int(r, "pg_major", w, INT32_MIN, INT32_MAX, &v, err));
    m->pg_major = (int)v;
    TRY(get_int(r, "timeline", w, 0, UINT32_MAX, &v, err));
    m->timeline = (uint32_t)v;
    TRY(get_conv(r, "start_lsn", w, manifest_lsn_parse, &m->start_lsn, LSN_LIKE, err));
    TRY(get_conv(r, "stop_lsn", w, manifest_lsn_parse, &m->stop_lsn, LSN_LIKE, err));
    TRY(get_conv(r, "start_time", w, time_parse, &m->start_time, TIME_LIKE, err));
    TRY(get_conv(r, "stop_time", w, time_parse, &m->stop_time, TIME_LIKE, err));
    TRY(get_dup(r, "compress", w, &m->compress, err));
    TRY(get_text(r, "pg_manifest_object", w, true, &m->pg_manifest_object, err));
    TRY(get_int(r, "size", w, 0, INT64_MAX, &v, err));
    m->size = (uint64_t)v;
    TRY(get_int(r, "stored_size", w, 0, INT64_MAX, &v, err));
    m->stored_size = (uint64_t)v;
    TRY(get_int(r, "new_stored_size", w, 0, INT64_MAX, &v, err));
    m->new_stored_size = (uint64_t)v;
    return 0;
}

static int parse_tablespaces(json_t *arr, BackupManifest *m, PgpErr *err)
{
    static const char *const keys[] = {"oid", "location", "location_hex", NULL};
    if (!json_is_array(arr))
        return BAD(err, "field \"tablespaces\" must be an array");
    size_t n = json_array_size(arr);
    if ((m->tablespaces = calloc(n > 0 ? n : 1, sizeof *m->tablespaces)) == NULL)
        return NOMEM(err);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, i);
        char where[32];
        int64_t oid = 0;
        snprintf(where, sizeof where, "tablespace %zu", i);
        m->n_tablespaces = i + 1;
        if (!json_is_object(t))
            return BAD(err, "%s: not an object", where);
        TRY(check_keys(t, keys, where, "a tablespace", err));
        TRY(get_int(t, "oid", where, 0, UINT32_MAX, &oid, err));
        m->tablespaces[i].oid = (uint32_t)oid;
        TRY(get_text(t, "location", where, false, &m->tablespaces[i].location, err));
    }
    return 0;
}

static int get_sha(json_t *o, const char *key, const char *where, ManifestEntry *e, PgpErr *err)
{
    const char *sha;
    TRY(get_str(o, key, where, &sha, err));
    if (strlen(sha) != PIPE_SHA256_HEX_LEN)
        return BAD(err, "%s: \"%s\" must be 64 lowercase hex digits", where, key);
    memcpy(e->sha256, sha, PIPE_SHA256_HEX_LEN + 1);
    return 0;
}

/* A file stored as chunks (format 3: manifest_validate_entry checks the format): the list's
 * path and digest, the chunk size (a power of two: its log2 is kept) and the count, which
 * must be the one the size and chunk size give. */
static int parse_chunked_fields(json_t *o, const char *where, ManifestEntry *e, PgpErr *err)
{
    static const char *const whole[] = {"sha256", "object", "object_hex", NULL};
    for (size_t k = 0; whole[k] != NULL; k++)
        if (json_object_get(o, whole[k]) != NULL)
            return BAD(err, "%s: a file stored as chunks has no \"%s\"", where, whole[k]);
    int64_t size = 0, n = 0;
    TRY(get_sha(o, "chunk_list_sha256", where, e, err));
    TRY(get_text(o, "chunk_list", where, false, &e->chunk_list, err));
    TRY(get_int(o, "chunk_size", where, 1, CHUNK_SIZE_MAX, &size, err));
    if (!chunk_size_valid((uint64_t)size))
        return BAD(err, "%s: \"chunk_size\" %lld is not a power of two from %u to %u", where,
                   (long long)size, CHUNK_SIZE_MIN, CHUNK_SIZE_MAX);
    while (((uint64_t)1 << e->chunk_shift) < (uint64_t)size)
        e->chunk_shift++;
    TRY(get_int(o, "chunks", where, 1, (int64_t)CHUNK_LIST_MAX_CHUNKS, &n, err));
    if ((uint64_t)n != chunk_count(e->size, (uint64_t)size))
        return BAD(err, "%s: \"chunks\" is %lld, but %" PRIu64 " bytes in chunks of %lld make "
                   "%" PRIu64, where, (long long)n, e->size, (long long)size,
                   chunk_count(e->size, (uint64_t)size));
    return 0;
}

static int parse_file_fields(json_t *o, const char *where, ManifestEntry *e, PgpErr *err)
{
    int64_t v = 0;
    TRY(get_int(o, "size", where, 0, INT64_MAX, &v, err));
    e->size = (uint64_t)v;
    if (json_object_get(o, "chunk_list") != NULL || json_object_get(o, "chunk_list_hex") != NULL)
        TRY(parse_chunked_fields(o, where, e, err));
    else {
        static const char *const chunked[] = {"chunk_list_sha256", "chunk_size", "chunks", NULL};
        for (size_t k = 0; chunked[k] != NULL; k++)
            if (json_object_get(o, chunked[k]) != NULL)
                return BAD(err, "%s: \"%s\" without \"chunk_list\"", where, chunked[k]);
        TRY(get_sha(o, "sha256", where, e, err));
        TRY(get_text(o, "object", where, false, &e->object, err));
    }
    TRY(get_int(o, "stored_size", where, 0, INT64_MAX, &v, err));
    e->stored_size = (uint64_t)v;
    return 0;
}

int manifest_parse_entry(json_t *o, size_t i, ManifestEntry *e, PgpErr *err)
{
    static const char *const keys[][17] = {
        {"path", "path_hex", "tablespace", "type", "mode", "mtime", "size", "sha256", "object",
         "object_hex", "stored_size", "chunk_list", "chunk_list_hex", "chunk_list_sha256",
         "chunk_size", "chunks", NULL},
        {"path", "path_hex", "tablespace", "type", "mode", "mtime", NULL},
        {"path", "path_hex", "tablespace", "type", "mode", "mtime", "link_target",
         "link_target_hex", NULL},
    };
    char where[WHERE_MAX], what[16], q[PGP_QUOTE_BUF];
    const char *type;
    int64_t v = 0;
    snprintf(where, sizeof where, "entry %zu", i);
    if (!json_is_object(o))
        return BAD(err, "%s: not an object", where);
    TRY(get_text(o, "path", where, false, &e->path, err));
    manifest_entry_where(e, i, where);
    TRY(get_str(o, "type", where, &type, err));
    size_t t = 0;
    while (t < 3 && strcmp(type, manifest_type_names[t]) != 0)
        t++;
    if (t == 3)
        return BAD(err, "%s: unknown type \"%s\"", where, pgp_quote(type, q));
    e->type = (ManifestEntryType)t;
    snprintf(what, sizeof what, "a %s", manifest_type_names[t]);
    TRY(check_keys(o, keys[t], where, what, err));
    TRY(get_int(o, "tablespace", where, 0, UINT32_MAX, &v, err));
    e->tablespace = (uint32_t)v;
    TRY(get_conv(o, "mode", where, mode_parse, &e->mode, "4 octal digits like \"0600\"", err));
    TRY(get_int(o, "mtime", where, INT64_MIN, INT64_MAX, &e->mtime, err));
    if (e->type == MANIFEST_FILE)
        TRY(parse_file_fields(o, where, e, err));
    if (e->type == MANIFEST_SYMLINK)
        TRY(get_text(o, "link_target", where, false, &e->link_target, err));
    return 0;
}

int manifest_parse_header(json_t *root, BackupManifest *m, PgpErr *err)
{
    json_t *v = NULL;
    TRY(parse_header(root, m, err));
    TRY(need(root, "tablespaces", "top level", &v, err));
    return parse_tablespaces(v, m, err);
}

