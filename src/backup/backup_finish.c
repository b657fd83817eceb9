/*
 * backup_finish.c - cleaning after failed backups, checking against PostgreSQL's manifest,
 * waiting for the backup's WAL (see backup_finish.h).
 */
#include "pgpitr/backup/backup_finish.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/repo/object_refs.h"

/* ---- names in a directory --------------------------------------------------------------- */

typedef struct NameList {
    char **names;
    size_t n, cap;
    bool dirs_only;
} NameList;

static int collect_name(void *ud, const char *name, const StorageInfo *info, PgpErr *err)
{
    NameList *l = ud;
    if (l->dirs_only && !info->is_dir)
        return 0;
    if (GROW(l->names, l->n, l->cap, 64, "names", err) != 0)
        return PGP_ERR_NOMEM;
    if ((l->names[l->n] = strdup(name)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for name \"%s\"", name);
    l->n++;
    return 0;
}

static void names_free(NameList *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int list_names(Storage *s, const char *dir, bool dirs_only, NameList *l, PgpErr *err)
{
    memset(l, 0, sizeof *l);
    l->dirs_only = dirs_only;
    int rc = storage_list(s, dir, collect_name, l, err);
    if (rc != 0)
        names_free(l);
    return rc;
}

/* ---- cleaning --------------------------------------------------------------------------- */

static int join_path(char out[REPO_PATH_MAX], const char *dir, const char *name, PgpErr *err)
{
    int n = snprintf(out, REPO_PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= REPO_PATH_MAX)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "repository path \"%s/%s\" is too long", dir, name);
    return 0;
}

static int remove_tree(Storage *s, const char *dir, PgpErr *err)
{
    NameList l;
    int rc = list_names(s, dir, false, &l, err);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char path[REPO_PATH_MAX];
        StorageInfo info;
        rc = join_path(path, dir, l.names[i], err);
        if (rc == 0)
            rc = storage_stat(s, path, &info, err);
        if (rc == 0)
            rc = info.is_dir ? remove_tree(s, path, err) : storage_remove(s, path, err);
    }
    names_free(&l);
    if (rc == 0)
        rc = storage_remove(s, dir, err);
    return rc == PGP_ERR_NOT_FOUND ? 0 : rc;
}

/* Every object path referenced by a complete backup, each manifest streamed in turn (memory
 * grows with the distinct objects, not with every backup's entries). */
static int referenced_objects(Storage *s, const CryptoRepoKey *key, const NameList *labels,
                              ObjectRefs *refs, PgpErr *err)
{
    memset(refs, 0, sizeof *refs);
    for (size_t i = 0; i < labels->n; i++) {
        int rc = object_refs_add_backup(refs, s, key, labels->names[i], err);
        if (rc != 0 && rc != PGP_ERR_NOT_FOUND)
            return rc;
    }
    return 0;
}

static int remove_unreferenced(Storage *s, const ObjectRefs *refs, int *removed, PgpErr *err)
{
    NameList fan;
    int rc = list_names(s, REPO_LAYOUT_OBJECTS_DIR, true, &fan, err);
    for (size_t i = 0; rc == 0 && i < fan.n; i++) {
        char dir[REPO_PATH_MAX];
        NameList objs = {0};
        rc = join_path(dir, REPO_LAYOUT_OBJECTS_DIR, fan.names[i], err);
        if (rc == 0)
            rc = list_names(s, dir, false, &objs, err);
        for (size_t j = 0; rc == 0 && j < objs.n; j++) {
            char path[REPO_PATH_MAX];
            rc = join_path(path, dir, objs.names[j], err);
            if (rc != 0)
                break;
            if (object_refs_has(refs, path))
                continue;
            rc = storage_remove(s, path, err);
            if (rc == 0)
                (*removed)++;
        }
        names_free(&objs);
    }
    names_free(&fan);
    return rc;
}

int backup_clean_incomplete(Repo *repo, int *removed_backups, int *removed_objects, PgpErr *err)
{
    Storage *s = repo_storage(repo);
    *removed_backups = *removed_objects = 0;
    NameList labels;
    int rc = list_names(s, REPO_LAYOUT_BACKUP_DIR, true, &labels, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < labels.n; i++) {
        char path[REPO_PATH_MAX];
        StorageInfo info;
        rc = manifest_path(labels.names[i], path, err);
        if (rc == 0)
            rc = storage_stat(s, path, &info, err);
        if (rc != PGP_ERR_NOT_FOUND)
            continue;
        if ((rc = repo_backup_dir(labels.names[i], path, err)) != 0)
            break;
        log_warn("removing incomplete backup \"%s\" left by a failed or interrupted backup",
                 labels.names[i]);
        rc = remove_tree(s, path, err);
        if (rc == 0)
            (*removed_backups)++;
    }
    if (rc == 0 && *removed_backups > 0) {
        ObjectRefs refs;
        rc = referenced_objects(s, repo_crypto_key(repo), &labels, &refs, err);
        if (rc == 0)
            rc = remove_unreferenced(s, &refs, removed_objects, err);
        object_refs_free(&refs);
    }
    names_free(&labels);
    return rc;
}

/* ---- PostgreSQL's manifest -------------------------------------------------------------- */

/* The content of e against the checksum f lists: SHA-256 (what pgpitr asked for before, and
 * the content address anyway) or CRC-32C (what it asks for now: the cheapest checksum that
 * still covers every byte, so the walsender does not spend ~1 s per GB on SHA-256 that pgpitr
 * computes anyway). PostgreSQL writes the CRC's four bytes in its own memory order; both
 * orders are accepted, so a big-endian server's manifest checks too. */
static int check_checksum(const ManifestEntry *e, const PgManifestFile *f, const char *path,
                          PgpErr *err)
{
    char got[PIPE_SHA256_HEX_LEN + 1];
    switch (f->checksum_type) {
    case PG_MANIFEST_CHECKSUM_SHA256:
        /* A chunked entry's sha256 is its chunk list's: no whole-file SHA-256 is computed
         * (docs/chunking.md); backup asks for CRC32C, so only a server ignoring that gets here. */
        if (manifest_entry_chunked(e))
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\": backup_manifest has a SHA256 "
                            "checksum, which cannot be checked for a file stored as chunks "
                            "(expected CRC32C)", path);
        if (strcmp(f->checksum, e->sha256) == 0)
            return 0;
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\": received content has sha256 %s, "
                        "backup_manifest says SHA256 %s", path, e->sha256, f->checksum);
    case PG_MANIFEST_CHECKSUM_CRC32C:
        if (!e->has_crc32c)
            return PGP_FAIL(err, PGP_ERR_INTERNAL, "\"%s\": no crc32c computed for the check "
                            "against backup_manifest", path);
        pipe_crc32c_hex(e->crc32c, got);
        if (strcmp(f->checksum, got) == 0)
            return 0;
        pipe_crc32c_hex(__builtin_bswap32(e->crc32c), got);
        if (strcmp(f->checksum, got) == 0)
            return 0;
        pipe_crc32c_hex(e->crc32c, got);
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\": received content has crc32c %s, "
                        "backup_manifest says CRC32C %s", path, got, f->checksum);
    default:
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\": backup_manifest has a %s checksum, "
                        "which cannot be checked (expected CRC32C or SHA256)", path,
                        pg_manifest_checksum_name(f->checksum_type));
    }
}

/* The check of every received file against backup_manifest, one file of backup_manifest at a
 * time: the received files are indexed by their path in backup_manifest (4 bytes a file, no
 * copy of the paths), each listed file is found there, checked and marked. So a backup holds
 * its entries (packed) and the received text, not also a parsed copy of backup_manifest. */
typedef struct PgCheck {
    const BackupManifest *m;
    uint32_t *idx;              /* the file entries, by path in backup_manifest */
    size_t n;
    uint8_t *seen;              /* a bit a file of idx */
    size_t matched;
    bool failed;                /* the error is the check's, not the document's */
    char fail_msg[PGP_ERR_MSG_MAX];   /* the check's error (check_one_held) */
} PgCheck;

static const char *entry_path(const BackupManifest *m, size_t i, uint32_t *ts, bool *file)
{
    if (m->pack == NULL) {
        *ts = m->entries[i].tablespace;
        *file = m->entries[i].type == MANIFEST_FILE;
        return m->entries[i].path;
    }
    const ManifestPackItem *it = manifest_pack_at(m->pack, i);
    *ts = manifest_pack_item_tablespace(it);
    *file = manifest_pack_item_type(it) == MANIFEST_FILE;
    return manifest_pack_item_path(it);
}

/* Entry i's path as backup_manifest writes it (a tablespace's under pg_tblspc/<oid>/). */
static const char *pg_path(const BackupManifest *m, size_t i, char buf[4200])
{
    uint32_t ts;
    bool file;
    const char *p = entry_path(m, i, &ts, &file);
    if (ts == 0)
        return p;
    snprintf(buf, 4200, "pg_tblspc/%" PRIu32 "/%s", ts, p);
    return buf;
}

static int idx_cmp(const void *a, const void *b, void *ud)
{
    char x[4200], y[4200];
    return strcmp(pg_path(ud, *(const uint32_t *)a, x), pg_path(ud, *(const uint32_t *)b, y));
}

static int check_begin(PgCheck *c, const BackupManifest *m, PgpErr *err)
{
    *c = (PgCheck){.m = m};
    if (m->n_entries > UINT32_MAX)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "too many files to check");
    c->idx = malloc((m->n_entries + 1) * sizeof *c->idx);
    c->seen = calloc(m->n_entries / 8 + 1, 1);
    if (c->idx == NULL || c->seen == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m->n_entries; i++) {
        uint32_t ts;
        bool file;
        entry_path(m, i, &ts, &file);
        if (file)
            c->idx[c->n++] = (uint32_t)i;
    }
    qsort_r(c->idx, c->n, sizeof *c->idx, idx_cmp, (void *)m);
    return 0;
}

/* One file of backup_manifest: received with the same size and checksum, and only once. */
static int check_one(void *ud, const PgManifestFile *f, PgpErr *err)
{
    PgCheck *c = ud;
    c->failed = true;
    size_t lo = 0, hi = c->n;
    char buf[4200];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(f->path, pg_path(c->m, c->idx[mid], buf));
        if (r == 0) {
            lo = mid;
            break;
        }
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo >= hi) {   /* not received: counted, reported after */
        c->failed = false;
        return 0;
    }
    if (c->seen[lo / 8] & (1u << (lo % 8)))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "invalid backup manifest: duplicate path \"%s\"",
                        f->path);
    c->seen[lo / 8] |= (uint8_t)(1u << (lo % 8));
    ManifestUnpacked u;
    const ManifestEntry *e = manifest_entry_at(c->m, c->idx[lo], &u);
    if (f->size != e->size)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "\"%s\": received %" PRIu64 " bytes, backup_manifest says %" PRIu64,
                        f->path, e->size, f->size);
    int rc = check_checksum(e, f, f->path, err);
    c->failed = rc != 0;
    c->matched++;
    return rc;
}

/* check_one's error is held until the document parsed (pgmanifest.h): the one returned is the
 * check's only if it is that one, else the document's. */
static int check_one_held(void *ud, const PgManifestFile *f, PgpErr *err)
{
    PgCheck *c = ud;
    int rc = check_one(ud, f, err);
    if (rc != 0 && c->failed)
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s", err->msg);
    return rc;
}

/* After every file of backup_manifest (listed of them): each received file was listed. */
static int check_end(PgCheck *c, size_t listed, PgpErr *err)
{
    c->failed = true;
    char buf[4200];
    for (size_t k = 0; k < c->n; k++)
        if (!(c->seen[k / 8] & (1u << (k % 8))))
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" was received but is not in the "
                            "server's backup_manifest", pg_path(c->m, c->idx[k], buf));
    if (c->matched != listed)
        return PGP_FAIL(err, PGP_ERR_CORRUPT,
                        "backup_manifest lists %zu files but %zu were received", listed,
                        c->matched);
    return 0;
}

int backup_check_pg_manifest(const BackupManifest *m, const PgManifest *pg, PgpErr *err)
{
    PgCheck c;
    int rc = check_begin(&c, m, err);
    for (size_t i = 0; rc == 0 && i < pg->n_files; i++)
        rc = check_one(&c, &pg->files[i], err);
    if (rc == 0)
        rc = check_end(&c, pg->n_files, err);
    free(c.idx);
    free(c.seen);
    return rc;
}

int backup_check_pg_manifest_stream(const BackupManifest *m, PgManifestReadFn rd, void *rd_ud,
                                    PgpErr *err)
{
    PgCheck c;
    PgManifest *pg = NULL;
    int rc = check_begin(&c, m, err);
    if (rc == 0 && (rc = pg_manifest_read_each(rd, rd_ud, check_one_held, &c, &pg, err)) ==
                       PGP_ERR_CORRUPT && strcmp(err->msg, c.fail_msg) != 0)
        pgp_err_context(err, "the server's backup_manifest is invalid");
    if (rc == 0)
        rc = check_end(&c, pg->n_files, err);
    pg_manifest_free(pg);
    free(c.idx);
    free(c.seen);
    return rc;
}

/* ---- WAL -------------------------------------------------------------------------------- */

/* The backup's last segment is switched as the stream ends and archive_command usually has it
 * in the repository within tens of milliseconds: a first look after 10 ms, then twice as long
 * each time up to 200 ms (on S3 each look is a request). A fixed 200 ms cost a full backup
 * about 0.1 s on average for nothing. */
#define WAIT_WAL_PAUSE_MIN_MS 10
#define WAIT_WAL_PAUSE_MAX_MS 200

int backup_wait_wal(Repo *repo, uint32_t tli, uint64_t start_lsn, uint64_t stop_lsn,
                    int timeout_s, const char *archiver, PgpErr *err)
{
    const RepoIdentity *id = repo_identity(repo);
    if (id == NULL)
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "repository is not bound to a cluster");
    uint32_t segsize = id->wal_segsize;
    uint64_t first = pg_lsn_segno(start_lsn, segsize);
    /* The last byte the backup needs is stop_lsn - 1. */
    uint64_t last = pg_lsn_segno(stop_lsn > start_lsn ? stop_lsn - 1 : stop_lsn, segsize);
    time_t deadline = time(NULL) + timeout_s;
    long pause_ms = WAIT_WAL_PAUSE_MIN_MS;
    for (uint64_t seg = first; seg <= last;) {
        char name[PG_WALNAME_SEG_LEN + 1];
        pg_walname_format(tli, seg, segsize, name);
        RepoArchiveObject obj;
        int rc = repo_archive_find(repo, name, &obj, err);
        if (rc == 0) {
            seg++;
            continue;
        }
        if (rc != PGP_ERR_NOT_FOUND)
            return rc;
        if (time(NULL) >= deadline) {
            PGP_FAIL(err, PGP_ERR_NOT_FOUND,
                     "WAL segment %s needed by the backup did not reach the archive within %d s",
                     name, timeout_s);
            pgp_err_hint(err, "check archive_mode, archive_command and pg_stat_archiver on %s; "
                         "the backup is not usable without its WAL", archiver);
            return PGP_ERR_NOT_FOUND;
        }
        struct timespec ts = {0, pause_ms * 1000 * 1000};
        nanosleep(&ts, NULL);
        pause_ms = pause_ms * 2 > WAIT_WAL_PAUSE_MAX_MS ? WAIT_WAL_PAUSE_MAX_MS : pause_ms * 2;
    }
    return 0;
}
