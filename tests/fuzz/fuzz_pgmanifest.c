/*
 * fuzz_pgmanifest.c - PostgreSQL's backup_manifest (pg_manifest_parse, src/pg/pgmanifest.c):
 * sent by the server at the end of BASE_BACKUP and read back from the repository by verify
 * and restore. Input: the manifest's bytes. Each input is parsed as it is (whole, and streamed
 * a few bytes a read: the same result and message), and once more with
 * its "Manifest-Checksum" line recomputed, so that mutations get past the checksum into the
 * field rules.
 * Properties: an accepted manifest keeps every documented rule (safe, unique, sorted paths;
 * checksum lengths; WAL ranges); pg_manifest_find finds each file; written back the way
 * PostgreSQL writes one (a "Path", or an "Encoded-Path" for names that are not UTF-8, and the
 * SHA-256 over everything before the last line) it parses to the same manifest.
 */
#include "fuzz.h"

#include <jansson.h>
#include <openssl/evp.h>

#include "pgpitr/pg/pgmanifest.h"
#include "pgpitr/pg/walname.h"

/* Lowercase hex SHA-256 of len bytes. */
static void sha256_hex(const char *buf, size_t len, char out[65])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(buf, len, d, &n, EVP_sha256(), NULL) != 1 || n != 32)
        abort();
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Rewrites the 64 hex digits after "Manifest-Checksum": " on the last line with the checksum
 * of what precedes that line; false when the input has no such line. */
static bool fix_checksum(char *buf, size_t len)
{
    static const char key[] = "\"Manifest-Checksum\": \"";
    if (len < 2 || buf[len - 1] != '\n')
        return false;
    size_t last = len - 1;
    while (last > 0 && buf[last - 1] != '\n')
        last--;
    if (last == 0)
        return false;
    char *at = memmem(buf + last, len - last, key, sizeof key - 1);
    if (at == NULL || (size_t)(at - buf) + sizeof key - 1 + 64 > len)
        return false;
    char hex[65];
    sha256_hex(buf, last, hex);
    memcpy(at + sizeof key - 1, hex, 64);
    return true;
}

static json_t *file_json(const PgManifestFile *f)
{
    json_t *o = json_object(), *path = json_string(f->path);
    if (o == NULL)
        abort();
    if (path != NULL) {
        json_object_set_new(o, "Path", path);
    } else {   /* not UTF-8: hex, as PostgreSQL does */
        size_t n = strlen(f->path);
        char *hex = malloc(2 * n + 1);
        if (hex == NULL)
            abort();
        for (size_t i = 0; i < n; i++)
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)f->path[i]);
        json_object_set_new(o, "Encoded-Path", json_string(hex));
        free(hex);
    }
    json_object_set_new(o, "Size", json_integer((json_int_t)f->size));
    json_object_set_new(o, "Last-Modified", json_string("2026-11-22 03:00:00 GMT"));
    if (f->checksum_type != PG_MANIFEST_CHECKSUM_NONE) {
        json_object_set_new(o, "Checksum-Algorithm",
                            json_string(pg_manifest_checksum_name(f->checksum_type)));
        json_object_set_new(o, "Checksum", json_string(f->checksum));
    }
    return o;
}

/* The manifest in PostgreSQL's layout: one line per file and range, checksum line last. */
static char *write_manifest(const PgManifest *m, size_t *len)
{
    char *out = NULL;
    size_t cap = 0;
    FILE *f = open_memstream(&out, &cap);
    if (f == NULL)
        abort();
    fprintf(f, "{ \"PostgreSQL-Backup-Manifest-Version\": %d,\n", m->version);
    if (m->version == 2)
        fprintf(f, "\"System-Identifier\": %llu,\n", (unsigned long long)m->system_identifier);
    fprintf(f, "\"Files\": [");
    for (size_t i = 0; i < m->n_files; i++) {
        json_t *o = file_json(&m->files[i]);
        char *t = json_dumps(o, JSON_COMPACT);
        if (t == NULL)
            abort();
        fprintf(f, "%s\n%s", i ? "," : "", t);
        free(t);
        json_decref(o);
    }
    fprintf(f, " ],\n\"WAL-Ranges\": [\n");
    for (size_t i = 0; i < m->n_wal_ranges; i++) {
        const PgManifestWalRange *w = &m->wal_ranges[i];
        char a[20], b[20];
        pg_lsn_format(w->start_lsn, a);
        pg_lsn_format(w->end_lsn, b);
        fprintf(f, "%s{ \"Timeline\": %u, \"Start-LSN\": \"%s\", \"End-LSN\": \"%s\" }",
                i ? ",\n" : "", w->timeline, a, b);
    }
    fprintf(f, "\n],\n");
    fflush(f);
    char hex[65];
    sha256_hex(out, cap, hex);
    fprintf(f, "\"Manifest-Checksum\": \"%s\"}\n", hex);
    fclose(f);
    *len = cap;
    return out;
}

static void check_same(const PgManifest *a, const PgManifest *b)
{
    FUZZ_ASSERT(a->version == b->version && a->system_identifier == b->system_identifier,
                "header differs after writing");
    FUZZ_ASSERT(a->n_files == b->n_files && a->n_wal_ranges == b->n_wal_ranges,
                "%zu/%zu files, %zu/%zu ranges", a->n_files, b->n_files, a->n_wal_ranges,
                b->n_wal_ranges);
    for (size_t i = 0; i < a->n_files; i++) {
        const PgManifestFile *x = &a->files[i], *y = &b->files[i];
        FUZZ_ASSERT(strcmp(x->path, y->path) == 0 && x->size == y->size &&
                        x->checksum_type == y->checksum_type &&
                        strcmp(x->checksum, y->checksum) == 0,
                    "file %zu differs after writing", i);
    }
    for (size_t i = 0; i < a->n_wal_ranges; i++)
        FUZZ_ASSERT(memcmp(&a->wal_ranges[i], &b->wal_ranges[i], sizeof a->wal_ranges[i]) == 0,
                    "range %zu differs after writing", i);
}

static void check_accepted(const PgManifest *m)
{
    FUZZ_ASSERT(m->version == 1 || m->version == 2, "version %d", m->version);
    FUZZ_ASSERT(m->version == 2 || m->system_identifier == 0, "sysid in version 1");
    for (size_t i = 0; i < m->n_files; i++) {
        const PgManifestFile *f = &m->files[i];
        const char *p = f->path;
        FUZZ_ASSERT(p[0] != '\0' && p[0] != '/' && strstr(p, "//") == NULL &&
                        p[strlen(p) - 1] != '/',
                    "unsafe path \"%s\"", p);
        for (const char *seg = p; seg != NULL; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL)
            FUZZ_ASSERT(strncmp(seg, "../", 3) != 0 && strcmp(seg, "..") != 0 &&
                            strncmp(seg, "./", 2) != 0 && strcmp(seg, ".") != 0,
                        "dot segment in \"%s\"", p);
        FUZZ_ASSERT(i == 0 || strcmp(m->files[i - 1].path, p) < 0, "order at %zu", i);
        FUZZ_ASSERT(pg_manifest_find(m, p) == f, "find \"%s\"", p);
        FUZZ_ASSERT(strlen(f->checksum) == pg_manifest_checksum_hex_len(f->checksum_type),
                    "checksum length of \"%s\"", p);
        FUZZ_ASSERT(f->size <= INT64_MAX, "size");
    }
    for (size_t i = 0; i < m->n_wal_ranges; i++)
        FUZZ_ASSERT(m->wal_ranges[i].timeline >= 1 &&
                        m->wal_ranges[i].start_lsn <= m->wal_ranges[i].end_lsn,
                    "range %zu", i);

    size_t len = 0;
    char *text = write_manifest(m, &len);
    PgManifest *again = NULL;
    PgpErr err;
    int rc = pg_manifest_parse(text, len, &again, &err);
    FUZZ_ASSERT(rc == 0, "written manifest does not parse: %s\n%s", err.msg, text);
    check_same(m, again);
    pg_manifest_free(again);
    free(text);
}

static void parse_one(const char *buf, size_t len)
{
    PgManifest *m = NULL, *s = NULL;
    PgpErr err, serr;
    int rc = pg_manifest_parse(buf, len, &m, &err);
    FuzzSrc p = {.data = buf, .size = len, .chunk = 1 + len % 13};   /* as a backup reads it */
    int src = pg_manifest_read_each(fuzz_src_read, &p, NULL, NULL, &s, &serr);
    FUZZ_ASSERT(rc == src && (rc == 0 || strcmp(err.msg, serr.msg) == 0),
                "streamed (%zu bytes a read): %d \"%s\", whole: %d \"%s\"", p.chunk, src,
                src != 0 ? serr.msg : "", rc, rc != 0 ? err.msg : "");
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_CORRUPT);
        FUZZ_ASSERT(m == NULL && s == NULL, "manifest returned with an error");
        return;
    }
    check_accepted(m);
    check_same(m, s);
    pg_manifest_free(m);
    pg_manifest_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *buf = fuzz_copy(data, size);
    parse_one(buf, size);
    if (fix_checksum(buf, size))
        parse_one(buf, size);
    free(buf);
    return 0;
}
