/*
 * gen-manifest.c - fabricates a big backup for the memory benchmark (tests/bench/manifest.sh):
 * a copy of a real backup's manifest plus FILES more files, written as a new complete backup
 * of the same repository, so that info, verify --backup, expire --dry-run and restore run on a
 * manifest of a million files without a cluster of a million files.
 *
 *     gen-manifest REPO_DIR FROM_LABEL NEW_LABEL FILES
 *
 * The new files live under pgpitr_fab/ in the data directory (a directory PostgreSQL ignores),
 * a thousand a directory, named like relation files (16384, 16384_fsm, 16384.1, ...). Their
 * content is that of the smallest file of FROM_LABEL, so every one of them references that
 * file's object (deduplicated content, as pgpitr stores identical files): verify has one more
 * object to read, restore really writes every file. The header is FROM_LABEL's with the new
 * label, the totals grown, and no PostgreSQL backup_manifest (it would not list the new
 * files). Entries are written as text as they are made, in the layout the manifest writer
 * uses: the generator itself never holds them. Not part of pgpitr; built by `make bench`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/repo/manifest.h"
#include "pgpitr/storage/storage.h"

#define PER_DIR 1000
#define TAIL "\n  ]\n}\n"

static const ManifestEntry *smallest_file(const BackupManifest *m)
{
    const ManifestEntry *best = NULL;
    for (size_t i = 0; i < m->n_entries; i++) {
        const ManifestEntry *e = &m->entries[i];
        if (e->type == MANIFEST_FILE && e->object != NULL && (best == NULL || e->size < best->size))
            best = e;
    }
    return best;
}

static int put(StorageWriter *w, const char *text, size_t len, PgpErr *err)
{
    return storage_write(w, text, len, err);
}

/* The fabricated entries: a dir per PER_DIR files, then its files. */
static int write_entries(StorageWriter *w, const ManifestEntry *t, size_t files, PgpErr *err)
{
    static const char *const forks[] = {"", "_fsm", "_vm", ".1"};
    char line[1024];
    int n = snprintf(line, sizeof line, ",\n    {\"path\":\"pgpitr_fab\",\"tablespace\":0,"
                     "\"type\":\"dir\",\"mode\":\"0700\",\"mtime\":%" PRId64 "}", t->mtime);
    int rc = put(w, line, (size_t)n, err);
    for (size_t i = 0; rc == 0 && i < files; i++) {
        if (i % PER_DIR == 0) {
            n = snprintf(line, sizeof line, ",\n    {\"path\":\"pgpitr_fab/%05zu\","
                         "\"tablespace\":0,\"type\":\"dir\",\"mode\":\"0700\",\"mtime\":%"
                         PRId64 "}", i / PER_DIR, t->mtime);
            if ((rc = put(w, line, (size_t)n, err)) != 0)
                break;
        }
        n = snprintf(line, sizeof line, ",\n    {\"path\":\"pgpitr_fab/%05zu/%zu%s\","
                     "\"tablespace\":0,\"type\":\"file\",\"size\":%" PRIu64 ",\"mode\":\"0600\","
                     "\"mtime\":%" PRId64 ",\"sha256\":\"%s\",\"object\":\"%s\","
                     "\"stored_size\":%" PRIu64 "}", i / PER_DIR, 16384 + i / 4, forks[i % 4],
                     t->size, t->mtime, t->sha256, t->object, t->stored_size);
        rc = put(w, line, (size_t)n, err);
    }
    return rc;
}

static int generate(Storage *s, const char *from, const char *label, size_t files, PgpErr *err)
{
    BackupManifest *m = NULL;
    char *text = NULL, path[REPO_PATH_MAX];
    size_t len = 0;
    StorageWriter *w = NULL;
    int rc = manifest_load(s, NULL, from, &m, err);
    const ManifestEntry *t = rc == 0 ? smallest_file(m) : NULL;
    if (rc == 0 && t == NULL)
        rc = PGP_FAIL(err, PGP_ERR_USAGE, "backup \"%s\" has no file", from);
    if (rc == 0) {
        free(m->label);
        m->label = strdup(label);
        free(m->pg_manifest_object);
        m->pg_manifest_object = NULL;
        m->size += files * t->size;
        m->stored_size += files * t->stored_size;
        m->new_stored_size = 0;
        rc = manifest_to_json(m, &text, &len, err);
    }
    if (rc == 0 && (len < sizeof TAIL || strcmp(text + len - (sizeof TAIL - 1), TAIL) != 0))
        rc = PGP_FAIL(err, PGP_ERR_INTERNAL, "the manifest does not end as expected");
    if (rc == 0)
        rc = manifest_path(label, path, err);
    if (rc == 0)
        rc = storage_open_write(s, path, 0, &w, err);
    if (rc == 0)
        rc = put(w, text, len - (sizeof TAIL - 1), err);
    if (rc == 0)
        rc = write_entries(w, t, files, err);
    if (rc == 0)
        rc = put(w, TAIL, sizeof TAIL - 1, err);
    if (rc == 0) {
        rc = storage_writer_commit(w, err);
        w = NULL;
    }
    storage_writer_abort(w);
    free(text);
    manifest_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: gen-manifest REPO_DIR FROM_LABEL NEW_LABEL FILES\n");
        return 2;
    }
    char *end = NULL;
    unsigned long long files = strtoull(argv[4], &end, 10);
    if (*end != '\0' || files == 0) {
        fprintf(stderr, "gen-manifest: FILES must be a positive number\n");
        return 2;
    }
    Storage *s = NULL;
    PgpErr err;
    pgp_err_clear(&err);
    int rc = storage_posix_new(argv[1], false, &s, &err);
    if (rc == 0)
        rc = generate(s, argv[2], argv[3], (size_t)files, &err);
    storage_free(s);
    if (rc != 0) {
        fprintf(stderr, "gen-manifest: %s\n", err.msg);
        return 1;
    }
    return 0;
}
