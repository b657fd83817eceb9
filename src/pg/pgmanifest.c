/*
 * pgmanifest.c - parse PostgreSQL's backup_manifest (see pgmanifest.h for the rules).
 *
 * Owns: the format knowledge of backup_manifest version 1 and 2 and its checksum rule.
 * Must not: read files, touch storage, or compute file checksums (callers do that).
 *
 * The whole document is checked by jansson first (syntax, duplicate keys), then the
 * manifest checksum over the raw bytes, then the fields are interpreted. So a flipped byte
 * anywhere is reported as a checksum mismatch rather than as whichever field it happened to
 * break, and a field error means the server itself wrote something odd.
 *
 * Memory (issue #14): a cluster of a million files has a manifest of a million "Files"
 * objects, and a jansson tree of it costs about 900 bytes a file, its text about 150. So the
 * text is read through a sliding window (common/json_window.h), the top-level object walked
 * here, each of its values parsed by jansson on its own, and the "Files" array one element at
 * a time: each file is interpreted into its PgManifestFile (or handed to the caller) and its
 * tree freed at once. The manifest checksum is hashed as the bytes enter the window, with the
 * hash state kept at each of the last two newlines, since only the end tells which line is
 * the last. A field error in a file is held until the whole document has parsed and the
 * checksum matched, to keep the order above.
 */
#include "pgpitr/pg/pgmanifest.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/json_window.h"
#include "pgpitr/pg/walname.h"

#define BAD(err, ...) PGP_FAIL((err), PGP_ERR_CORRUPT, "invalid backup manifest: " __VA_ARGS__)
/* The window's syntax errors read like BAD's. */
#define WIN_PREFIX "invalid backup manifest"
/* Bytes read at a time; the window widens for a larger value, up to PG_MANIFEST_VALUE_MAX. */
#define PG_MANIFEST_WINDOW ((size_t)64 * 1024)


static const struct {
    const char *name;
    size_t hex_len;
} checksum_types[] = {
    [PG_MANIFEST_CHECKSUM_NONE] = {"NONE", 0},
    [PG_MANIFEST_CHECKSUM_CRC32C] = {"CRC32C", 8},
    [PG_MANIFEST_CHECKSUM_SHA224] = {"SHA224", 56},
    [PG_MANIFEST_CHECKSUM_SHA256] = {"SHA256", 64},
    [PG_MANIFEST_CHECKSUM_SHA384] = {"SHA384", 96},
    [PG_MANIFEST_CHECKSUM_SHA512] = {"SHA512", 128},
};
#define N_CHECKSUM_TYPES (sizeof checksum_types / sizeof checksum_types[0])

const char *pg_manifest_checksum_name(PgManifestChecksumType t)
{
    return (size_t)t < N_CHECKSUM_TYPES ? checksum_types[t].name : "unknown";
}

size_t pg_manifest_checksum_hex_len(PgManifestChecksumType t)
{
    return (size_t)t < N_CHECKSUM_TYPES ? checksum_types[t].hex_len : 0;
}

/* PostgreSQL matches algorithm names case-insensitively (pg_checksum_parse_type). */
static bool checksum_type_parse(const char *s, PgManifestChecksumType *out)
{
    for (size_t i = 0; i < N_CHECKSUM_TYPES; i++) {
        if (strcasecmp(s, checksum_types[i].name) == 0) {
            *out = (PgManifestChecksumType)i;
            return true;
        }
    }
    return false;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly n hex digits (either case) copied lowercased into out (n + 1 bytes). */
static bool hex_lower(const char *s, size_t n, char *out)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int d = hex_digit(s[i]);
        if (d < 0)
            return false;
        out[i] = "0123456789abcdef"[d];
    }
    out[n] = '\0';
    return true;
}

/* ---- the walk's state, and the manifest checksum as the text goes by --------------------- */

typedef struct Walk {
    JsonWin w;
    /* SHA-256 of the text: running, and as it was after the last newline and after the one
     * before (the checksum's end, once the text has ended: see verify_checksum). */
    EVP_MD_CTX *sha, *at_nl, *at_prev_nl;
    size_t newlines;
    char last;              /* the text's last byte */
    bool hash_failed;
    int file_rc;            /* the first field error of a file, held (see the top) */
    PgpErr file_err;
    size_t cap_files;
    PgManifestFileFn fn;    /* files handed to fn instead of kept (pg_manifest_parse_each) */
    void *ud;
} Walk;

/* Every byte of the text, in order, as the window reads it. */
static void hash_seen(void *ud, const char *buf, size_t len)
{
    Walk *w = ud;
    for (const char *p = buf, *e = buf + len; p < e;) {
        const char *nl = memchr(p, '\n', (size_t)(e - p));
        size_t n = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(e - p);
        if (EVP_DigestUpdate(w->sha, p, n) != 1)
            w->hash_failed = true;
        if (nl != NULL) {
            EVP_MD_CTX *t = w->at_prev_nl;
            w->at_prev_nl = w->at_nl;
            w->at_nl = t;
            if (EVP_MD_CTX_copy_ex(w->at_nl, w->sha) != 1)
                w->hash_failed = true;
            w->newlines++;
        }
        p += n;
    }
    if (len > 0)
        w->last = buf[len - 1];
}

/*
 * The manifest checksum covers everything before the last line: the file must end with a
 * newline and have at least two lines, and the hash runs up to and including the newline
 * before the final one (the rule of PostgreSQL's pg_verifybackup). The text is never held:
 * hash_seen kept the hash as it stood after that newline.
 */
static int verify_checksum(Walk *w, const char *expect_hex, PgpErr *err)
{
    if (w->last != '\n')
        return BAD(err, "last line is not terminated by a newline");
    if (w->newlines < 2)
        return BAD(err, "expected at least 2 lines");
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (w->hash_failed || EVP_DigestFinal_ex(w->at_prev_nl, digest, &dlen) != 1 || dlen != 32)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "sha-256 of the backup manifest failed");
    char actual[65];
    for (unsigned i = 0; i < 32; i++)
        snprintf(actual + 2 * i, 3, "%02x", digest[i]);
    if (strcmp(actual, expect_hex) != 0)
        return BAD(err, "manifest checksum mismatch (file says %s, content has %s)", expect_hex,
                   actual);
    return 0;
}
/* Every key of obj must be one of allowed (NULL-terminated). */
static int check_keys(json_t *obj, const char *const *allowed, const char *where, PgpErr *err)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char q[PGP_QUOTE_BUF];
            return BAD(err, "%s: unexpected field \"%s\"", where, pgp_quote(key, q));
        }
    }
    return 0;
}

/* Optional string field: *out NULL when absent; present but not a string is an error. */
static int opt_string(json_t *obj, const char *key, const char *where, const char **out,
                      PgpErr *err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return BAD(err, "%s: field \"%s\" must be a string", where, key);
    *out = json_string_value(v);
    return 0;
}

static int req_string(json_t *obj, const char *key, const char *where, const char **out,
                      PgpErr *err)
{
    int rc = opt_string(obj, key, where, out, err);
    if (rc == 0 && *out == NULL)
        return BAD(err, "%s: missing field \"%s\"", where, key);
    return rc;
}

static int req_uint(json_t *obj, const char *key, const char *where, uint64_t max,
                    uint64_t *out, PgpErr *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return BAD(err, "%s: missing field \"%s\"", where, key);
    if (!json_is_integer(v))
        return BAD(err, "%s: field \"%s\" must be an integer", where, key);
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i > max)
        return BAD(err, "%s: field \"%s\" is out of range (%lld)", where, key, (long long)i);
    *out = (uint64_t)i;
    return 0;
}

/* Relative, non-empty, no "", "." or ".." segment (len counts bytes: catches NULs). */
static bool path_safe(const char *p, size_t len)
{
    if (len == 0 || strlen(p) != len || p[0] == '/')
        return false;
    const char *seg = p;
    for (;;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash != NULL ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (slash == NULL)
            return true;
        seg = slash + 1;
    }
}

/* Path or hex Encoded-Path (exactly one) into a malloc'd, validated path. */
static int file_path(json_t *obj, const char *where, char **out, PgpErr *err)
{
    const char *plain = NULL, *enc = NULL;
    int rc = opt_string(obj, "Path", where, &plain, err);
    if (rc == 0)
        rc = opt_string(obj, "Encoded-Path", where, &enc, err);
    if (rc != 0)
        return rc;
    if ((plain == NULL) == (enc == NULL))
        return BAD(err, "%s: needs exactly one of \"Path\" and \"Encoded-Path\"", where);
    size_t len = plain != NULL ? strlen(plain) : strlen(enc) / 2;
    char *p = malloc(len + 1);
    if (p == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (plain != NULL) {
        memcpy(p, plain, len + 1);
    } else {
        bool ok = strlen(enc) % 2 == 0;
        for (size_t i = 0; ok && i < len; i++) {
            int hi = hex_digit(enc[2 * i]), lo = hex_digit(enc[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            p[i] = (char)(ok ? hi * 16 + lo : 0);
        }
        p[len] = '\0';
        if (!ok) {
            free(p);
            return BAD(err, "%s: \"Encoded-Path\" is not hex", where);
        }
    }
    if (!path_safe(p, len)) {
        char q[PGP_QUOTE_BUF];
        rc = BAD(err, "%s: unsafe path \"%s\" (must be relative, without \"..\")", where,
                 pgp_quote(p, q));
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* The algorithm into f, the lowercase hex into out (PG_MANIFEST_CHECKSUM_HEX_MAX + 1). */
static int parse_file_checksum(json_t *obj, const char *where, PgManifestFile *f, char *out,
                               PgpErr *err)
{
    const char *alg = NULL, *sum = NULL;
    int rc = opt_string(obj, "Checksum-Algorithm", where, &alg, err);
    if (rc == 0)
        rc = opt_string(obj, "Checksum", where, &sum, err);
    if (rc != 0)
        return rc;
    f->checksum_type = PG_MANIFEST_CHECKSUM_NONE;
    out[0] = '\0';
    if (alg == NULL)
        return sum != NULL ? BAD(err, "%s: \"Checksum\" without \"Checksum-Algorithm\"", where) : 0;
    char q[PGP_QUOTE_BUF];
    if (!checksum_type_parse(alg, &f->checksum_type))
        return BAD(err, "%s: unknown checksum algorithm \"%s\"", where, pgp_quote(alg, q));
    size_t want = checksum_types[f->checksum_type].hex_len;
    if (want == 0)
        return sum != NULL && sum[0] != '\0'
                   ? BAD(err, "%s: checksum given for algorithm NONE", where) : 0;
    if (sum == NULL)
        return BAD(err, "%s: missing field \"Checksum\"", where);
    if (!hex_lower(sum, want, out))
        return BAD(err, "%s: %s checksum \"%s\" is not %zu hex digits", where,
                   checksum_types[f->checksum_type].name, pgp_quote(sum, q), want);
    return 0;
}

static int parse_file(json_t *obj, size_t idx, PgManifestFile *f, PgpErr *err)
{
    static const char *const keys[] = {"Path", "Encoded-Path", "Size", "Last-Modified",
                                       "Checksum-Algorithm", "Checksum", NULL};
    char where[PGP_QUOTE_BUF + 64];
    snprintf(where, sizeof where, "file %zu", idx);
    if (!json_is_object(obj))
        return BAD(err, "%s: not an object", where);
    int rc = check_keys(obj, keys, where, err);
    if (rc == 0)
        rc = file_path(obj, where, &f->path, err);
    if (rc != 0)
        return rc;
    char q[PGP_QUOTE_BUF];
    snprintf(where, sizeof where, "file %zu (\"%s\")", idx, pgp_quote(f->path, q));
    const char *mtime = NULL;
    char sum[PG_MANIFEST_CHECKSUM_HEX_MAX + 1] = "";
    rc = req_uint(obj, "Size", where, INT64_MAX, &f->size, err);
    if (rc == 0)
        rc = opt_string(obj, "Last-Modified", where, &mtime, err);  /* informational only */
    if (rc == 0)
        rc = parse_file_checksum(obj, where, f, sum, err);
    if (rc != 0)
        return rc;
    /* the checksum after the path's NUL: one allocation a file */
    size_t plen = strlen(f->path), slen = strlen(sum);
    char *blk = realloc(f->path, plen + 1 + slen + 1);
    if (blk == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    memcpy(blk + plen + 1, sum, slen + 1);
    f->path = blk;
    f->checksum = blk + plen + 1;
    return 0;
}

static int parse_lsn(json_t *obj, const char *key, const char *where, uint64_t *out, PgpErr *err)
{
    const char *s = NULL;
    int rc = req_string(obj, key, where, &s, err);
    if (rc != 0)
        return rc;
    if (pg_lsn_parse(s, out, NULL) != 0) {
        char q[PGP_QUOTE_BUF];
        return BAD(err, "%s: \"%s\" is not an LSN: \"%s\"", where, key, pgp_quote(s, q));
    }
    return 0;
}

static int parse_wal_range(json_t *obj, size_t idx, PgManifestWalRange *w, PgpErr *err)
{
    static const char *const keys[] = {"Timeline", "Start-LSN", "End-LSN", NULL};
    char where[64];
    snprintf(where, sizeof where, "WAL range %zu", idx);
    if (!json_is_object(obj))
        return BAD(err, "%s: not an object", where);
    uint64_t tli = 0;
    int rc = check_keys(obj, keys, where, err);
    if (rc == 0)
        rc = req_uint(obj, "Timeline", where, UINT32_MAX, &tli, err);
    if (rc == 0 && tli == 0)
        rc = BAD(err, "%s: timeline 0 is not valid", where);
    if (rc == 0)
        rc = parse_lsn(obj, "Start-LSN", where, &w->start_lsn, err);
    if (rc == 0)
        rc = parse_lsn(obj, "End-LSN", where, &w->end_lsn, err);
    if (rc == 0 && w->start_lsn > w->end_lsn)
        rc = BAD(err, "%s: Start-LSN is after End-LSN", where);
    w->timeline = (uint32_t)tli;
    return rc;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const PgManifestFile *)a)->path, ((const PgManifestFile *)b)->path);
}

/* Sorts the files by path and refuses a path listed twice. */
static int finish_files(PgManifest *m, PgpErr *err)
{
    size_t n = m->n_files;
    if (n > 1)
        qsort(m->files, n, sizeof *m->files, cmp_file);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(m->files[i - 1].path, m->files[i].path) == 0) {
            char q[PGP_QUOTE_BUF];
            return BAD(err, "duplicate path \"%s\"", pgp_quote(m->files[i].path, q));
        }
    }
    return 0;
}

static int parse_wal_ranges(json_t *arr, PgManifest *m, PgpErr *err)
{
    if (!json_is_array(arr))
        return BAD(err, "\"WAL-Ranges\" must be an array");
    size_t n = json_array_size(arr);
    m->wal_ranges = calloc(n > 0 ? n : 1, sizeof *m->wal_ranges);
    if (m->wal_ranges == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = parse_wal_range(json_array_get(arr, i), i, &m->wal_ranges[i], err);
        if (rc != 0)
            return rc;
    }
    m->n_wal_ranges = n;
    return 0;
}

/* Version, optional system identifier, and the checksum field (verified over buf). */
static int parse_header(json_t *root, Walk *w, PgManifest *m, PgpErr *err)
{
    static const char *const keys[] = {"PostgreSQL-Backup-Manifest-Version", "System-Identifier",
                                       "Files", "WAL-Ranges", "Manifest-Checksum", NULL};
    const char *sum = NULL;
    int rc = check_keys(root, keys, "top level", err);
    if (rc == 0)
        rc = req_string(root, "Manifest-Checksum", "top level", &sum, err);
    if (rc != 0)
        return rc;
    if (!hex_lower(sum, 64, m->manifest_checksum)) {
        char q[PGP_QUOTE_BUF];
        return BAD(err, "\"Manifest-Checksum\" \"%s\" is not 64 hex digits", pgp_quote(sum, q));
    }
    rc = verify_checksum(w, m->manifest_checksum, err);
    uint64_t version = 0;
    if (rc == 0)
        rc = req_uint(root, "PostgreSQL-Backup-Manifest-Version", "top level", INT32_MAX,
                      &version, err);
    if (rc != 0)
        return rc;
    if (version != 1 && version != 2)
        return BAD(err, "unsupported manifest version %llu (expected 1 or 2)",
                   (unsigned long long)version);
    m->version = (int)version;
    json_t *sysid = json_object_get(root, "System-Identifier");
    if (version == 1 && sysid != NULL)
        return BAD(err, "\"System-Identifier\" is not part of manifest version 1");
    if (version == 2)
        return req_uint(root, "System-Identifier", "top level", INT64_MAX,
                        &m->system_identifier, err);
    return 0;
}

/* ---- the document, one value at a time -------------------------------------------------- */

/* One element of "Files": interpreted into a record kept in m, or handed to fn and freed. */
static int file_value(Walk *w, PgManifest *m, json_t *v, size_t i, PgpErr *err)
{
    if (w->fn != NULL) {
        PgManifestFile f = {0};
        if (w->file_rc == 0 && (w->file_rc = parse_file(v, i, &f, &w->file_err)) == 0)
            w->file_rc = w->fn(w->ud, &f, &w->file_err);
        free(f.path);
        m->n_files++;
        return 0;
    }
    if (w->file_rc != 0)
        return 0;
    if (GROW(m->files, m->n_files, w->cap_files, 1024, NULL, NULL) != 0)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    PgManifestFile *f = &m->files[m->n_files++];   /* free releases its path */
    memset(f, 0, sizeof *f);
    w->file_rc = parse_file(v, i, f, &w->file_err);
    return 0;
}

/* The "Files" array from its '[': each element parsed, interpreted and freed in turn. */
static int stream_files(Walk *w, PgManifest *m, PgpErr *err)
{
    int c;
    json_win_advance(&w->w, 1);
    int rc = json_win_peek(&w->w, &c, err);
    for (size_t i = 0; rc == 0 && c != ']'; i++) {
        if (i > 0 && c != ',')
            return json_win_expected(&w->w, c, "',' or ']' expected", err);
        if (i > 0)
            json_win_advance(&w->w, 1);
        json_t *v = NULL;
        rc = json_win_value(&w->w, &v, err);
        if (rc == 0)
            rc = file_value(w, m, v, i, err);
        json_decref(v);
        if (rc == 0)
            rc = json_win_peek(&w->w, &c, err);
    }
    if (rc == 0)
        json_win_advance(&w->w, 1);
    return rc;
}

/* One "key": value member into root ("Files": an empty array in its place, the files into m). */
static int member(Walk *w, json_t *root, PgManifest *m, PgpErr *err)
{
    json_t *k = NULL, *v = NULL;
    int c = 0, rc = json_win_value(&w->w, &k, err);
    const char *key = rc == 0 ? json_string_value(k) : "";   /* a string: it began with '"' */
    if (rc == 0)
        rc = json_win_peek(&w->w, &c, err);
    if (rc == 0 && c != ':')
        rc = json_win_expected(&w->w, c, "':' expected", err);
    if (rc == 0)
        json_win_advance(&w->w, 1);
    if (rc == 0 && json_object_get(root, key) != NULL)
        rc = json_win_syntax(&w->w, w->w.line, "duplicate object key", err);
    if (rc == 0)
        rc = json_win_peek(&w->w, &c, err);
    if (rc == 0 && strcmp(key, "Files") == 0 && c == '[') {
        rc = stream_files(w, m, err);
        if (rc == 0 && (v = json_array()) == NULL)
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    } else if (rc == 0) {
        rc = json_win_value(&w->w, &v, err);
    }
    if (rc == 0 && json_object_set_new(root, key, v) != 0)   /* takes v either way */
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    json_decref(k);
    return rc;
}

/* The top-level object, or the one value that is not (refused by interpret), to the end. */
static int walk_top(Walk *w, json_t **root, PgManifest *m, PgpErr *err)
{
    int c;
    int rc = json_win_peek(&w->w, &c, err);
    if (rc == 0 && c != '{')
        rc = json_win_value(&w->w, root, err);
    else if (rc == 0 && (*root = json_object()) == NULL)
        rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    else if (rc == 0) {
        json_win_advance(&w->w, 1);
        rc = json_win_peek(&w->w, &c, err);
        for (size_t i = 0; rc == 0 && c != '}'; i++) {
            if (i > 0 && c != ',')
                return json_win_expected(&w->w, c, "',' or '}' expected", err);
            if (i > 0 && (json_win_advance(&w->w, 1), rc = json_win_peek(&w->w, &c, err)) != 0)
                return rc;
            if (c != '"')
                return json_win_expected(&w->w, c, "string or '}' expected", err);
            rc = member(w, *root, m, err);
            if (rc == 0)
                rc = json_win_peek(&w->w, &c, err);
        }
        if (rc == 0)
            json_win_advance(&w->w, 1);
    }
    if (rc == 0)
        rc = json_win_peek(&w->w, &c, err);
    if (rc == 0 && c != EOF)
        rc = json_win_syntax(&w->w, w->w.line, "end of file expected", err);
    return rc;
}

/* The fields, once the document parsed: header and checksum, then the files' held error,
 * then their order, then the WAL ranges. */
static int interpret(json_t *root, Walk *w, PgManifest *m, PgpErr *err)
{
    if (!json_is_object(root))
        return BAD(err, "top level is not an object");
    int rc = parse_header(root, w, m, err);
    json_t *files = json_object_get(root, "Files");
    json_t *wal = json_object_get(root, "WAL-Ranges");
    if (rc == 0 && files == NULL)
        rc = BAD(err, "missing field \"Files\"");
    if (rc == 0 && wal == NULL)
        rc = BAD(err, "missing field \"WAL-Ranges\"");
    if (rc == 0 && !json_is_array(files))
        rc = BAD(err, "\"Files\" must be an array");
    if (rc == 0 && w->file_rc != 0) {
        *err = w->file_err;
        rc = w->file_rc;
    }
    if (rc == 0 && w->fn == NULL)
        rc = finish_files(m, err);
    if (rc == 0)
        rc = parse_wal_ranges(wal, m, err);
    return rc;
}

/* The document through w's window (open, hashing already set up): *out on success. */
static int walk(Walk *w, PgManifest **out, PgpErr *err)
{
    *out = NULL;
    pgp_err_clear(&w->file_err);
    PgManifest *m = calloc(1, sizeof *m);
    if (m == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    json_t *root = NULL;
    int rc = walk_top(w, &root, m, err);
    if (rc == 0)
        rc = interpret(root, w, m, err);
    json_decref(root);
    if (rc != 0) {
        pg_manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int hash_begin(Walk *w, PgpErr *err)
{
    w->sha = EVP_MD_CTX_new();
    w->at_nl = EVP_MD_CTX_new();
    w->at_prev_nl = EVP_MD_CTX_new();
    if (w->sha == NULL || w->at_nl == NULL || w->at_prev_nl == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "sha-256 of the backup manifest failed");
    return 0;
}

static void walk_free(Walk *w)
{
    json_win_free(&w->w);
    EVP_MD_CTX_free(w->sha);
    EVP_MD_CTX_free(w->at_nl);
    EVP_MD_CTX_free(w->at_prev_nl);
}

int pg_manifest_parse(const char *buf, size_t len, PgManifest **out, PgpErr *err)
{
    return pg_manifest_parse_each(buf, len, NULL, NULL, out, err);
}

int pg_manifest_parse_each(const char *buf, size_t len, PgManifestFileFn fn, void *ud,
                           PgManifest **out, PgpErr *err)
{
    *out = NULL;
    Walk w = {.fn = fn, .ud = ud};
    json_win_text(&w.w, buf, len, WIN_PREFIX);
    int rc = hash_begin(&w, err);
    if (rc == 0) {
        hash_seen(&w, buf, len);
        rc = walk(&w, out, err);
    }
    walk_free(&w);
    return rc;
}

int pg_manifest_read_each(PgManifestReadFn rd, void *rd_ud, PgManifestFileFn fn, void *ud,
                          PgManifest **out, PgpErr *err)
{
    *out = NULL;
    Walk w = {.fn = fn, .ud = ud};
    int rc = json_win_open(&w.w, rd, rd_ud, PG_MANIFEST_WINDOW, PG_MANIFEST_VALUE_MAX,
                           WIN_PREFIX, err);
    w.w.seen = hash_seen;
    w.w.seen_ud = &w;
    if (rc == 0)
        rc = hash_begin(&w, err);
    if (rc == 0)
        rc = walk(&w, out, err);
    walk_free(&w);
    return rc;
}

void pg_manifest_free(PgManifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; m->files != NULL && i < m->n_files; i++)
        free(m->files[i].path);
    free(m->files);
    free(m->wal_ranges);
    free(m);
}

const PgManifestFile *pg_manifest_find(const PgManifest *m, const char *path)
{
    size_t lo = 0, hi = m->files != NULL ? m->n_files : 0;   /* none kept: none found */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, m->files[mid].path);
        if (c == 0)
            return &m->files[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
