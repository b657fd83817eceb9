/*
 * fuzz_manifest.c - pgpitr's backup manifest, backup/<label>/manifest.json
 * (manifest_from_json / manifest_to_json, src/repo/manifest.c): it drives what restore writes
 * where. Input: the file's bytes.
 * Properties: an accepted manifest passes manifest_validate; writing it and reading it back
 * gives the same manifest, field by field, and writing that again gives the same text; the
 * streaming reader (manifest_read, src/repo/manifest_stream.c) through a tiny window and short
 * reads accepts exactly what manifest_from_json accepts, and reads the same manifest.
 */
#include "fuzz.h"

#include "pgpitr/repo/manifest.h"

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_same(const BackupManifest *a, const BackupManifest *b, const char *text)
{
    FUZZ_ASSERT(a->format == b->format && same_str(a->label, b->label) &&
                    same_str(a->status, b->status) &&
                    a->system_identifier == b->system_identifier &&
                    a->pg_version_num == b->pg_version_num && a->pg_major == b->pg_major &&
                    a->timeline == b->timeline && a->start_lsn == b->start_lsn &&
                    a->stop_lsn == b->stop_lsn && a->start_time == b->start_time &&
                    a->stop_time == b->stop_time && same_str(a->compress, b->compress) &&
                    same_str(a->pg_manifest_object, b->pg_manifest_object) &&
                    a->size == b->size && a->stored_size == b->stored_size &&
                    a->new_stored_size == b->new_stored_size,
                "header differs after writing:\n%.2000s", text);
    FUZZ_ASSERT((a->source == NULL) == (b->source == NULL) &&
                    (a->source == NULL || (same_str(a->source->server, b->source->server) &&
                                           same_str(a->source->primary, b->source->primary))),
                "source differs after writing:\n%.2000s", text);
    FUZZ_ASSERT(a->n_tablespaces == b->n_tablespaces, "tablespaces %zu/%zu", a->n_tablespaces,
                b->n_tablespaces);
    for (size_t i = 0; i < a->n_tablespaces; i++)
        FUZZ_ASSERT(a->tablespaces[i].oid == b->tablespaces[i].oid &&
                        same_str(a->tablespaces[i].location, b->tablespaces[i].location),
                    "tablespace %zu differs after writing", i);
    FUZZ_ASSERT(a->n_entries == b->n_entries, "entries %zu/%zu", a->n_entries, b->n_entries);
    for (size_t i = 0; i < a->n_entries; i++) {
        const ManifestEntry *x = &a->entries[i], *y = &b->entries[i];
        FUZZ_ASSERT(same_str(x->path, y->path) && x->tablespace == y->tablespace &&
                        x->type == y->type && x->size == y->size && x->mode == y->mode &&
                        x->mtime == y->mtime && strcmp(x->sha256, y->sha256) == 0 &&
                        same_str(x->object, y->object) && x->stored_size == y->stored_size &&
                        same_str(x->link_target, y->link_target),
                    "entry %zu (\"%.100s\") differs after writing", i, x->path ? x->path : "");
    }
}

/* The same bytes through the streaming reader: same verdict, same manifest. */
static void check_stream(const uint8_t *data, size_t size, int rc, const BackupManifest *m)
{
    FuzzSrc src = {.data = data, .size = size, .chunk = 1 + size % 7};
    ManifestReadOpts o = {.keep_entries = true, .window = 1 + size % 13};
    BackupManifest *s = NULL;
    PgpErr err;
    int rs = manifest_read(fuzz_src_read, &src, &o, &s, &err);
    FUZZ_ASSERT(rs == rc, "manifest_from_json says %d, the stream %d (%s)", rc, rs, err.msg);
    if (rs == 0)
        check_same(m, s, "(streamed)");
    manifest_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *buf = fuzz_copy(data, size);
    BackupManifest *m = NULL, *again = NULL;
    PgpErr err;
    int rc = manifest_from_json(buf, size, &m, &err);
    free(buf);
    check_stream(data, size, rc, m);
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_CORRUPT);
        FUZZ_ASSERT(m == NULL, "manifest returned with an error");
        return 0;
    }
    rc = manifest_validate(m, &err);
    FUZZ_ASSERT(rc == 0, "accepted manifest fails validation: %s", err.msg);

    char *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;
    rc = manifest_to_json(m, &text, &len, &err);
    FUZZ_ASSERT(rc == 0, "accepted manifest does not write: %s", err.msg);
    rc = manifest_from_json(text, len, &again, &err);
    FUZZ_ASSERT(rc == 0, "written manifest does not parse: %s\n%.2000s", err.msg, text);
    check_same(m, again, text);
    rc = manifest_to_json(again, &text2, &len2, &err);
    FUZZ_ASSERT(rc == 0 && len2 == len && memcmp(text, text2, len) == 0,
                "written twice, two texts:\n%.2000s\n%.2000s", text, text2 ? text2 : "");
    free(text);
    free(text2);
    manifest_free(m);
    manifest_free(again);
    return 0;
}
