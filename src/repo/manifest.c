/*
 * manifest.c - pgpitr's backup manifest (backup/<label>/manifest.json): the struct, its
 * validation, JSON in and out, and saving/loading through storage. See manifest.h.
 *
 * Owns the manifest format and its rules; knows nothing of how backups are taken or restored.
 * Reading checks each field's presence, type and range, then manifest_validate() applies the
 * semantic rules, the same ones manifest_to_json() applies before writing: whatever pgpitr
 * writes it can read back. Names from the server need not be UTF-8, which a JSON string
 * must be: such a value is written as "<field>_hex" instead.
 */
#include "pgpitr/manifest.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BAD(err, ...) PGP_FAIL((err), PGP_ERR_CORRUPT, "invalid backup manifest: " __VA_ARGS__)
#define NOMEM(err) PGP_FAIL((err), PGP_ERR_NOMEM, "out of memory")
/* Return a failing step's code; for steps that need no cleanup. */
#define TRY(call)                                                                          \
    do {                                                                                   \
        int try_rc_ = (call);                                                              \
        if (try_rc_ != 0)                                                                  \
            return try_rc_;                                                                \
    } while (0)

#define WHERE_MAX (PGP_QUOTE_BUF + 64)
#define TIME_MAX INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */

static const char *const type_names[] = {"file", "dir", "symlink"};

/* ---- memory ------------------------------------------------------------------------- */

BackupManifest *manifest_new(void)
{
    BackupManifest *m = calloc(1, sizeof *m);
    if (m != NULL)
        m->format = MANIFEST_FORMAT;
    return m;
}

static void entry_clear(ManifestEntry *e)
{
    free(e->path);
    free(e->object);
    free(e->link_target);
}

void manifest_free(BackupManifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_entries; i++)
        entry_clear(&m->entries[i]);
    for (size_t i = 0; i < m->n_tablespaces; i++)
        free(m->tablespaces[i].location);
    free(m->entries);
    free(m->tablespaces);
    free(m->label);
    free(m->status);
    free(m->compress);
    free(m->pg_manifest_object);
    if (m->source != NULL) {
        free(m->source->server);
        free(m->source->primary);
        free(m->source);
    }
    free(m);
}

int manifest_set_standby_source(BackupManifest *m, const char *server, const char *primary,
                                PgpErr *err)
{
    ManifestSource *src = m->source != NULL ? m->source : calloc(1, sizeof *src);
    if (src == NULL)
        return NOMEM(err);
    m->source = src;
    free(src->server);
    free(src->primary);
    src->server = strdup(server);
    src->primary = strdup(primary);
    if (src->server == NULL || src->primary == NULL)
        return NOMEM(err);
    m->format = MANIFEST_FORMAT_STANDBY;
    return 0;
}

/* strdup that keeps NULL; false only when out of memory. */
static bool dup_opt(const char *s, char **out)
{
    *out = s != NULL ? strdup(s) : NULL;
    return s == NULL || *out != NULL;
}

int manifest_add_entry(BackupManifest *m, const ManifestEntry *e, PgpErr *err)
{
    if (m->n_entries == m->cap_entries) {
        size_t ncap = m->cap_entries == 0 ? 64 : m->cap_entries * 2;
        ManifestEntry *n = reallocarray(m->entries, ncap, sizeof *n);
        if (n == NULL)
            return NOMEM(err);
        m->entries = n;
        m->cap_entries = ncap;
    }
    ManifestEntry c = *e;
    c.path = c.object = c.link_target = NULL;
    if (!dup_opt(e->path, &c.path) || !dup_opt(e->object, &c.object) ||
        !dup_opt(e->link_target, &c.link_target)) {
        entry_clear(&c);
        return NOMEM(err);
    }
    c.sha256[sizeof c.sha256 - 1] = '\0';
    m->entries[m->n_entries++] = c;
    return 0;
}

int manifest_add_tablespace(BackupManifest *m, uint32_t oid, const char *location, PgpErr *err)
{
    char *loc = NULL;
    ManifestTablespace *n = reallocarray(m->tablespaces, m->n_tablespaces + 1, sizeof *n);
    if (n != NULL)
        m->tablespaces = n;
    if (n == NULL || !dup_opt(location, &loc))
        return NOMEM(err);
    m->tablespaces[m->n_tablespaces++] = (ManifestTablespace){.oid = oid, .location = loc};
    return 0;
}

/* ---- validation --------------------------------------------------------------------- */

bool manifest_label_valid(const char *label)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    size_t n = label != NULL ? strlen(label) : 0;
    return n >= 1 && n <= MANIFEST_LABEL_MAX && label[0] != '.' && strspn(label, ok) == n;
}

static const ManifestTablespace *find_tablespace(const BackupManifest *m, uint32_t oid)
{
    for (size_t i = 0; i < m->n_tablespaces; i++)
        if (m->tablespaces[i].oid == oid)
            return &m->tablespaces[i];
    return NULL;
}

static void entry_where(const ManifestEntry *e, size_t i, char where[WHERE_MAX])
{
    char q[PGP_QUOTE_BUF];
    snprintf(where, WHERE_MAX, "entry %zu (\"%s\")", i, e->path ? pgp_quote(e->path, q) : "");
}

static int validate_entry(const BackupManifest *m, const ManifestEntry *e, size_t i, PgpErr *err)
{
    char where[WHERE_MAX];
    entry_where(e, i, where);
    if (e->path == NULL || !storage_path_valid(e->path))
        return BAD(err, "%s: path must be relative, without empty, \".\" or \"..\" parts", where);
    if (e->tablespace != 0 && find_tablespace(m, e->tablespace) == NULL)
        return BAD(err, "%s: tablespace %" PRIu32 " is not listed in \"tablespaces\"", where,
                   e->tablespace);
    if ((unsigned)e->type > MANIFEST_SYMLINK)
        return BAD(err, "%s: unknown type %d", where, (int)e->type);
    if (e->mode > 07777)
        return BAD(err, "%s: mode %o has more than permission bits", where, (unsigned)e->mode);
    if (e->size > INT64_MAX || e->stored_size > INT64_MAX)
        return BAD(err, "%s: size out of range", where);
    bool file = e->type == MANIFEST_FILE, link = e->type == MANIFEST_SYMLINK;
    if (file && !pipe_hex_valid(e->sha256, PIPE_SHA256_HEX_LEN))
        return BAD(err, "%s: \"sha256\" must be 64 lowercase hex digits", where);
    if (file && (e->object == NULL || !storage_path_valid(e->object)))
        return BAD(err, "%s: \"object\" is not a valid repository path", where);
    if (!file && (e->sha256[0] != '\0' || e->object != NULL || e->size || e->stored_size))
        return BAD(err, "%s: a %s has no size, sha256 or object", where, type_names[e->type]);
    if (link && (e->link_target == NULL || e->link_target[0] == '\0'))
        return BAD(err, "%s: a symlink needs a \"link_target\"", where);
    if (!link && e->link_target != NULL)
        return BAD(err, "%s: only a symlink has a \"link_target\"", where);
    return 0;
}

static int cmp_entry_ptr(const void *a, const void *b)
{
    const ManifestEntry *x = *(const ManifestEntry *const *)a;
    const ManifestEntry *y = *(const ManifestEntry *const *)b;
    if (x->tablespace != y->tablespace)
        return x->tablespace < y->tablespace ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* Two entries for the same path would make restore write one file twice. */
static int check_duplicates(const BackupManifest *m, PgpErr *err)
{
    const ManifestEntry **v = malloc((m->n_entries + 1) * sizeof *v);
    if (v == NULL)
        return NOMEM(err);
    for (size_t i = 0; i < m->n_entries; i++)
        v[i] = &m->entries[i];
    qsort(v, m->n_entries, sizeof *v, cmp_entry_ptr);
    size_t i = 1;
    while (i < m->n_entries && cmp_entry_ptr(&v[i - 1], &v[i]) != 0)
        i++;
    char q[PGP_QUOTE_BUF];
    int rc = i >= m->n_entries ? 0 : BAD(err, "duplicate entry \"%s\" in tablespace %" PRIu32,
                                        pgp_quote(v[i]->path, q), v[i]->tablespace);
    free(v);
    return rc;
}

static int validate_tablespaces(const BackupManifest *m, PgpErr *err)
{
    for (size_t i = 0; i < m->n_tablespaces; i++) {
        const ManifestTablespace *t = &m->tablespaces[i];
        if (t->oid == 0)
            return BAD(err, "tablespace %zu: oid 0 is not valid", i);
        if (find_tablespace(m, t->oid) != t)
            return BAD(err, "tablespace %" PRIu32 " is listed twice", t->oid);
        if (t->location == NULL || t->location[0] != '/')
            return BAD(err, "tablespace %" PRIu32 ": location must be an absolute path", t->oid);
    }
    return 0;
}

/* A "host:port" text of "source": what libpq reported, folded onto one line. */
static bool server_text_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return n > 0 && n < MANIFEST_SERVER_MAX;
}

static int validate_format(const BackupManifest *m, PgpErr *err)
{
    if (m->format != MANIFEST_FORMAT && m->format != MANIFEST_FORMAT_STANDBY)
        return BAD(err, "format %d is not supported (expected %d or %d)", m->format,
                   MANIFEST_FORMAT, MANIFEST_FORMAT_STANDBY);
    if ((m->format == MANIFEST_FORMAT_STANDBY) != (m->source != NULL))
        return BAD(err, "format %d %s \"source\"", m->format,
                   m->source != NULL ? "cannot record a" : "must record a");
    if (m->source != NULL && (!server_text_ok(m->source->server) ||
                              !server_text_ok(m->source->primary)))
        return BAD(err, "\"source\": \"server\" and \"primary\" must be 1 to %d bytes "
                   "without control characters", MANIFEST_SERVER_MAX - 1);
    return 0;
}

static int validate_header(const BackupManifest *m, PgpErr *err)
{
    PipeCodec codec;
    char q[PGP_QUOTE_BUF];
    TRY(validate_format(m, err));
    if (!manifest_label_valid(m->label))
        return BAD(err, "\"label\" \"%s\" is not a valid backup label",
                   m->label != NULL ? pgp_quote(m->label, q) : "");
    size_t sl = m->status != NULL ? strlen(m->status) : 0;
    if (sl == 0 || sl > 32 || strspn(m->status, "abcdefghijklmnopqrstuvwxyz_-") != sl)
        return BAD(err, "\"status\" must be 1 to 32 characters of [a-z_-]");
    if (m->system_identifier == 0)
        return BAD(err, "\"system_identifier\" must not be 0");
    if (m->pg_version_num <= 0 || m->pg_major <= 0)
        return BAD(err, "\"pg_version_num\" and \"pg_major\" must be positive");
    if (m->timeline == 0)
        return BAD(err, "\"timeline\" must be at least 1");
    if (m->start_lsn > m->stop_lsn)
        return BAD(err, "\"start_lsn\" is after \"stop_lsn\"");
    if (m->start_time < 0 || m->start_time > TIME_MAX || m->stop_time < 0 ||
        m->stop_time > TIME_MAX)
        return BAD(err, "\"start_time\" and \"stop_time\" must lie in years 1970 to 9999");
    if (m->compress == NULL || pipe_codec_parse(m->compress, &codec, NULL) != 0)
        return BAD(err, "\"compress\" \"%s\" is not a known codec",
                   m->compress != NULL ? pgp_quote(m->compress, q) : "");
    if (m->pg_manifest_object != NULL && !storage_path_valid(m->pg_manifest_object))
        return BAD(err, "\"pg_manifest_object\" is not a valid repository path");
    if (m->size > INT64_MAX || m->stored_size > INT64_MAX || m->new_stored_size > INT64_MAX)
        return BAD(err, "\"size\", \"stored_size\" and \"new_stored_size\" must be below 2^63");
    return 0;
}

int manifest_validate(const BackupManifest *m, PgpErr *err)
{
    TRY(validate_header(m, err));
    TRY(validate_tablespaces(m, err));
    for (size_t i = 0; i < m->n_entries; i++)
        TRY(validate_entry(m, &m->entries[i], i, err));
    return check_duplicates(m, err);
}

/* ---- text forms of LSNs and times --------------------------------------------------- */

static void lsn_format(uint64_t lsn, char out[18])
{
    snprintf(out, 18, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

/* PostgreSQL's "%X/%X" and nothing else: the canonical text must come back out. */
static bool lsn_parse(const char *s, void *out)
{
    char *end = NULL, back[18];
    unsigned long long hi = strtoull(s, &end, 16), lo = 0;
    if (*end != '/')
        return false;
    lo = strtoull(end + 1, &end, 16);
    if (*end != '\0' || hi > UINT32_MAX || lo > UINT32_MAX)
        return false;
    lsn_format(hi << 32 | lo, back);
    if (strcmp(back, s) != 0)     /* signs, spaces, "0x", lowercase, leading zeros */
        return false;
    *(uint64_t *)out = hi << 32 | lo;
    return true;
}

static void time_format(int64_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
        out[0] = '\0';   /* unreachable for the years 1970..9999 that validate allows */
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ" in years 1970..9999: formatting the result must give the
 * same text back, which rejects Feb 30, 24:00, missing zeros and trailing bytes. */
static bool time_parse(const char *s, void *out)
{
    struct tm tm = {0};
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return false;
    time_t t = timegm(&tm);
    char back[21];
    if (t < 0 || t > TIME_MAX)
        return false;
    time_format(t, back);
    *(int64_t *)out = t;
    return strcmp(back, s) == 0;
}

bool manifest_time_parse(const char *s, int64_t *out)
{
    return time_parse(s, out);
}

void manifest_time_format(int64_t t, char out[MANIFEST_TIME_LEN + 1])
{
    if (t < 0 || t > TIME_MAX)
        out[0] = '\0';
    else
        time_format(t, out);
}

/* ---- writing ------------------------------------------------------------------------ */

/* Appends v compactly to f and drops the reference; NULL (a failed json_* call) is false. */
static bool put_json(FILE *f, json_t *v)
{
    bool ok = v != NULL && json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY) == 0;
    json_decref(v);
    return ok;
}

/* Sets key to s if s is UTF-8 (what a JSON string must be), else key_hex to its hex;
 * a NULL s is JSON null. Returns non-zero when out of memory. */
static int set_text(json_t *o, const char *key, const char *s)
{
    if (s == NULL)
        return json_object_set_new(o, key, json_null());
    json_t *v = json_string(s);
    if (v != NULL)
        return json_object_set_new(o, key, v);
    char hk[32], *h = malloc(2 * strlen(s) + 1);
    snprintf(hk, sizeof hk, "%s_hex", key);
    if (h != NULL)
        pipe_hex((const uint8_t *)s, strlen(s), h);
    int rc = h != NULL ? json_object_set_new(o, hk, json_string(h)) : -1;
    free(h);
    return rc;
}

static json_t *entry_json(const ManifestEntry *e)
{
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", (unsigned)e->mode);
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= set_text(o, "path", e->path);
    bad |= json_object_set_new(o, "tablespace", json_integer(e->tablespace));
    bad |= json_object_set_new(o, "type", json_string(type_names[e->type]));
    if (e->type == MANIFEST_FILE)
        bad |= json_object_set_new(o, "size", json_integer((json_int_t)e->size));
    bad |= json_object_set_new(o, "mode", json_string(mode));
    bad |= json_object_set_new(o, "mtime", json_integer(e->mtime));
    if (e->type == MANIFEST_FILE) {
        bad |= json_object_set_new(o, "sha256", json_string(e->sha256));
        bad |= set_text(o, "object", e->object);
        bad |= json_object_set_new(o, "stored_size", json_integer((json_int_t)e->stored_size));
    }
    if (e->type == MANIFEST_SYMLINK)
        bad |= set_text(o, "link_target", e->link_target);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *source_json(const ManifestSource *src)
{
    json_t *o = json_pack("{s:s}", "role", "standby");
    if (o == NULL || set_text(o, "server", src->server) != 0 ||
        set_text(o, "primary", src->primary) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *header_json(const BackupManifest *m)
{
    char sysid[24], lsn1[18], lsn2[18], t1[21], t2[21];
    snprintf(sysid, sizeof sysid, "%" PRIu64, m->system_identifier);
    lsn_format(m->start_lsn, lsn1);
    lsn_format(m->stop_lsn, lsn2);
    time_format(m->start_time, t1);
    time_format(m->stop_time, t2);
    json_t *h = json_pack("{s:i, s:s, s:s, s:s, s:i, s:i, s:I, s:s, s:s, s:s, s:s, s:s}",
                          "format", m->format, "label", m->label, "status", m->status,
                          "system_identifier", sysid, "pg_version_num", m->pg_version_num,
                          "pg_major", m->pg_major, "timeline", (json_int_t)m->timeline,
                          "start_lsn", lsn1, "stop_lsn", lsn2, "start_time", t1, "stop_time", t2,
                          "compress", m->compress);
    if (h == NULL || set_text(h, "pg_manifest_object", m->pg_manifest_object) != 0 ||
        json_object_set_new(h, "size", json_integer((json_int_t)m->size)) != 0 ||
        json_object_set_new(h, "stored_size", json_integer((json_int_t)m->stored_size)) != 0 ||
        json_object_set_new(h, "new_stored_size", json_integer((json_int_t)m->new_stored_size)) ||
        (m->source != NULL && json_object_set_new(h, "source", source_json(m->source)) != 0)) {
        json_decref(h);
        return NULL;
    }
    return h;
}

/* One top-level field per line, one tablespace or entry per line (jansson keeps the order
 * in which fields were set). False when out of memory. */
static bool write_manifest(const BackupManifest *m, FILE *f)
{
    json_t *h = header_json(m), *v;
    const char *key;
    bool ok = h != NULL && fputs("{\n", f) >= 0;
    json_object_foreach(h, key, v) {  /* our own ASCII names: nothing to escape */
        ok = ok && fprintf(f, "  \"%s\": ", key) > 0 && put_json(f, json_incref(v)) &&
             fputs(",\n", f) >= 0;
    }
    json_decref(h);
    ok = ok && fputs("  \"tablespaces\": [", f) >= 0;
    for (size_t i = 0; ok && i < m->n_tablespaces; i++) {
        json_t *t = json_pack("{s:I}", "oid", (json_int_t)m->tablespaces[i].oid);
        if (t != NULL && set_text(t, "location", m->tablespaces[i].location) != 0) {
            json_decref(t);
            t = NULL;
        }
        bool sep = fputs(i == 0 ? "\n    " : ",\n    ", f) >= 0;
        ok = put_json(f, t) && sep;          /* put_json always takes t */
    }
    ok = ok && fputs(m->n_tablespaces > 0 ? "\n  ],\n" : "],\n", f) >= 0;
    ok = ok && fputs("  \"entries\": [", f) >= 0;
    for (size_t i = 0; ok && i < m->n_entries; i++) {
        bool sep = fputs(i == 0 ? "\n    " : ",\n    ", f) >= 0;
        ok = put_json(f, entry_json(&m->entries[i])) && sep;
    }
    return ok && fputs(m->n_entries > 0 ? "\n  ]\n}\n" : "]\n}\n", f) >= 0;
}

int manifest_to_json(const BackupManifest *m, char **out, size_t *len, PgpErr *err)
{
    *out = NULL;
    *len = 0;
    int rc = manifest_validate(m, err);
    if (rc != 0)
        return rc;
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (f == NULL)
        return NOMEM(err);
    bool ok = write_manifest(m, f);
    if (fclose(f) != 0 || !ok) {    /* a memory stream fails only for want of memory */
        free(text);
        return NOMEM(err);
    }
    *out = text;
    *len = n;
    return 0;
}

/* ---- reading ------------------------------------------------------------------------ */

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
    if (n == 0 || n % 2 != 0 || !pipe_hex_valid(h, n))
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
    *(uint32_t *)out = (uint32_t)strtoul(s, NULL, 8);
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
    if (v != MANIFEST_FORMAT && v != MANIFEST_FORMAT_STANDBY)
        return BAD(err, "format %lld is not supported (expected %d or %d)", (long long)v,
                   MANIFEST_FORMAT, MANIFEST_FORMAT_STANDBY);
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
    TRY(get_conv(r, "start_lsn", w, lsn_parse, &m->start_lsn, LSN_LIKE, err));
    TRY(get_conv(r, "stop_lsn", w, lsn_parse, &m->stop_lsn, LSN_LIKE, err));
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

static int parse_file_fields(json_t *o, const char *where, ManifestEntry *e, PgpErr *err)
{
    int64_t v = 0;
    const char *sha;
    TRY(get_int(o, "size", where, 0, INT64_MAX, &v, err));
    e->size = (uint64_t)v;
    TRY(get_str(o, "sha256", where, &sha, err));
    if (strlen(sha) != PIPE_SHA256_HEX_LEN)
        return BAD(err, "%s: \"sha256\" must be 64 lowercase hex digits", where);
    memcpy(e->sha256, sha, PIPE_SHA256_HEX_LEN + 1);
    TRY(get_text(o, "object", where, false, &e->object, err));
    TRY(get_int(o, "stored_size", where, 0, INT64_MAX, &v, err));
    e->stored_size = (uint64_t)v;
    return 0;
}

static int parse_entry(json_t *o, size_t i, ManifestEntry *e, PgpErr *err)
{
    static const char *const keys[][12] = {
        {"path", "path_hex", "tablespace", "type", "mode", "mtime", "size", "sha256", "object",
         "object_hex", "stored_size", NULL},
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
    entry_where(e, i, where);
    TRY(get_str(o, "type", where, &type, err));
    size_t t = 0;
    while (t < 3 && strcmp(type, type_names[t]) != 0)
        t++;
    if (t == 3)
        return BAD(err, "%s: unknown type \"%s\"", where, pgp_quote(type, q));
    e->type = (ManifestEntryType)t;
    snprintf(what, sizeof what, "a %s", type_names[t]);
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

static int parse_entries(json_t *arr, BackupManifest *m, PgpErr *err)
{
    if (!json_is_array(arr))
        return BAD(err, "field \"entries\" must be an array");
    size_t n = json_array_size(arr);
    if ((m->entries = calloc(n > 0 ? n : 1, sizeof *m->entries)) == NULL)
        return NOMEM(err);
    m->cap_entries = n > 0 ? n : 1;
    for (size_t i = 0; i < n; i++) {
        m->n_entries = i + 1;      /* so manifest_free releases a half-parsed entry */
        TRY(parse_entry(json_array_get(arr, i), i, &m->entries[i], err));
    }
    return 0;
}

static int parse_manifest(json_t *root, BackupManifest *m, PgpErr *err)
{
    json_t *v = NULL;
    if (!json_is_object(root))
        return BAD(err, "top level is not an object");
    TRY(parse_header(root, m, err));
    TRY(need(root, "tablespaces", "top level", &v, err));
    TRY(parse_tablespaces(v, m, err));
    TRY(need(root, "entries", "top level", &v, err));
    TRY(parse_entries(v, m, err));
    return manifest_validate(m, err);
}

int manifest_from_json(const char *text, size_t len, BackupManifest **out, PgpErr *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        char q[PGP_QUOTE_BUF];   /* jansson's text may hold the offending bytes, raw */
        return BAD(err, "not valid json at line %d: %s", jerr.line, pgp_quote(jerr.text, q));
    }
    BackupManifest *m = manifest_new();
    int rc = m != NULL ? parse_manifest(root, m, err) : NOMEM(err);
    json_decref(root);
    if (rc != 0) {
        manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- storage ------------------------------------------------------------------------ */

void manifest_path(const char *label, char out[REPO_PATH_MAX])
{
    snprintf(out, REPO_PATH_MAX, "backup/%s/manifest.json", label);
}

static int bad_label(const char *label, PgpErr *err)
{
    char q[PGP_QUOTE_BUF];
    int rc = PGP_FAIL(err, PGP_ERR_INVALID_NAME, "invalid backup label \"%s\"",
                      label != NULL ? pgp_quote(label, q) : "");
    pgp_err_hint(err, "labels are 1 to %d characters of [A-Za-z0-9._-], not starting with '.'",
                 MANIFEST_LABEL_MAX);
    return rc;
}

int manifest_save(Storage *s, const char *label, const BackupManifest *m, PgpErr *err)
{
    if (!manifest_label_valid(label))
        return bad_label(label, err);
    if (m->label == NULL || strcmp(m->label, label) != 0)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "manifest of backup \"%s\" saved as \"%s\"",
                        m->label != NULL ? m->label : "", label);
    char path[REPO_PATH_MAX], *text = NULL;
    size_t len = 0;
    manifest_path(label, path);
    int rc = manifest_to_json(m, &text, &len, err);
    if (rc == 0)
        rc = storage_put_all(s, path, 0, text, len, err);
    free(text);
    if (rc != 0)
        pgp_err_context(err, "cannot save backup manifest \"%s\"", path);
    return rc;
}

int manifest_load(Storage *s, const char *label, BackupManifest **out, PgpErr *err)
{
    *out = NULL;
    if (!manifest_label_valid(label))
        return bad_label(label, err);
    char path[REPO_PATH_MAX], *text = NULL;
    size_t len = 0;
    manifest_path(label, path);
    int rc = storage_get_all(s, path, MANIFEST_MAX_BYTES, &text, &len, err);
    if (rc == PGP_ERR_NOT_FOUND)
        return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "backup \"%s\" not found (no \"%s\")", label,
                        path);
    if (rc != 0) {
        pgp_err_context(err, "cannot read backup manifest \"%s\"", path);
        return rc;
    }
    BackupManifest *m = NULL;
    rc = manifest_from_json(text, len, &m, err);
    free(text);
    if (rc != 0) {
        pgp_err_context(err, "\"%s\"", path);
        return rc;
    }
    if (strcmp(m->label, label) != 0) {
        char q[PGP_QUOTE_BUF];
        rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" is the manifest of backup \"%s\"", path,
                      pgp_quote(m->label, q));
        manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
