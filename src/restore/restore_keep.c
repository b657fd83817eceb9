/*
 * restore_keep.c - `restore --delta --keep-old DIR` (restore_keep.h): DIR is checked and
 * locked with the destination, then filled with a complete, durable copy of what the delta restore
 * may change, before the restore changes anything, with the README that explains it and the
 * undo.sh that puts it back. Writes only into DIR.
 *
 * Why a copy and not rename() into DIR or hard links: a delta restore keeps every file that
 * matches the backup where it is, and the restored server then writes into those files in
 * place (a hard link would change with them); moving them out would make the restore fetch
 * them from the repository again. The copy goes through copy_file_range(), which clones
 * extents on file systems that can (XFS, Btrfs) and copies in the kernel elsewhere.
 *
 * Why the whole copy before the first change, rather than each entry just before it is
 * removed: at any instant the target is either untouched (state "copying") or fully kept
 * (state "kept"), so a kill -9, a full disk or any error leaves either nothing to undo or a
 * complete copy, and the undo never has to merge two half states.
 */
#include "pgpitr/restore/restore_keep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/grow.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/timefmt.h"
#include "pgpitr/restore/restore_copy.h"
#include "pgpitr/restore/restore_delta.h"
#include "pgpitr/restore/restore_guard.h"
#include "pgpitr/restore/restore_keep_undo.h"

#define KEEP_STATE "keep-old.json"
#define KEEP_UNDO "undo.sh"
#define KEEP_README "README"
#define KEEP_DATA_DIR "pgdata"
#define KEEP_TS_DIR "tablespaces"

typedef struct KeepNames {
    char **v;
    size_t n, cap;
} KeepNames;

/* What DIR held when it was opened. */
typedef enum {
    KEEP_NEW = 0,                       /* nothing: copy */
    KEEP_COPYING,                       /* our unfinished copy (the destination untouched): again */
    KEEP_KEPT,                          /* our complete copy, the restore interrupted: use it */
} KeepStart;

typedef struct KeepRoot {
    char *path;                         /* the data directory (oid 0) or a tablespace location */
    uint32_t oid;
    char saved[32];                     /* where in DIR: "pgdata", "tablespaces/<oid>" */
    KeepNames backup;                   /* tablespace: the names the backup has at its top */
    KeepNames kept;                     /* the names copied: all (data directory), or those of
                                           backup that were there */
    KeepNames absent;                   /* tablespace: names of backup that were not there */
    mode_t mode;                        /* of the root when opened (the restore makes it 0700) */
} KeepRoot;

struct RestoreKeep {
    char *dir;                          /* absolute */
    bool created;                       /* by restore_keep_open */
    bool kept;                          /* the copy is complete ("kept") */
    KeepStart start;
    char started[32];                   /* when the copy began, UTC */
    KeepRoot *roots;                    /* [0]: the data directory */
    size_t n_roots;
    RestoreLocks locks;
    const RestoreKeepCopyOptions *opt;
    RestoreCopy copy;
    uint64_t files, bytes, avail;       /* what the copy holds; free space in DIR */
    struct timespec t0;
};

/* What this module writes into DIR; keep-old.json last (see clear_ours). */
static const char *const our_names[] = {KEEP_DATA_DIR, KEEP_TS_DIR, KEEP_README, KEEP_UNDO,
                                        "." KEEP_README ".tmp", "." KEEP_UNDO ".tmp",
                                        "." KEEP_STATE ".tmp", KEEP_STATE};

/* ---- names ----------------------------------------------------------------------------------- */

static int keep_names_add(KeepNames *l, const char *name, PgpErr *err)
{
    if (GROW(l->v, l->n, l->cap, 16, NULL, err) != 0)
        return PGP_ERR_NOMEM;
    if ((l->v[l->n] = strdup(name)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    l->n++;
    return 0;
}

static bool keep_names_has(const KeepNames *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return true;
    return false;
}

static void keep_names_free(KeepNames *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of the directory at path, sorted; a missing directory has none. */
static int list_dir(const char *path, KeepNames *out, PgpErr *err)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return errno == ENOENT ? 0 : PGP_FAIL_SYS(err, errno, "cannot open directory \"%s\"", path);
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            rc = keep_names_add(out, de->d_name, err);
    closedir(d);
    if (rc == 0 && out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, name_cmp);
    return rc;
}

/* ---- the state file ---------------------------------------------------------------------- */

static json_t *state_json(const RestoreKeep *k, const char *state)
{
    json_t *roots = json_array();
    for (size_t i = 0; roots != NULL && i < k->n_roots; i++) {
        const KeepRoot *r = &k->roots[i];
        if (json_array_append_new(roots, json_pack("{s:I, s:s, s:s}", "oid", (json_int_t)r->oid,
                                                   "path", r->path, "saved", r->saved)) != 0) {
            json_decref(roots);
            return NULL;
        }
    }
    return roots == NULL ? NULL
                         : json_pack("{s:i, s:s, s:s, s:o}", "format", 1, "state", state,
                                     "started", k->started, "roots", roots);
}

static int keep_write_file(const char *dir, const char *name, const char *text, mode_t mode,
                           PgpErr *err)
{
    char *tmp = NULL, *path = NULL;
    if (asprintf(&tmp, "%s/.%s.tmp", dir, name) < 0 || asprintf(&path, "%s/%s", dir, name) < 0) {
        free(tmp);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    int e = fd < 0 ? errno : 0;
    for (size_t len = strlen(text); e == 0 && len > 0;) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            e = n < 0 ? errno : ENOSPC; /* a write of 0 bytes means the disk is full */
        else
            text += n, len -= (size_t)n;
    }
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    if (fd >= 0 && close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    int rc = e == 0 ? restore_fsync_dir(dir, err) : PGP_FAIL_SYS(err, e, "cannot write \"%s\"", path);
    if (e != 0 && fd >= 0)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

static int write_state(RestoreKeep *k, const char *state, PgpErr *err)
{
    json_t *j = state_json(k, state);
    char *text = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (text == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = keep_write_file(k->dir, KEEP_STATE, text, 0600, err);
    free(text);
    return rc;
}

/* The copy in DIR is of the same destination: the same data directory and tablespace locations. */
static bool same_roots(const RestoreKeep *k, json_t *roots)
{
    if (!json_is_array(roots) || json_array_size(roots) != k->n_roots)
        return false;
    for (size_t i = 0; i < k->n_roots; i++) {
        bool found = false;
        size_t j;
        json_t *r;
        json_array_foreach(roots, j, r) {
            json_t *oid = json_object_get(r, "oid"), *path = json_object_get(r, "path");
            found = found || (json_is_integer(oid) && json_is_string(path) &&
                              json_integer_value(oid) == (json_int_t)k->roots[i].oid &&
                              strcmp(json_string_value(path), k->roots[i].path) == 0);
        }
        if (!found)
            return false;
    }
    return true;
}

/* DIR holds keep-old.json: an interrupted --keep-old of this destination is taken over. */
static int take_over(RestoreKeep *k, PgpErr *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", k->dir, KEEP_STATE) < 0)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    free(path);
    json_t *state = json_object_get(j, "state"), *started = json_object_get(j, "started");
    int rc = 0;
    if (!json_is_string(state) || !json_is_string(started) ||
        json_integer_value(json_object_get(j, "format")) != 1) {
        rc = PGP_FAIL(err, PGP_ERR_USAGE, "keep-old directory \"%s\" is not empty, and its %s "
                      "cannot be read", k->dir, KEEP_STATE);
        pgp_err_hint(err, "give --keep-old a new or empty directory");
    } else if (!same_roots(k, json_object_get(j, "roots"))) {
        rc = PGP_FAIL(err, PGP_ERR_USAGE, "keep-old directory \"%s\" holds the copy kept by "
                      "another restore, not one of \"%s\"", k->dir, k->roots[0].path);
        pgp_err_hint(err, "give --keep-old a new or empty directory");
    } else {
        const char *s = json_string_value(state);
        snprintf(k->started, sizeof k->started, "%s", json_string_value(started));
        if (strcmp(s, "copying") == 0) {
            k->start = KEEP_COPYING;
        } else if (strcmp(s, "kept") == 0) {
            k->start = KEEP_KEPT;
        } else {
            rc = PGP_FAIL(err, PGP_ERR_USAGE, "keep-old directory \"%s\" already holds the "
                          "directory as it was before the restore of %s (state \"%s\")", k->dir,
                          k->started, s);
            pgp_err_hint(err, "to keep the directory as it is now as well, give --keep-old a new "
                         "or empty directory (this one still holds the older copy)");
        }
    }
    json_decref(j);
    return rc;
}

/* ---- opening ------------------------------------------------------------------------------- */

static char *absolute_dir(const char *dir)
{
    char *out = NULL;
    if (dir[0] == '/') {
        out = strdup(dir);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (cwd != NULL && asprintf(&out, "%s/%s", cwd, dir) < 0)
            out = NULL;
        free(cwd);
    }
    for (size_t n = out != NULL ? strlen(out) : 0; n > 1 && out[n - 1] == '/';)
        out[--n] = '\0';
    return out;
}

/* The first component of each path the backup has in tablespace oid: what a delta restore may
 * change in that location (it leaves every other entry there alone). */
static int backup_names(const ManifestPack *files, uint32_t oid, KeepNames *out, PgpErr *err)
{
    int rc = 0;
    for (size_t i = 0; i < manifest_pack_count(files) && rc == 0; i++) {
        const ManifestPackItem *e = manifest_pack_at(files, i);
        if (manifest_pack_item_tablespace(e) != oid)
            continue;
        const char *path = manifest_pack_item_path(e);
        char *top = strndup(path, strcspn(path, "/"));
        if (top == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        if (!keep_names_has(out, top))
            rc = keep_names_add(out, top, err);
        free(top);
    }
    return rc;
}

static int roots_init(RestoreKeep *k, const RestoreDest *t, const ManifestPack *files,
                      PgpErr *err)
{
    if ((k->roots = calloc(t->n_ts + 1, sizeof *k->roots)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i <= t->n_ts; i++) {
        KeepRoot *r = &k->roots[k->n_roots++];
        r->oid = i == 0 ? 0 : t->ts[i - 1].oid;
        r->path = strdup(i == 0 ? t->pgdata : t->ts[i - 1].path);
        if (r->path == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        struct stat st; /* now: taking the destination makes it 0700 */
        r->mode = stat(r->path, &st) == 0 ? st.st_mode & 07777 : 0700;
        if (i == 0)
            snprintf(r->saved, sizeof r->saved, "%s", KEEP_DATA_DIR);
        else
            snprintf(r->saved, sizeof r->saved, "%s/%u", KEEP_TS_DIR, (unsigned)r->oid);
        int rc = i == 0 ? 0 : backup_names(files, r->oid, &r->backup, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* DIR may be neither in the destination nor hold it, nor belong to a running server. */
static int check_place(const RestoreKeep *k, PgpErr *err)
{
    for (size_t i = 0; i < k->n_roots; i++) {
        const KeepRoot *r = &k->roots[i];
        if (!restore_paths_overlap(k->dir, r->path) &&
            restore_dir_relation(k->dir, r->path) == RESTORE_DIR_UNRELATED &&
            restore_dir_relation(r->path, k->dir) == RESTORE_DIR_UNRELATED)
            continue;
        char what[64] = "target directory";
        if (r->oid != 0)
            snprintf(what, sizeof what, "tablespace %u location", (unsigned)r->oid);
        PGP_FAIL(err, PGP_ERR_USAGE, "keep-old directory \"%s\" overlaps the %s \"%s\"", k->dir,
                 what, r->path);
        pgp_err_hint(err, "give --keep-old a directory outside the data directory and the "
                     "tablespace locations: a delta restore removes what the backup does not "
                     "have there");
        return PGP_ERR_USAGE;
    }
    RestoreLive live;
    int rc = restore_live_scan("/proc", &live, err);
    if (rc == 0 && (rc = restore_live_check(&live, k->dir, "keep-old directory", err)) != 0)
        pgp_err_hint(err, "give --keep-old a directory no running server uses");
    restore_live_free(&live);
    return rc;
}

/* DIR made if missing, locked, then what is in it decides: empty, or our own interrupted copy
 * of this very destination. */
static int take_dir(RestoreKeep *k, PgpErr *err)
{
    int rc = restore_lock_probe(k->dir, "keep-old directory", err);
    if (rc != 0)
        return rc;
    if (mkdir(k->dir, 0700) == 0) {
        k->created = true;
        char *slash = strrchr(k->dir, '/'); /* its entry in the parent is durable too */
        *slash = '\0';
        rc = restore_fsync_dir(slash == k->dir ? "/" : k->dir, err);
        *slash = '/';
        if (rc != 0)
            return rc;
    } else if (errno != EEXIST) {
        return PGP_FAIL_SYS(err, errno, "cannot create keep-old directory \"%s\"", k->dir);
    }
    struct stat st;
    if (stat(k->dir, &st) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot check keep-old directory \"%s\"", k->dir);
    if (!S_ISDIR(st.st_mode))
        return PGP_FAIL(err, PGP_ERR_USAGE, "keep-old directory \"%s\" exists and is not a "
                        "directory", k->dir);
    if ((rc = restore_lock_dir(&k->locks, k->dir, "keep-old directory", err)) != 0)
        return rc;
    KeepNames l = {0};
    rc = list_dir(k->dir, &l, err);
    if (rc == 0 && keep_names_has(&l, KEEP_STATE)) {
        rc = take_over(k, err);
    } else if (rc == 0 && l.n > 0) {
        rc = PGP_FAIL(err, PGP_ERR_USAGE, "keep-old directory \"%s\" is not empty (it contains "
                      "\"%s\")", k->dir, l.v[0]);
        pgp_err_hint(err, "give --keep-old a new or empty directory");
    }
    keep_names_free(&l);
    if (rc == 0 && (st.st_mode & 077) != 0 && chmod(k->dir, 0700) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot set the mode of \"%s\" to 0700", k->dir);
    return rc;
}

int restore_keep_open(const char *dir, const RestoreDest *t, const ManifestPack *files,
                      RestoreKeep **out, PgpErr *err)
{
    *out = NULL;
    RestoreKeep *k = calloc(1, sizeof *k);
    if (k == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = (k->dir = absolute_dir(dir)) != NULL ? roots_init(k, t, files, err)
                                                   : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    json_t *probe = rc == 0 ? state_json(k, "copying") : NULL;
    if (rc == 0 && probe == NULL) /* jansson takes UTF-8 only */
        rc = PGP_FAIL(err, PGP_ERR_USAGE, "--keep-old works only where the data directory, the "
                      "tablespace locations and DIR are UTF-8 paths");
    json_decref(probe);
    if (rc == 0)
        rc = check_place(k, err);
    if (rc == 0)
        rc = take_dir(k, err);
    if (rc != 0) {
        restore_keep_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

const char *restore_keep_dir(const RestoreKeep *k)
{
    return k->dir;
}

/* ---- copying ------------------------------------------------------------------------------- */

static int mkdir_in(const char *dir, const char *rel, PgpErr *err)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, rel) < 0)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = mkdir(p, 0700) == 0 ? 0 : PGP_FAIL_SYS(err, errno, "cannot create \"%s\"", p);
    free(p);
    return rc;
}

static int fsync_in(const char *dir, const char *rel, PgpErr *err)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, rel) < 0)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    int rc = restore_fsync_dir(p, err);
    free(p);
    return rc;
}

/* Every kept entry of every root into DIR (count_only: counted instead). */
static int copy_roots(RestoreKeep *k, bool count_only, PgpErr *err)
{
    int rc = 0;
    if (!count_only && k->n_roots > 1)
        rc = mkdir_in(k->dir, KEEP_TS_DIR, err);
    for (size_t i = 0; i < k->n_roots && rc == 0; i++) {
        const KeepRoot *r = &k->roots[i];
        char *saved = NULL;
        int sfd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), dfd = -1;
        if (sfd < 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot open directory \"%s\"", r->path);
        if (rc == 0 && !count_only && (rc = mkdir_in(k->dir, r->saved, err)) == 0) {
            if (asprintf(&saved, "%s/%s", k->dir, r->saved) < 0)
                saved = NULL;
            dfd = saved != NULL ? open(saved, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
            if (dfd < 0)
                rc = PGP_FAIL_SYS(err, saved != NULL ? errno : ENOMEM, "cannot open \"%s\"",
                                  saved != NULL ? saved : r->saved);
        }
        for (size_t j = 0; j < r->kept.n && rc == 0; j++) {
            char *path = NULL;
            rc = asprintf(&path, "%s/%s", r->path, r->kept.v[j]) < 0
                     ? PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory")
                     : restore_copy_entry(&k->copy, sfd, dfd, r->kept.v[j], path, err);
            free(path);
        }
        if (rc == 0 && dfd >= 0 && fsync(dfd) != 0)
            rc = PGP_FAIL_SYS(err, errno, "cannot fsync directory \"%s\"", saved);
        if (dfd >= 0)
            close(dfd);
        if (sfd >= 0)
            close(sfd);
        free(saved);
    }
    if (rc == 0 && !count_only && k->n_roots > 1)
        rc = fsync_in(k->dir, KEEP_TS_DIR, err);
    if (rc == 0 && !count_only)
        rc = restore_fsync_dir(k->dir, err);
    return rc;
}

/* What the restore may change in each root. */
static int inventory(RestoreKeep *k, PgpErr *err)
{
    for (size_t i = 0; i < k->n_roots; i++) {
        KeepRoot *r = &k->roots[i];
        KeepNames l = {0};
        int rc = list_dir(r->path, &l, err);
        for (size_t j = 0; rc == 0 && j < (r->oid == 0 ? l.n : r->backup.n); j++) {
            const char *n = r->oid == 0 ? l.v[j] : r->backup.v[j];
            rc = r->oid == 0 || keep_names_has(&l, n) ? keep_names_add(&r->kept, n, err)
                                                      : keep_names_add(&r->absent, n, err);
        }
        if (rc == 0 && r->oid == 0 && l.n > 0 && !keep_names_has(&l, "global"))
            log_warn("\"%s\" has no global directory (an interrupted restore?): --keep-old keeps "
                     "it as it is", r->path);
        keep_names_free(&l);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Removes what this module writes into DIR (all of it ours: DIR was empty, or held our own
 * unfinished copy); keep-old.json goes last, so an interrupted removal is still ours. */
static int clear_ours(RestoreKeep *k, PgpErr *err)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof our_names / sizeof our_names[0] && rc == 0; i++) {
        char *p = NULL;
        rc = asprintf(&p, "%s/%s", k->dir, our_names[i]) < 0
                 ? PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory") : restore_rm_tree(p, err);
        free(p);
    }
    return rc == 0 ? restore_fsync_dir(k->dir, err) : rc;
}

static int check_room(RestoreKeep *k, PgpErr *err)
{
    struct statvfs vfs;
    if (statvfs(k->dir, &vfs) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot check the free space of \"%s\"", k->dir);
    k->avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    if (k->avail >= k->bytes)
        return 0;
    return PGP_FAIL(err, PGP_ERR_NO_SPACE, "keep-old directory \"%s\" has %.1f MiB free, the "
                    "copy needs %.1f MiB", k->dir, (double)k->avail / 1048576.0,
                    (double)k->bytes / 1048576.0);
}

/* README and undo.sh, from the inventory. */
static int write_texts(RestoreKeep *k, PgpErr *err)
{
    RestoreKeepUndoRoot *u = calloc(k->n_roots, sizeof *u);
    if (u == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < k->n_roots; i++) {
        const KeepRoot *r = &k->roots[i];
        u[i] = (RestoreKeepUndoRoot){.path = r->path, .oid = r->oid, .saved = r->saved,
                                     .kept = r->kept.v, .n_kept = r->kept.n,
                                     .absent = r->absent.v, .n_absent = r->absent.n,
                                     .mode = (unsigned)r->mode};
    }
    char *readme = restore_keep_readme_text(k->dir, k->started, u, k->n_roots);
    char *undo = restore_keep_undo_text(k->dir, k->started, u, k->n_roots);
    int rc = readme != NULL && undo != NULL ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    if (rc == 0)
        rc = keep_write_file(k->dir, KEEP_README, readme, 0600, err);
    if (rc == 0)
        rc = keep_write_file(k->dir, KEEP_UNDO, undo, 0700, err);
    free(readme);
    free(undo);
    free(u);
    return rc;
}

static void say_copying(const RestoreKeep *k)
{
    if (k->opt->quiet)
        return;
    char ts[48] = "";
    if (k->n_roots > 1)
        snprintf(ts, sizeof ts, " and %zu tablespace location%s", k->n_roots - 1,
                 k->n_roots > 2 ? "s" : "");
    printf("keep-old: copying what the restore may change (the data directory%s: %llu files, "
           "%.1f MiB) into \"%s\" first; %.1f MiB free there\n", ts, (unsigned long long)k->files,
           (double)k->bytes / 1048576.0, k->dir, (double)k->avail / 1048576.0);
    fflush(stdout);
}

static int copy_all(RestoreKeep *k, PgpErr *err)
{
    int rc = k->start == KEEP_COPYING ? clear_ours(k, err) : 0;
    KeepNames l = {0};
    if (rc == 0 && (rc = list_dir(k->dir, &l, err)) == 0 && l.n > 0)
        rc = PGP_FAIL(err, PGP_ERR_USAGE, "keep-old directory \"%s\" is not empty (it contains "
                      "\"%s\")", k->dir, l.v[0]);
    keep_names_free(&l);
    if (rc == 0)
        rc = inventory(k, err);
    k->copy = (RestoreCopy){.cancel = k->opt->cancel};
    if (rc == 0 && (rc = copy_roots(k, true, err)) != 0)
        pgp_err_context(err, "keep-old");
    if (rc == PGP_ERR_USAGE)
        pgp_err_hint(err, "move it out of the way first: a delta restore would remove it, and "
                     "--keep-old cannot keep it; nothing in the target was changed");
    k->files = k->copy.files;
    k->bytes = k->copy.bytes;
    k->copy = (RestoreCopy){.cancel = k->opt->cancel, .total = k->bytes,
                            .label = k->opt->tty ? "keep-old" : NULL};
    if (rc == 0)
        rc = check_room(k, err);
    if (rc != 0)
        return rc;
    say_copying(k);
    timefmt_iso((int64_t)time(NULL), 0, k->started, sizeof k->started);
    rc = write_state(k, "copying", err); /* first: an interrupted copy is recognised as ours */
    if (rc == 0)
        rc = write_texts(k, err);
    if (rc == 0)
        rc = copy_roots(k, false, err);
    restore_copy_progress_end(&k->copy);
    if (rc == 0) /* from here on the restore may change the destination */
        rc = write_state(k, "kept", err);
    return rc != 0 ? pgp_err_context(err, "keep-old") : 0;
}

static double since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

int restore_keep_copy(RestoreKeep *k, const RestoreKeepCopyOptions *opt, PgpErr *err)
{
    static const RestoreKeepCopyOptions defaults = {.quiet = true};
    k->opt = opt != NULL ? opt : &defaults;
    if (k->start == KEEP_KEPT) {
        k->kept = true;
        if (!k->opt->quiet)
            printf("keep-old: \"%s\" already holds the directory as it was before the "
                   "interrupted restore of %s: not copied again\n", k->dir, k->started);
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &k->t0);
    int rc = copy_all(k, err);
    if (rc == 0) {
        k->kept = true;
        if (!k->opt->quiet)
            printf("keep-old: copied in %.1f s; to go back to the directory as it was: stop the "
                   "server, then sh \"%s/%s\"\n", since(&k->t0), k->dir, KEEP_UNDO);
        return 0;
    }
    PgpErr e2;
    if (clear_ours(k, &e2) != 0)
        log_warn("cannot remove the unfinished copy: %s", e2.msg);
    if (rc == PGP_ERR_NO_SPACE)
        pgp_err_hint(err, "nothing in the target was changed: free space there, or give "
                     "--keep-old a directory with room for %.1f MiB", (double)k->bytes / 1048576.0);
    else if (err != NULL && err->hint[0] == '\0')
        pgp_err_hint(err, "nothing in the target was changed, and the unfinished copy in "
                     "\"%s\" was removed", k->dir);
    return rc;
}

void restore_keep_finish(RestoreKeep *k)
{
    PgpErr e;
    if (k != NULL && k->kept && write_state(k, "done", &e) != 0)
        log_warn("keep-old: %s (the copy in \"%s\" is complete all the same)", e.msg, k->dir);
}

void restore_keep_free(RestoreKeep *k)
{
    if (k == NULL)
        return;
    if (k->created && !k->kept && rmdir(k->dir) != 0 && errno != ENOENT)
        log_warn("cannot remove keep-old directory \"%s\": %s", k->dir, strerror(errno));
    restore_locks_release(&k->locks);
    for (size_t i = 0; i < k->n_roots; i++) {
        free(k->roots[i].path);
        keep_names_free(&k->roots[i].backup);
        keep_names_free(&k->roots[i].kept);
        keep_names_free(&k->roots[i].absent);
    }
    free(k->roots);
    restore_copy_free(&k->copy);
    free(k->dir);
    free(k);
}
