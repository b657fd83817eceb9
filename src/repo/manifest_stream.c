/*
 * manifest_stream.c - reading a backup manifest as a stream (manifest.h, "Streaming"): a
 * sliding window over the bytes, the document's structure walked here (the top-level object
 * and its "entries" array), each value inside parsed by jansson one at a time (json_loadb
 * with JSON_DISABLE_EOF_CHECK decodes one value and reports the bytes it used), its fields
 * read by manifest_read.c and checked by manifest.c. Also the set that refuses duplicate
 * paths without keeping the entries, and the storage entry points (manifest_load,
 * manifest_load_header, manifest_stream, manifest_from_json).
 *
 * Must never hold the whole text nor a tree of the whole document: its memory is the window
 * (one value at least), the header, the duplicate set, and what the caller asks to keep.
 */
#include "manifest_impl.h"

#include "pgpitr/common/json_window.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/repo/meta_io.h"

/* The window's syntax errors read like BAD's. */
#define WIN_PREFIX "invalid backup manifest"

/* Slots of the duplicate-path set: a 96-bit hash of (tablespace, path). */
typedef struct DupSlot {
    uint64_t h;
    uint32_t tag;
    uint32_t used;
} DupSlot;

typedef struct Reader {
    JsonWin w;
    const ManifestReadOpts *o;
    BackupManifest *m;
    DupSlot *dups;           /* when entries are not kept (kept ones are sorted at the end) */
    size_t dup_cap, dup_n;
    const char *label;       /* expected label, and the object path for messages: storage */
    const char *path;
} Reader;

/* ---- duplicate paths without the entries ------------------------------------------------ */

static void path_hash(const ManifestEntry *e, uint64_t *h, uint32_t *tag)
{
    uint64_t a = UINT64_C(14695981039346656037) ^ e->tablespace, b = e->tablespace + 1;
    for (const unsigned char *p = (const unsigned char *)e->path; *p != '\0'; p++) {
        a = (a ^ *p) * UINT64_C(1099511628211);                 /* FNV-1a */
        b = (b + *p) * UINT64_C(0x9E3779B97F4A7C15);            /* a second, other mix */
        b ^= b >> 29;
    }
    a ^= a >> 31;
    *h = a * UINT64_C(0xBF58476D1CE4E5B9);
    *tag = (uint32_t)(b ^ (b >> 32));
}

static int dup_grow(Reader *r, PgpErr *err)
{
    size_t ncap = r->dup_cap == 0 ? 1024 : r->dup_cap * 2;
    DupSlot *n = calloc(ncap, sizeof *n);
    if (n == NULL)
        return NOMEM(err);
    for (size_t i = 0; i < r->dup_cap; i++) {
        if (!r->dups[i].used)
            continue;
        size_t j = (size_t)(r->dups[i].h >> 7) & (ncap - 1);
        while (n[j].used)
            j = (j + 1) & (ncap - 1);
        n[j] = r->dups[i];
    }
    free(r->dups);
    r->dups = n;
    r->dup_cap = ncap;
    return 0;
}

/* Refuses a second entry for (tablespace, path): restore would write one file twice. */
static int dup_add(Reader *r, const ManifestEntry *e, PgpErr *err)
{
    if ((r->dup_n + 1) * 10 > r->dup_cap * 7)
        TRY(dup_grow(r, err));
    uint64_t h;
    uint32_t tag;
    path_hash(e, &h, &tag);
    size_t j = (size_t)(h >> 7) & (r->dup_cap - 1);
    for (; r->dups[j].used; j = (j + 1) & (r->dup_cap - 1)) {
        if (r->dups[j].h == h && r->dups[j].tag == tag) {
            char q[PGP_QUOTE_BUF];
            return BAD(err, "duplicate entry \"%s\" in tablespace %u", pgp_quote(e->path, q),
                       (unsigned)e->tablespace);
        }
    }
    r->dups[j] = (DupSlot){.h = h, .tag = tag, .used = 1};
    r->dup_n++;
    return 0;
}

/* ---- the document ----------------------------------------------------------------------- */

static int read_entry(Reader *r, size_t i, PgpErr *err)
{
    json_t *o = NULL;
    TRY(json_win_value(&r->w, &o, err));
    ManifestEntry e;
    memset(&e, 0, sizeof e);
    int rc = manifest_parse_entry(o, i, &e, err);
    json_decref(o);
    if (rc == 0)
        rc = manifest_validate_entry(r->m, &e, i, err);
    if (rc == 0)
        rc = r->o->keep_entries        ? manifest_add_entry(r->m, &e, err)
             : r->o->caller_checks_dups ? 0
                                        : dup_add(r, &e, err);
    if (rc == 0 && r->o->fn != NULL)
        rc = r->o->fn(r->o->ud, r->m, &e, i, err);
    manifest_entry_clear(&e);
    r->m->n_listed = i + 1;
    return rc;
}

static int read_entries(Reader *r, PgpErr *err)
{
    int c;
    TRY(json_win_peek(&r->w, &c, err));
    if (c != '[') {
        json_t *v = NULL;
        TRY(json_win_value(&r->w, &v, err));    /* a broken value is reported as such */
        json_decref(v);
        return BAD(err, "field \"entries\" must be an array");
    }
    json_win_advance(&r->w, 1);
    TRY(json_win_peek(&r->w, &c, err));
    for (size_t i = 0; c != ']'; i++) {
        if (i > 0 && c != ',')
            return json_win_expected(&r->w, c, "',' or ']' expected", err);
        if (i > 0)
            json_win_advance(&r->w, 1);
        TRY(read_entry(r, i, err));
        TRY(json_win_peek(&r->w, &c, err));
    }
    json_win_advance(&r->w, 1);
    return 0;
}

/* Every top-level field before "entries" has been read into hdr. */
static int header_done(Reader *r, json_t *hdr, PgpErr *err)
{
    TRY(manifest_parse_header(hdr, r->m, err));
    TRY(manifest_validate_header(r->m, err));
    if (r->label != NULL && strcmp(r->m->label, r->label) != 0) {
        char q[PGP_QUOTE_BUF];
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" is the manifest of backup \"%s\"",
                        r->path, pgp_quote(r->m->label, q));
    }
    return 0;
}

/* One "key": value of the top level; "entries" streams, anything else goes into hdr. */
static int read_member(Reader *r, json_t *hdr, bool *entries, PgpErr *err)
{
    json_t *k = NULL, *v = NULL;
    int c = 0, rc = json_win_value(&r->w, &k, err);
    const char *key = json_string_value(k);       /* a string: it began with '"' */
    char q[PGP_QUOTE_BUF];
    if (rc == 0)
        rc = json_win_peek(&r->w, &c, err);
    if (rc == 0 && c != ':')
        rc = json_win_expected(&r->w, c, "':' expected", err);
    if (rc == 0)
        json_win_advance(&r->w, 1);
    bool is_entries = rc == 0 && strcmp(key, "entries") == 0;
    if (rc == 0 && (json_object_get(hdr, key) != NULL || (is_entries && *entries)))
        rc = json_win_syntax(&r->w, r->w.line, "duplicate object key", err);
    else if (rc == 0 && *entries)
        rc = BAD(err, "top level: field \"%s\" follows \"entries\", which must be the last",
                 pgp_quote(key, q));
    else if (is_entries) {
        *entries = true;
        rc = header_done(r, hdr, err);
        if (rc == 0)
            rc = read_entries(r, err);
    } else if (rc == 0) {
        rc = json_win_value(&r->w, &v, err);
        if (rc == 0 && json_object_set_new(hdr, key, v) != 0)
            rc = NOMEM(err);
    }
    json_decref(k);
    return rc;
}

static int read_members(Reader *r, json_t *hdr, PgpErr *err)
{
    bool entries = false;
    int c;
    TRY(json_win_peek(&r->w, &c, err));
    for (size_t i = 0; c != '}'; i++) {
        if (i > 0 && c != ',')
            return json_win_expected(&r->w, c, "',' or '}' expected", err);
        if (i > 0) {
            json_win_advance(&r->w, 1);
            TRY(json_win_peek(&r->w, &c, err));
        }
        if (c != '"')
            return json_win_expected(&r->w, c, "string or '}' expected", err);
        TRY(read_member(r, hdr, &entries, err));
        TRY(json_win_peek(&r->w, &c, err));
    }
    json_win_advance(&r->w, 1);
    TRY(json_win_peek(&r->w, &c, err));
    if (c != EOF)
        return json_win_syntax(&r->w, r->w.line, "end of file expected", err);
    if (!entries) {
        TRY(header_done(r, hdr, err));
        return BAD(err, "top level: missing field \"entries\"");
    }
    return 0;
}

static int read_document(Reader *r, PgpErr *err)
{
    int c;
    TRY(json_win_peek(&r->w, &c, err));
    if (c != '{') {
        json_t *v = NULL;
        TRY(json_win_value(&r->w, &v, err));
        json_decref(v);
        return BAD(err, "top level is not an object");
    }
    json_win_advance(&r->w, 1);
    json_t *hdr = json_object();
    int rc = hdr != NULL ? read_members(r, hdr, err) : NOMEM(err);
    json_decref(hdr);
    return rc;
}

static int run(Reader *r, BackupManifest **out, PgpErr *err)
{
    *out = NULL;
    r->m = manifest_new();
    int rc = r->m != NULL ? read_document(r, err) : NOMEM(err);
    if (rc == 0 && r->o->keep_entries)
        rc = manifest_check_duplicates(r->m, err);
    free(r->dups);
    if (rc != 0) {
        manifest_free(r->m);
        return rc;
    }
    *out = r->m;
    return 0;
}

int manifest_read(ManifestReadFn rd, void *rd_ud, const ManifestReadOpts *o,
                  BackupManifest **out, PgpErr *err)
{
    Reader r = {.o = o};
    *out = NULL;
    TRY(json_win_open(&r.w, rd, rd_ud, o->window > 0 ? o->window : MANIFEST_WINDOW,
                      MANIFEST_MAX_BYTES, WIN_PREFIX, err));
    int rc = run(&r, out, err);
    json_win_free(&r.w);
    return rc;
}

int manifest_from_json(const char *text, size_t len, BackupManifest **out, PgpErr *err)
{
    ManifestReadOpts o = {.keep_entries = true};
    Reader r = {.o = &o};
    json_win_text(&r.w, text, len, WIN_PREFIX);
    return run(&r, out, err);
}

/* ---- storage ---------------------------------------------------------------------------- */

typedef struct StorageSrc {
    MetaReader *r;
    bool failed;             /* the error came from storage, not from the document */
} StorageSrc;

static int storage_src_read(void *ud, void *buf, size_t len, size_t *got, PgpErr *err)
{
    StorageSrc *s = ud;
    int rc = meta_read(s->r, buf, len, got, err);
    s->failed = rc != 0;
    return rc;
}

int manifest_stream(Storage *s, const CryptoRepoKey *key, const char *label,
                    const ManifestReadOpts *o, BackupManifest **out, PgpErr *err)
{
    *out = NULL;
    if (!manifest_label_valid(label))
        return manifest_bad_label(label, err);
    char path[REPO_PATH_MAX];
    TRY(manifest_path(label, path, err));
    StorageSrc src = {0};
    int rc = meta_reader_open(s, key, path, &src.r, err);
    if (rc == PGP_ERR_NOT_FOUND)
        return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "backup \"%s\" not found (no \"%s\")", label,
                        path);
    if (rc != 0)
        return pgp_err_context(err, "cannot read backup manifest \"%s\"", path);
    Reader r = {.o = o, .label = label, .path = path};
    rc = json_win_open(&r.w, storage_src_read, &src, o->window > 0 ? o->window : MANIFEST_WINDOW,
                       MANIFEST_MAX_BYTES, WIN_PREFIX, err);
    if (rc == 0)
        rc = run(&r, out, err);
    json_win_free(&r.w);
    meta_reader_close(src.r);
    if (rc != 0 && src.failed)
        pgp_err_context(err, "cannot read backup manifest \"%s\"", path);
    else if (rc == PGP_ERR_CORRUPT && strstr(err->msg, path) == NULL)
        pgp_err_context(err, "\"%s\"", path);
    return rc;
}

int manifest_load(Storage *s, const CryptoRepoKey *key, const char *label,
                  BackupManifest **out, PgpErr *err)
{
    ManifestReadOpts o = {.keep_entries = true};
    return manifest_stream(s, key, label, &o, out, err);
}

int manifest_load_header(Storage *s, const CryptoRepoKey *key, const char *label,
                         BackupManifest **out, PgpErr *err)
{
    ManifestReadOpts o = {0};
    return manifest_stream(s, key, label, &o, out, err);
}
