/*
 * restore_delta.c - restoring over an existing data directory (--delta) and rewriting
 * tablespace_map for relocated tablespaces (restore_delta.h, restore_file_delta of
 * restore_files.h).
 *
 * A delta restore keeps a file only when its size and SHA-256 equal the backup's: the hash of
 * the existing file is computed (mtime and size alone say nothing about content after a crash
 * or a copy). A file stored as chunks is compared chunk by chunk instead, and only the chunks
 * that differ are fetched and written in place (restore_file_chunks_delta, restore_chunks.c).
 * Everything else the backup does not have goes, pg_wal's contents included, so the result is
 * the same directory a fresh restore would write. restore.c removes
 * global/pg_control before any of this, so a delta restore that stops half way leaves a
 * directory PostgreSQL refuses to start.
 */
#include "pgpitr/restore/restore_delta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/restore/restore_files.h"

#define HASH_CHUNK (1u << 20)
#define TS_MAP_MAX ((size_t)1 << 20)

/* ---- the per-file check ------------------------------------------------------------------ */

/* Hashes the open file; on a match sets mode and mtime and fsyncs (if asked). */
static int check_existing(int fd, const ManifestEntry *e, const RestoreFileOptions *opt,
                          bool *same, PgpErr *err)
{
    PipeFilter *sha = NULL;
    uint8_t *buf = malloc(HASH_CHUNK);
    uint64_t total = 0;
    *same = false;
    int rc = buf != NULL ? pipe_sha256_new((PipeSink){NULL, NULL}, &sha, err)
                         : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    while (rc == 0) {
        ssize_t n = read(fd, buf, HASH_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot read the existing file");
        if (n <= 0)
            break;
        total += (uint64_t)n;
        rc = pipe_filter_push(sha, buf, (size_t)n, err);
    }
    if (rc == 0)
        rc = pipe_filter_finish(sha, err);
    if (rc == 0 && total == e->size) {
        uint8_t digest[PIPE_SHA256_LEN];
        char hex[PIPE_SHA256_HEX_LEN + 1];
        pipe_sha256_result(sha, digest);
        pipe_hex(digest, sizeof digest, hex);
        *same = strcmp(hex, e->sha256) == 0;
    }
    struct timespec ts[2] = {{.tv_sec = e->mtime}, {.tv_sec = e->mtime}};
    if (rc == 0 && *same && fchmod(fd, (mode_t)(e->mode & 07777)) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot set mode %04o", (unsigned)(e->mode & 07777));
    if (rc == 0 && *same && futimens(fd, ts) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot set the modification time");
    if (rc == 0 && *same && opt->sync && fsync(fd) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot fsync");
    pipe_filter_free(sha);
    free(buf);
    return rc;
}

int restore_file_delta(Storage *s, const ManifestEntry *e, const char *dest,
                       const RestoreFileOptions *opt, RestoreFileResult *res, bool *kept,
                       PgpErr *err)
{
    static const RestoreFileOptions defaults = {0};
    opt = opt != NULL ? opt : &defaults;
    memset(res, 0, sizeof *res);
    *kept = false;
    struct stat st;
    if (lstat(dest, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return PGP_FAIL(err, PGP_ERR_USAGE, "\"%s\" is a directory where the backup has a file",
                            dest);
        if (S_ISREG(st.st_mode) && manifest_entry_chunked(e))
            return restore_file_chunks_delta(s, e, dest, opt, res, kept, err);
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size == e->size) {
            int fd = open(dest, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0)
                return PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", dest);
            bool same = false;
            int rc = check_existing(fd, e, opt, &same, err);
            close(fd);
            if (rc != 0)
                return pgp_err_context(err, "\"%s\"", dest);
            if (same) {
                *kept = true;
                res->in_place = e->size;
                if (opt->bytes_done != NULL)
                    atomic_fetch_add_explicit(opt->bytes_done, e->size, memory_order_relaxed);
                return 0;
            }
        }
        if (unlink(dest) != 0 && errno != ENOENT)
            return PGP_FAIL_SYS(err, errno, "cannot remove \"%s\"", dest);
    } else if (errno != ENOENT) {
        return PGP_FAIL_SYS(err, errno, "cannot check \"%s\"", dest);
    }
    return restore_file(s, e, dest, opt, res, err);
}

/* ---- clearing what the backup does not have ---------------------------------------------- */

static int expected_cmp(const void *a, const void *b)
{
    return strcmp(((const RestoreExpected *)a)->path, ((const RestoreExpected *)b)->path);
}

void restore_expected_sort(RestoreExpected *v, size_t n)
{
    if (n > 1)
        qsort(v, n, sizeof *v, expected_cmp);
}

static const RestoreExpected *expected(const RestoreExpected *v, size_t n, const char *path)
{
    RestoreExpected key = {.path = path};
    return n > 0 ? bsearch(&key, v, n, sizeof *v, expected_cmp) : NULL;
}

typedef struct Names {
    char **v;
    size_t n, cap;
} Names;

static void names_free(Names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* The entries of dir (without . and ..), read before anything in it is removed. */
static int read_names(const char *dir, Names *out, bool *missing, PgpErr *err)
{
    memset(out, 0, sizeof *out);
    *missing = false;
    DIR *d = opendir(dir);
    if (d == NULL) {
        *missing = errno == ENOENT;
        return *missing ? 0 : PGP_FAIL_SYS(err, errno, "cannot open directory \"%s\"", dir);
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((rc = GROW(out->v, out->n, out->cap, 32, NULL, err)) != 0)
            break;
        if ((out->v[out->n] = strdup(de->d_name)) == NULL)
            rc = PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        else
            out->n++;
    }
    closedir(d);
    if (rc != 0) {
        names_free(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int restore_rm_tree(const char *path, PgpErr *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : PGP_FAIL_SYS(err, errno, "cannot check \"%s\"", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return PGP_FAIL_SYS(err, errno, "cannot remove \"%s\"", path);
        return 0;
    }
    Names l;
    bool missing;
    int rc = read_names(path, &l, &missing, err);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char *child = restore_path_join(path, l.v[i]);
        rc = child != NULL ? restore_rm_tree(child, err)
                           : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        free(child);
    }
    names_free(&l);
    if (rc == 0 && rmdir(path) != 0 && errno != ENOENT)
        rc = PGP_FAIL_SYS(err, errno, "cannot remove directory \"%s\"", path);
    return rc;
}

typedef struct Clean {
    const RestoreExpected *v;
    size_t n;
    bool keep_unknown_top;
    uint64_t *removed;
} Clean;

static int clean_entry(const Clean *c, const char *path, bool top, PgpErr *err);

static int clean_dir(const Clean *c, const char *dir, bool top, PgpErr *err)
{
    Names l;
    bool missing;
    int rc = read_names(dir, &l, &missing, err);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        char *path = restore_path_join(dir, l.v[i]);
        rc = path != NULL ? clean_entry(c, path, top, err)
                          : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        free(path);
    }
    names_free(&l);
    return rc;
}

static int clean_entry(const Clean *c, const char *path, bool top, PgpErr *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : PGP_FAIL_SYS(err, errno, "cannot check \"%s\"", path);
    const RestoreExpected *e = expected(c->v, c->n, path);
    if (e == NULL && top && c->keep_unknown_top) {
        log_warn("leaving \"%s\" alone: the backup has nothing there (another cluster's?)", path);
        return 0;
    }
    if (e == NULL) {
        (*c->removed)++;
        return restore_rm_tree(path, err);
    }
    if (e->type == MANIFEST_DIR && S_ISDIR(st.st_mode))
        return clean_dir(c, path, false, err);
    if (e->type == MANIFEST_FILE && S_ISREG(st.st_mode))
        return 0;
    return restore_rm_tree(path, err); /* other type, or a symlink: the restore makes it anew */
}

int restore_delta_clean(const char *root, const RestoreExpected *expect, size_t n,
                        bool keep_unknown_top, uint64_t *removed, PgpErr *err)
{
    Clean c = {.v = expect, .n = n, .keep_unknown_top = keep_unknown_top, .removed = removed};
    return clean_dir(&c, root, true, err);
}

/* ---- tablespace_map ---------------------------------------------------------------------- */

/* "<oid> " at the start of a line: the oid, else 0. */
static uint32_t line_oid(const char *p, size_t len)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && i < 11 && p[i] >= '0' && p[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(p[i] - '0');
    return i > 0 && i < len && p[i] == ' ' && v <= UINT32_MAX ? (uint32_t)v : 0;
}

int restore_tablespace_map_text(const char *in, size_t len, const RestoreTsRelocation *rel,
                                size_t n, char **out, PgpErr *err)
{
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    if (f == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        bool esc = false;
        for (; i < len && (esc || (in[i] != '\n' && in[i] != '\r')); i++)
            esc = !esc && in[i] == '\\';
        uint32_t oid = line_oid(in + start, i - start);
        const RestoreTsRelocation *r = NULL;
        for (size_t k = 0; oid != 0 && k < n && r == NULL; k++)
            r = rel[k].oid == oid ? &rel[k] : NULL;
        if (r == NULL) {
            fwrite(in + start, 1, i - start, f);
        } else {
            fprintf(f, "%u ", (unsigned)oid);
            for (const char *p = r->path; *p; p++) {
                if (*p == '\n' || *p == '\r' || *p == '\\')
                    fputc('\\', f);
                fputc(*p, f);
            }
        }
        if (i < len)
            fputc(in[i++], f);
    }
    if (fclose(f) != 0) {
        free(text);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    *out = text;
    return 0;
}

static int read_small(const char *path, char **out, size_t *len, PgpErr *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", path);
    char *buf = malloc(TS_MAP_MAX + 1);
    size_t used = 0;
    int rc = buf != NULL ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    while (rc == 0) {
        ssize_t r = read(fd, buf + used, TS_MAP_MAX + 1 - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot read \"%s\"", path);
        else if ((used += (size_t)r) > TS_MAP_MAX)
            rc = PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" is larger than %zu bytes", path, TS_MAP_MAX);
        if (r <= 0)
            break;
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = used;
    return 0;
}

int restore_tablespace_map_rewrite(const char *path, const RestoreTsRelocation *rel, size_t n,
                                   PgpErr *err)
{
    char *in = NULL, *text = NULL, *dir = strdup(path);
    size_t len = 0;
    char *slash = dir != NULL ? strrchr(dir, '/') : NULL;
    if (slash == NULL) {
        free(dir);
        return PGP_FAIL(err, dir == NULL ? PGP_ERR_NOMEM : PGP_ERR_INTERNAL,
                        "cannot rewrite \"%s\"", path);
    }
    *slash = '\0';
    int rc = read_small(path, &in, &len, err);
    if (rc == 0)
        rc = restore_tablespace_map_text(in, len, rel, n, &text, err);
    if (rc == 0)
        rc = restore_write_small(dir, slash + 1, text, false, err);
    free(in);
    free(text);
    free(dir);
    return rc;
}
