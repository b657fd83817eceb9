/*
 * manifest.c - pgpitr's backup manifest (backup/<label>/manifest.json): the struct, its
 * validation, JSON out, and saving through storage. See manifest.h; reading is
 * manifest_stream.c (the document, from storage in blocks) and manifest_read.c (its fields).
 *
 * Owns the manifest format and its rules; knows nothing of how backups are taken or restored.
 * Reading checks each field's presence, type and range, then manifest_validate() applies the
 * semantic rules, the same ones manifest_to_json() applies before writing: whatever pgpitr
 * writes it can read back. Names from the server need not be UTF-8, which a JSON string
 * must be: such a value is written as "<field>_hex" instead.
 */
#include "manifest_impl.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/common/hexstr.h"
#include "pgpitr/common/timefmt.h"
#include "pgpitr/repo/chunk_list.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/repo/meta_io.h"

#define TIME_MAX INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */

const char *const manifest_type_names[3] = {"file", "dir", "symlink"};

/* ---- memory ------------------------------------------------------------------------- */

BackupManifest *manifest_new(void)
{
    BackupManifest *m = calloc(1, sizeof *m);
    if (m != NULL)
        m->format = MANIFEST_FORMAT;
    return m;
}

void manifest_entry_clear(ManifestEntry *e)
{
    free(e->path);
    free(e->object);
    free(e->link_target);
    e->path = e->object = e->link_target = NULL;
}

/* The entries' strings live in big blocks instead of three mallocs an entry: a million
 * entries cost their bytes, not a million malloc headers and their fragmentation. */
#define ARENA_BLOCK ((size_t)1 << 20)

struct ManifestArena {
    char **blocks;
    size_t n, cap;
    char *cur;          /* free space of the newest ordinary block */
    size_t left;
};

static void arena_free(ManifestArena *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    free(a->blocks);
    free(a);
}

/* A new block of at least len bytes; the current one stays current for a big string. */
static char *arena_block(ManifestArena *a, size_t len)
{
    if (a->n == a->cap) {
        size_t ncap = a->cap == 0 ? 16 : a->cap * 2;
        char **n = reallocarray(a->blocks, ncap, sizeof *n);
        if (n == NULL)
            return NULL;
        a->blocks = n;
        a->cap = ncap;
    }
    char *b = malloc(len);
    if (b != NULL)
        a->blocks[a->n++] = b;
    return b;
}

/* A copy of s (NULL stays NULL) owned by m's arena; false only when out of memory. */
static bool arena_dup(BackupManifest *m, const char *s, char **out)
{
    *out = NULL;
    if (s == NULL)
        return true;
    if (m->arena == NULL && (m->arena = calloc(1, sizeof *m->arena)) == NULL)
        return false;
    ManifestArena *a = m->arena;
    size_t len = strlen(s) + 1;
    char *p;
    if (len > ARENA_BLOCK / 16) {
        p = arena_block(a, len);
    } else {
        if (len > a->left) {
            if ((a->cur = arena_block(a, ARENA_BLOCK)) == NULL)
                return false;
            a->left = ARENA_BLOCK;
        }
        p = a->cur;
        a->cur += len;
        a->left -= len;
    }
    if (p != NULL)
        memcpy(p, s, len);
    *out = p;
    return p != NULL;
}

void manifest_drop_entries(BackupManifest *m)
{
    arena_free(m->arena);
    m->arena = NULL;
    manifest_pack_free(m->pack);
    m->pack = NULL;
    free(m->entries);
    m->entries = NULL;
    m->n_entries = m->cap_entries = 0;
}

void manifest_free(BackupManifest *m)
{
    if (m == NULL)
        return;
    arena_free(m->arena);
    manifest_pack_free(m->pack);
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
    if (m->format < MANIFEST_FORMAT_STANDBY)
        m->format = MANIFEST_FORMAT_STANDBY;
    return 0;
}

/* strdup that keeps NULL; false only when out of memory. */
static bool dup_opt(const char *s, char **out)
{
    *out = s != NULL ? strdup(s) : NULL;
    return s == NULL || *out != NULL;
}

int manifest_use_pack(BackupManifest *m, PgpErr *err)
{
    if (m->n_entries > 0 || m->pack != NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "manifest_use_pack on a manifest with entries");
    return (m->pack = manifest_pack_new()) != NULL ? 0 : NOMEM(err);
}

int manifest_add_entry(BackupManifest *m, const ManifestEntry *e, PgpErr *err)
{
    if (m->pack != NULL) {
        TRY(manifest_pack_add(m->pack, e, err));
        if (manifest_entry_chunked(e))
            m->format = MANIFEST_FORMAT_CHUNKED;
        m->n_listed = ++m->n_entries;
        return 0;
    }
    if (m->n_entries == m->cap_entries) {
        /* Doubling: glibc moves a big block with mremap (no copy), and the capacity not
         * yet written is never touched, so it costs address space, not memory. */
        size_t ncap = m->cap_entries == 0 ? 64 : m->cap_entries * 2;
        ManifestEntry *n = reallocarray(m->entries, ncap, sizeof *n);
        if (n == NULL)
            return NOMEM(err);
        m->entries = n;
        m->cap_entries = ncap;
    }
    ManifestEntry c = *e;
    if (!arena_dup(m, e->path, &c.path) || !arena_dup(m, e->object, &c.object) ||
        !arena_dup(m, e->link_target, &c.link_target))
        return NOMEM(err);   /* what was copied stays in the arena until manifest_free */
    c.sha256[sizeof c.sha256 - 1] = '\0';
    if (manifest_entry_chunked(&c))
        m->format = MANIFEST_FORMAT_CHUNKED;
    m->entries[m->n_entries++] = c;
    m->n_listed = m->n_entries;
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

void manifest_entry_where(const ManifestEntry *e, size_t i, char where[WHERE_MAX])
{
    char q[PGP_QUOTE_BUF];
    snprintf(where, WHERE_MAX, "entry %zu (\"%s\")", i, e->path ? pgp_quote(e->path, q) : "");
}

/* A file stored as chunks: format 3, a valid chunk size, a list object path and no whole
 * object, at least one byte and at most CHUNK_LIST_MAX_CHUNKS chunks (what a list may hold). */
static int validate_chunked(const BackupManifest *m, const ManifestEntry *e, const char *where,
                            PgpErr *err)
{
    if (m->format != MANIFEST_FORMAT_CHUNKED)
        return BAD(err, "%s: a file stored as chunks needs format %d (this is format %d)", where,
                   MANIFEST_FORMAT_CHUNKED, m->format);
    uint64_t chunk_size = e->chunk_shift < 64 ? (uint64_t)1 << e->chunk_shift : 0;
    if (!chunk_size_valid(chunk_size))
        return BAD(err, "%s: chunk size 2^%u is not a power of two from %u to %u bytes", where,
                   (unsigned)e->chunk_shift, CHUNK_SIZE_MIN, CHUNK_SIZE_MAX);
    if (e->chunk_list == NULL || !storage_path_valid(e->chunk_list))
        return BAD(err, "%s: \"chunk_list\" is not a valid repository path", where);
    if (e->object != NULL)
        return BAD(err, "%s: a file stored as chunks has no \"object\"", where);
    if (e->size == 0 || chunk_count(e->size, chunk_size) > CHUNK_LIST_MAX_CHUNKS)
        return BAD(err, "%s: a file stored as chunks has 1 to %zu chunks", where,
                   CHUNK_LIST_MAX_CHUNKS);
    return 0;
}

int manifest_validate_entry(const BackupManifest *m, const ManifestEntry *e, size_t i,
                            PgpErr *err)
{
    char where[WHERE_MAX];
    manifest_entry_where(e, i, where);
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
    bool chunked = manifest_entry_chunked(e);
    if (file && !hexstr_exact(e->sha256, PIPE_SHA256_HEX_LEN, HEX_LOWER))
        return BAD(err, "%s: \"%s\" must be 64 lowercase hex digits", where,
                   chunked ? "chunk_list_sha256" : "sha256");
    if (chunked)
        return validate_chunked(m, e, where, err);
    if (e->chunk_shift != 0)
        return BAD(err, "%s: only a file is stored as chunks", where);
    if (file && (e->object == NULL || !storage_path_valid(e->object)))
        return BAD(err, "%s: \"object\" is not a valid repository path", where);
    if (!file && (e->sha256[0] != '\0' || e->object != NULL || e->size || e->stored_size))
        return BAD(err, "%s: a %s has no size, sha256 or object", where,
                   manifest_type_names[e->type]);
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
int manifest_check_duplicates(const BackupManifest *m, PgpErr *err)
{
    if (m->pack != NULL)
        return manifest_pack_check_duplicates(m->pack, err);
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
    if (m->format < MANIFEST_FORMAT || m->format > MANIFEST_FORMAT_CHUNKED)
        return BAD(err, "format %d is not supported (expected %d to %d)", m->format,
                   MANIFEST_FORMAT, MANIFEST_FORMAT_CHUNKED);
    /* format 3 may or may not record a source */
    if (m->format != MANIFEST_FORMAT_CHUNKED &&
        (m->format == MANIFEST_FORMAT_STANDBY) != (m->source != NULL))
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

int manifest_validate_header(const BackupManifest *m, PgpErr *err)
{
    TRY(validate_header(m, err));
    return validate_tablespaces(m, err);
}

int manifest_validate(const BackupManifest *m, PgpErr *err)
{
    TRY(manifest_validate_header(m, err));
    ManifestUnpacked u;
    for (size_t i = 0; i < m->n_entries; i++)
        TRY(manifest_validate_entry(m, manifest_entry_at(m, i, &u), i, err));
    return manifest_check_duplicates(m, err);
}

/* ---- text forms of LSNs and times --------------------------------------------------- */

static void lsn_format(uint64_t lsn, char out[18])
{
    snprintf(out, 18, "%" PRIX32 "/%" PRIX32, (uint32_t)(lsn >> 32), (uint32_t)lsn);
}

/* PostgreSQL's "%X/%X" and nothing else: the canonical text must come back out. */
bool manifest_lsn_parse(const char *s, void *out)
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
    if (!timefmt_iso(t, 0, out, 21))
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
    bad |= json_object_set_new(o, "type", json_string(manifest_type_names[e->type]));
    if (e->type == MANIFEST_FILE)
        bad |= json_object_set_new(o, "size", json_integer((json_int_t)e->size));
    bad |= json_object_set_new(o, "mode", json_string(mode));
    bad |= json_object_set_new(o, "mtime", json_integer(e->mtime));
    if (manifest_entry_chunked(e)) {
        uint64_t chunk_size = (uint64_t)1 << e->chunk_shift;
        bad |= set_text(o, "chunk_list", e->chunk_list);
        bad |= json_object_set_new(o, "chunk_list_sha256", json_string(e->sha256));
        bad |= json_object_set_new(o, "chunk_size", json_integer((json_int_t)chunk_size));
        bad |= json_object_set_new(o, "chunks",
                                   json_integer((json_int_t)chunk_count(e->size, chunk_size)));
        bad |= json_object_set_new(o, "stored_size", json_integer((json_int_t)e->stored_size));
    } else if (e->type == MANIFEST_FILE) {
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
    ManifestUnpacked u;
    for (size_t i = 0; ok && i < m->n_entries; i++) {
        bool sep = fputs(i == 0 ? "\n    " : ",\n    ", f) >= 0;
        ok = put_json(f, entry_json(manifest_entry_at(m, i, &u))) && sep;
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

/* ---- storage ------------------------------------------------------------------------ */

int manifest_path(const char *label, char out[REPO_PATH_MAX], PgpErr *err)
{
    return repo_backup_file(label, REPO_LAYOUT_MANIFEST, out, err);
}

int manifest_bad_label(const char *label, PgpErr *err)
{
    char q[PGP_QUOTE_BUF];
    int rc = PGP_FAIL(err, PGP_ERR_INVALID_NAME, "invalid backup label \"%s\"",
                      label != NULL ? pgp_quote(label, q) : "");
    pgp_err_hint(err, "labels are 1 to %d characters of [A-Za-z0-9._-], not starting with '.'",
                 MANIFEST_LABEL_MAX);
    return rc;
}

/* A FILE that writes into a storage writer: the text goes out as it is made, never whole. */
typedef struct SaveCookie {
    MetaWriter *w;
    PgpErr *err;
    int rc;
} SaveCookie;

static ssize_t save_write(void *c, const char *buf, size_t size)
{
    SaveCookie *k = c;
    if (k->rc == 0)
        k->rc = meta_write(k->w, buf, size, k->err);
    return k->rc == 0 ? (ssize_t)size : -1;
}

static int save_stream(MetaWriter *w, const BackupManifest *m, PgpErr *err)
{
    SaveCookie k = {.w = w, .err = err};
    FILE *f = fopencookie(&k, "w", (cookie_io_functions_t){.write = save_write});
    if (f == NULL)
        return NOMEM(err);
    setvbuf(f, NULL, _IOFBF, 64 * 1024);
    bool ok = write_manifest(m, f);
    ok = fclose(f) == 0 && ok;
    return k.rc != 0 ? k.rc : ok ? 0 : NOMEM(err);   /* else only jansson's allocations */
}

int manifest_save(Storage *s, const CryptoRepoKey *key, const char *label,
                  const BackupManifest *m, PgpErr *err)
{
    if (!manifest_label_valid(label))
        return manifest_bad_label(label, err);
    if (m->label == NULL || strcmp(m->label, label) != 0)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "manifest of backup \"%s\" saved as \"%s\"",
                        m->label != NULL ? m->label : "", label);
    char path[REPO_PATH_MAX];
    MetaWriter *w = NULL;
    int rc = manifest_path(label, path, err);
    if (rc == 0)
        rc = manifest_validate(m, err);
    if (rc == 0)
        rc = meta_writer_open(s, key, path, 0, &w, err);
    if (rc == 0 && (rc = save_stream(w, m, err)) != 0)
        meta_writer_abort(w);
    else if (rc == 0)
        rc = meta_writer_commit(w, err);   /* never replaces: PGP_ERR_CONFLICT */
    if (rc != 0)
        pgp_err_context(err, "cannot save backup manifest \"%s\"", path);
    return rc;
}
