/*
 * push_ahead.c - pushing the ready segments after the one PostgreSQL asked for, and the
 * records that let its later calls return at once (push_ahead.h).
 */
#include "pgpitr/archive/push_ahead.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/archive/spool.h"
#include "pgpitr/common/log.h"
#include "pgpitr/common/fdio.h"
#include "pgpitr/common/hexstr.h"
#include "pgpitr/repo/repo_layout.h"

#define READY_SUFFIX ".ready"
#define TMP_PREFIX ".tmp."   /* fd_replace_file's temporary files */
#define RECORD_MAX 512   /* the longest: two digests, a size, a time, a key, an identity */

int push_ahead_dir_open(const char *wal_dir, bool create, int *dfd, PgpErr *err)
{
    char path[PATH_MAX];
    *dfd = -1;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", wal_dir, PUSH_AHEAD_DIR) >= sizeof path)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "path \"%s/%s\" is too long", wal_dir,
                        PUSH_AHEAD_DIR);
    struct stat sb;
    if (!create && lstat(path, &sb) != 0 && errno == ENOENT)
        return 0;
    return spool_dir_open(path, create, dfd, err);
}

/* A plain segment name (24 hex digits), not .partial, .backup or .history. */
static bool is_segment(const char *name)
{
    PgWalName wn;
    PgpErr ignore;
    return strlen(name) == PG_WALNAME_SEG_LEN && pg_walname_parse(name, &wn, &ignore) == 0 &&
           wn.kind == PG_WALFILE_SEGMENT;
}

bool push_ahead_has_record(int dfd, const char *name)
{
    struct stat sb;
    return dfd >= 0 && is_segment(name) && fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ---- records ----------------------------------------------------------------------------- */

typedef struct Record {
    char sha256_hex[PIPE_SHA256_HEX_LEN + 1];   /* the content's */
    char name_hex[PIPE_SHA256_HEX_LEN + 1];     /* the object name's (keyed when encrypted) */
    PipeCodec codec;
    uint64_t stored_size;
    int64_t time;
    char key[PUSH_AHEAD_KEY_LEN + 1];
    bool has_ident;                             /* the file's settled identity when hashed */
    FileIdent ident;
} Record;

typedef enum { RECORD_NONE, RECORD_MALFORMED, RECORD_OK } RecordState;

/* The optional fields after the repository key, at *p: the object name's 64 hex digits (an
 * encrypted repository: a fresh record is confirmed without opening the repository, so
 * without its key), then " file <dev> <ino> <size> <mtime ns> <ctime ns>". */
static bool record_tail(const char *p, const char *end, Record *r)
{
    memcpy(r->name_hex, r->sha256_hex, sizeof r->name_hex);
    if (p[0] == ' ' && hexstr_is(p + 1, PIPE_SHA256_HEX_LEN, HEX_LOWER) &&
        (p[1 + PIPE_SHA256_HEX_LEN] == ' ' || p[1 + PIPE_SHA256_HEX_LEN] == '\n')) {
        memcpy(r->name_hex, p + 1, PIPE_SHA256_HEX_LEN);
        r->name_hex[PIPE_SHA256_HEX_LEN] = '\0';
        p += 1 + PIPE_SHA256_HEX_LEN;
    }
    r->has_ident = false;
    if (strncmp(p, " file ", 6) == 0) {
        int used = 0;
        FileIdent *id = &r->ident;
        if (sscanf(p, " file %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNd64 " %" SCNd64 "%n",
                   &id->dev, &id->ino, &id->size, &id->mtime_ns, &id->ctime_ns, &used) != 5)
            return false;
        r->has_ident = true;
        p += used;
    }
    return p == end;
}

/* Reads and removes dfd/name, which must parse strictly: one line, 64 lowercase hex digits,
 * a codec name, a decimal size, a time, a repository key, then the optional fields above. */
static RecordState record_take(int dfd, const char *name, Record *r)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? RECORD_NONE : RECORD_MALFORMED;
    char text[RECORD_MAX + 1];
    ssize_t n = read(fd, text, RECORD_MAX);
    close(fd);
    unlinkat(dfd, name, 0);
    if (n <= 0 || n == RECORD_MAX || text[n - 1] != '\n')
        return RECORD_MALFORMED;
    text[n] = '\0';
    char codec[16];
    int used = 0;
    if (sscanf(text, "%64[0-9a-f] %15[a-z0-9] %" SCNu64 " %" SCNd64 " %16[0-9a-f]%n",
               r->sha256_hex, codec, &r->stored_size, &r->time, r->key, &used) != 5 ||
        strlen(r->sha256_hex) != PIPE_SHA256_HEX_LEN || strlen(r->key) != PUSH_AHEAD_KEY_LEN ||
        !record_tail(text + used, text + n - 1, r))
        return RECORD_MALFORMED;
    PgpErr ignore;
    return pipe_codec_parse(codec, &r->codec, &ignore) == 0 ? RECORD_OK : RECORD_MALFORMED;
}

/* Writes the record of a segment just pushed: a temporary file renamed over the name, so a
 * reader sees a whole record or none. Not fsynced (push_ahead.h). */
static int record_write(int dfd, const char *name, const WalPushResult *res, PipeCodec codec,
                        const char *key, PgpErr *err)
{
    char text[RECORD_MAX], ident[160] = "";
    /* The content's plain SHA-256: what push_ahead_take can compute before any key is known;
     * the name's after it when it differs (an encrypted repository). */
    bool keyed = strcmp(res->sha256_hex, res->content_sha256) != 0;
    if (res->source_settled)
        snprintf(ident, sizeof ident, " file %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64
                 " %" PRId64, res->source.dev, res->source.ino, res->source.size,
                 res->source.mtime_ns, res->source.ctime_ns);
    int len = snprintf(text, sizeof text, "%s %s %" PRIu64 " %lld %s%s%s%s\n",
                       res->content_sha256, pipe_codec_name(codec), res->stored_size,
                       (long long)time(NULL), key, keyed ? " " : "", keyed ? res->sha256_hex : "",
                       ident);
    /* Not durable: a record lost in a crash only costs a push (push_ahead.h). */
    int e = fd_replace_file(dfd, name, text, (size_t)len, 0600, false);
    return e == 0 ? 0 : PGP_FAIL_SYS(err, e, "cannot write the push record of \"%s\"", name);
}

void push_ahead_repo_key(const char *location, const char *endpoint,
                         char key[PUSH_AHEAD_KEY_LEN + 1])
{
    char text[PATH_MAX * 2];
    uint8_t digest[PIPE_SHA256_LEN];
    char hex[PIPE_SHA256_HEX_LEN + 1];
    int n = snprintf(text, sizeof text, "%s\n%s", location != NULL ? location : "",
                     endpoint != NULL ? endpoint : "");
    PgpErr ignore;
    if (pipe_sha256_buf(text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1, digest,
                        &ignore) != 0)
        memset(digest, 0, sizeof digest);
    pipe_hex(digest, sizeof digest, hex);
    memcpy(key, hex, PUSH_AHEAD_KEY_LEN);
    key[PUSH_AHEAD_KEY_LEN] = '\0';
}

/* Bytes read at a time when confirming a record: on the stack, so the same pages serve every
 * confirmation. */
#define HASH_PIECE (64u << 10)

/* SHA-256 of the file at path, as lowercase hex, and its size. Read through a small buffer,
 * not mapped: PostgreSQL waits for this on every segment pushed ahead, and a fresh mapping of
 * 16 MiB costs a page fault per 64 KiB and, on a VM, a first touch of each page that cost more
 * CPU than the hash (20-25 ms a segment mapped, 13 ms read; tests/bench/drain.sh, issue #15). */
static int file_sha256(const char *path, char hex[PIPE_SHA256_HEX_LEN + 1], uint64_t *size,
                       PgpErr *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return PGP_FAIL_PATH(err, errno, path, "cannot open \"%s\"", path);
    PipeFilter *sha = NULL;
    int rc = pipe_sha256_new((PipeSink){NULL, NULL}, &sha, err);
    uint64_t total = 0;
    uint8_t piece[HASH_PIECE];
    while (rc == 0) {
        size_t got = 0;
        int e = fd_read_upto(fd, piece, sizeof piece, &got);
        if (e != 0)
            rc = PGP_FAIL_SYS(err, e, "cannot read \"%s\"", path);
        if (rc != 0 || got == 0)
            break;
        total += got;
        rc = pipe_filter_push(sha, piece, got, err);
    }
    if (rc == 0)
        rc = pipe_filter_finish(sha, err);
    if (rc == 0) {
        uint8_t digest[PIPE_SHA256_LEN];
        pipe_sha256_result(sha, digest);
        pipe_hex(digest, sizeof digest, hex);
        *size = total;
    }
    pipe_filter_free(sha);
    close(fd);
    return rc;
}

/* Whether record r holds for the file (sha256 already computed) and repository key. */
static bool record_holds(const char *name, const Record *r, const char *sha256_hex,
                         const char *repo_key)
{
    if (strcmp(sha256_hex, r->sha256_hex) != 0) {
        log_warn("pushing \"%s\" again: an earlier push recorded sha256 %s, the file has %s",
                 name, r->sha256_hex, sha256_hex);
        return false;
    }
    if (strcmp(repo_key, r->key) != 0) {
        log_warn("pushing \"%s\" again: an earlier push recorded it into another repository",
                 name);
        return false;
    }
    return true;
}

void push_ahead_take(int dfd, const char *src_path, const char *repo_key, int64_t now,
                     PushClaim *c)
{
    memset(c, 0, sizeof *c);
    const char *slash = strrchr(src_path, '/');
    const char *name = slash != NULL ? slash + 1 : src_path;
    if (dfd < 0 || !is_segment(name))
        return;
    memcpy(c->name, name, PG_WALNAME_SEG_LEN + 1);
    Record r;
    RecordState state = record_take(dfd, name, &r);
    if (state == RECORD_MALFORMED)
        log_warn("pushing \"%s\" again: its push record does not parse", name);
    if (state != RECORD_OK)
        return;
    /* The file PostgreSQL hands over is the one hashed when pushed if its settled identity is
     * unchanged (file_ident.h): then the record's SHA-256 is its content's, without reading
     * 16 MiB again. Otherwise (no identity recorded, or another one now) it is hashed. */
    FileIdent now_id;
    if (r.has_ident && file_ident_path(src_path, &now_id) == 0 &&
        file_ident_equal(&now_id, &r.ident)) {
        memcpy(c->sha256_hex, r.sha256_hex, sizeof c->sha256_hex);
        c->size = r.ident.size;
        c->by_identity = true;
    } else {
        PgpErr why = {0};
        if (file_sha256(src_path, c->sha256_hex, &c->size, &why) != 0) {
            log_warn("pushing \"%s\" again: %s", name, why.msg);
            return;
        }
    }
    if (!record_holds(name, &r, c->sha256_hex, repo_key))
        return;
    c->codec = r.codec;
    c->stored_size = r.stored_size;
    memcpy(c->name_hex, r.name_hex, sizeof c->name_hex);
    bool fresh = r.time <= now && now - r.time <= PUSH_AHEAD_FRESH_SECONDS;
    c->state = fresh ? PUSH_CLAIM_FRESH : PUSH_CLAIM_STALE;
}

int push_ahead_confirm(const PushClaim *c, Repo *repo, WalPushResult *res, bool *confirmed,
                       PgpErr *err)
{
    *confirmed = false;
    memset(res, 0, sizeof *res);
    if (c->state == PUSH_CLAIM_NONE)
        return 0;
    int rc = repo_archive_object_path(c->name, c->name_hex, c->codec, res->object_path, err);
    if (rc != 0)
        return rc;
    if (c->state == PUSH_CLAIM_STALE) {
        StorageInfo info;
        rc = storage_stat(repo_storage(repo), res->object_path, &info, err);
        if (rc == PGP_ERR_NOT_FOUND || (rc == 0 && info.size != c->stored_size)) {
            log_warn("pushing \"%s\" again: the object an earlier push recorded (\"%s\", %"
                     PRIu64 " bytes) is %s", c->name, res->object_path, c->stored_size,
                     rc == 0 ? "another size" : "not in the repository");
            return 0;
        }
        if (rc != 0)
            return rc;
    }
    memcpy(res->sha256_hex, c->name_hex, sizeof res->sha256_hex);
    memcpy(res->content_sha256, c->sha256_hex, sizeof res->content_sha256);
    res->size = c->size;
    res->stored_size = c->stored_size;
    res->already_archived = true;
    *confirmed = true;
    return 0;
}

/* ---- picking ----------------------------------------------------------------------------- */

/* Inserts name into the sorted list if it is among the max smallest. */
static void keep_smallest(PushAheadList *l, size_t max, const char *name)
{
    size_t i = l->n;
    while (i > 0 && strcmp(l->names[i - 1], name) > 0)
        i--;
    if (i >= max)
        return;
    size_t last = l->n < max ? l->n : max - 1;
    memmove(l->names[i + 1], l->names[i], (last - i) * sizeof l->names[0]);
    memcpy(l->names[i], name, PG_WALNAME_SEG_LEN + 1);
    if (l->n < max)
        l->n++;
}

/* Removes records of segments before `after` and temporary files (left by a killed push). */
static void prune(int dfd, const char *after)
{
    DIR *d = fd_opendir(dfd, ".");
    if (d == NULL)
        return;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if ((is_segment(e->d_name) && strcmp(e->d_name, after) < 0) ||
            strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
            unlinkat(dfd, e->d_name, 0);
    closedir(d);
}

int push_ahead_pick(const char *wal_dir, int dfd, const char *after, size_t max,
                    PushAheadList *out, PgpErr *err)
{
    out->n = 0;
    if (max > PUSH_AHEAD_LIST_MAX)
        max = PUSH_AHEAD_LIST_MAX;
    if (max == 0)
        return 0;
    prune(dfd, after);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/archive_status", wal_dir);
    DIR *d = opendir(path);
    if (d == NULL)
        return PGP_FAIL_PATH(err, errno, path, "cannot list \"%s\"", path);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char name[PG_WALNAME_SEG_LEN + 1];
        size_t len = strlen(e->d_name);
        if (len != PG_WALNAME_SEG_LEN + strlen(READY_SUFFIX) ||
            strcmp(e->d_name + PG_WALNAME_SEG_LEN, READY_SUFFIX) != 0)
            continue;
        memcpy(name, e->d_name, PG_WALNAME_SEG_LEN);
        name[PG_WALNAME_SEG_LEN] = '\0';
        if (strcmp(name, after) > 0 && is_segment(name) && !push_ahead_has_record(dfd, name))
            keep_smallest(out, max, name);
    }
    closedir(d);
    return 0;
}

/* ---- pushing ----------------------------------------------------------------------------- */

/* One segment of the list: what the lookup found, and how its push went. */
typedef struct Item {
    int find_rc;                        /* 0: existing holds it; PGP_ERR_NOT_FOUND; else why not */
    RepoArchiveObject existing;
    PgpErr find_err;
    bool pushed;                        /* stored (or already there): to confirm, then record */
    WalPushResult res;
} Item;

struct PushAhead {
    Repo *repo;
    int dfd;
    WalPushOptions opt;
    char key[PUSH_AHEAD_KEY_LEN + 1];
    char wal_dir[PATH_MAX];
    PushAheadList list;
    size_t threads;
    Item items[PUSH_AHEAD_LIST_MAX];
    StorageBatch *batch;                /* the new objects, made durable and named at once */
    pthread_mutex_t mu;
    pthread_cond_t changed;             /* the run is over (done) */
    bool done;                          /* every segment recorded, failed or never started */
    size_t next;                        /* the next segment of list to push */
    size_t started;                     /* segments taken by a thread */
    PushAheadResult res;
    pthread_t runner;
    bool running;
};

/* Pushes one segment whose lookup is in it (into the batch); false when it failed (logged). */
static bool push_one(PushAhead *p, const char *name, Item *it)
{
    char path[PATH_MAX + PG_WALNAME_SEG_LEN + 2];
    snprintf(path, sizeof path, "%s/%s", p->wal_dir, name);
    PgpErr err = {0};
    WalPushJob *job = NULL;
    int rc = it->find_rc;
    if (rc != 0 && rc != PGP_ERR_NOT_FOUND)
        err = it->find_err;
    else
        rc = wal_push_start(path, &p->opt, &job, &err);
    if (rc == 0)
        rc = wal_push_finish_known(job, p->repo, it->find_rc == 0 ? &it->existing : NULL,
                                   p->batch, &it->res, &err);
    if (rc != 0) {
        log_warn("pushing \"%s\" ahead failed (PostgreSQL's own call will push it): %s", name,
                 err.msg);
        return false;
    }
    it->pushed = true;
    return true;
}

static void *worker_main(void *arg)
{
    PushAhead *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->list.n ? p->next++ : SIZE_MAX;
        p->started += i != SIZE_MAX;
        pthread_mutex_unlock(&p->mu);
        if (i == SIZE_MAX)
            return NULL;
        bool ok = push_one(p, p->list.names[i], &p->items[i]);
        pthread_mutex_lock(&p->mu);
        if (!ok) {
            /* An unreachable or full repository fails every push alike: start no more, so
             * that PostgreSQL's call is not held up by a queue of them (each may take the
             * whole io-timeout). What is left is pushed by PostgreSQL's own calls. */
            p->next = p->list.n;
            p->res.failed++;
        }
        pthread_mutex_unlock(&p->mu);
    }
}

/* Looks every segment of the list up at once (one listing of the prefix they share), so that
 * each push does not list for itself. A failed listing pushes nothing. */
static int lookup(PushAhead *p, PgpErr *err)
{
    const char *names[PUSH_AHEAD_LIST_MAX];
    RepoArchiveObject found[PUSH_AHEAD_LIST_MAX];
    int rcs[PUSH_AHEAD_LIST_MAX];
    PgpErr errs[PUSH_AHEAD_LIST_MAX];
    for (size_t i = 0; i < p->list.n; i++)
        names[i] = p->list.names[i];
    int rc = repo_archive_find_many(p->repo, names, p->list.n, found, rcs, errs, err);
    for (size_t i = 0; rc == 0 && i < p->list.n; i++) {
        p->items[i].find_rc = rcs[i];
        p->items[i].existing = found[i];
        p->items[i].find_err = errs[i];
    }
    return rc;
}

/* Once the pushes are done: the batch flushed (every new object durable and named, one
 * syncfs on posix), then the names looked up again in one listing, and a record written for
 * each segment whose name holds exactly its checksum and nothing else (when nothing was stored,
 * the first lookup said so already). A concurrent push of
 * other content under a name makes both unusable: ours is removed and not recorded, like
 * wal_push_finish's check after storing. */
static void confirm_all(PushAhead *p)
{
    PgpErr err = {0};
    if (p->batch != NULL && storage_batch_flush(p->batch, &err) != 0) {
        log_warn("pushing ahead failed (PostgreSQL's own calls will push them): %s", err.msg);
        for (size_t i = 0; i < p->list.n; i++)
            if (p->items[i].pushed && !p->items[i].res.already_archived) {
                p->items[i].pushed = false;
                p->res.failed++;
            }
    }
    bool stored = false;
    for (size_t i = 0; i < p->list.n; i++)
        stored |= p->items[i].pushed && !p->items[i].res.already_archived;
    if (stored && lookup(p, &err) != 0) {
        log_warn("cannot confirm what was pushed ahead (PostgreSQL's own calls will push it "
                 "again): %s", err.msg);
        return;
    }
    for (size_t i = 0; i < p->list.n; i++) {
        Item *it = &p->items[i];
        const char *name = p->list.names[i];
        if (!it->pushed)
            continue;
        if (it->find_rc != 0 || strcmp(it->existing.sha256_hex, it->res.sha256_hex) != 0) {
            if (it->find_rc == PGP_ERR_CONFLICT && !it->res.already_archived)
                storage_remove(repo_storage(p->repo), it->res.object_path, &err);
            log_warn("pushing \"%s\" ahead failed (PostgreSQL's own call will push it): %s",
                     name, it->find_rc != 0 ? it->find_err.msg : "another object took its name");
            p->res.failed++;
            continue;
        }
        if (record_write(p->dfd, name, &it->res, p->opt.codec, p->key, &err) != 0) {
            log_warn("pushing \"%s\" ahead: %s", name, err.msg);
            p->res.failed++;
            continue;
        }
        if (it->res.already_archived)
            p->res.already++;
        else
            p->res.pushed++;
        log_info("pushed \"%s\" ahead (%" PRIu64 " bytes, %" PRIu64 " stored%s)", name,
                 it->res.size, it->res.stored_size,
                 it->res.already_archived ? ", already archived" : "");
    }
}

/* The run: one lookup, the pushes on p->threads threads (this one among them), then
 * confirm_all. */
static void *runner_main(void *arg)
{
    PushAhead *p = arg;
    PgpErr err = {0};
    if (lookup(p, &err) != 0) {
        log_warn("not pushing ahead: %s", err.msg);
        return NULL;
    }
    StorageBatchLimits lim = {.max_objects = PUSH_AHEAD_LIST_MAX, .max_bytes = UINT64_MAX};
    if (storage_batch_new(repo_storage(p->repo), REPO_LAYOUT_WAL_DIR, &lim, &p->batch, &err) != 0)
        log_warn("pushing ahead without a batch (an fsync each): %s", err.msg);
    pthread_t t[PUSH_AHEAD_JOBS_MAX];
    size_t n = 0;
    for (; n + 1 < p->threads && n + 1 < p->list.n; n++) {
        int prc = pthread_create(&t[n], NULL, worker_main, p);
        if (prc != 0) {
            log_warn("cannot start a thread to push ahead: %s", strerror(prc));
            break;
        }
    }
    worker_main(p);
    for (size_t i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    confirm_all(p);
    storage_batch_free(p->batch);
    p->batch = NULL;
    return NULL;
}

/* runner_main, then the run is over for push_ahead_wait. */
static void *runner_done(void *arg)
{
    PushAhead *p = arg;
    runner_main(p);
    pthread_mutex_lock(&p->mu);
    p->done = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int push_ahead_start(Repo *repo, const char *repo_key, const char *wal_dir, int dfd,
                     const PushAheadList *l, size_t threads, const WalPushOptions *opt,
                     PushAhead **out, PgpErr *err)
{
    *out = NULL;
    if (!repo_is_bound(repo))
        return PGP_FAIL(err, PGP_ERR_INTERNAL, "pushing ahead needs a bound repository");
    PushAhead *p = calloc(1, sizeof *p);
    if (p == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    *p = (PushAhead){.repo = repo, .dfd = dfd, .opt = *opt, .list = *l};
    memcpy(p->key, repo_key, sizeof p->key - 1);
    snprintf(p->wal_dir, sizeof p->wal_dir, "%s", wal_dir);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->changed, NULL);
    p->threads = threads > PUSH_AHEAD_JOBS_MAX ? PUSH_AHEAD_JOBS_MAX : threads;
    if (l->n > 0 && p->threads > 0) {
        int prc = pthread_create(&p->runner, NULL, runner_done, p);
        if (prc != 0)
            log_warn("cannot start a thread to push ahead: %s", strerror(prc));
        p->running = prc == 0;
    }
    p->done = !p->running;
    *out = p;
    return 0;
}

void push_ahead_stop(PushAhead *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->next = p->list.n;
    pthread_mutex_unlock(&p->mu);
}

/* The segments of a run are named and recorded together, after its one batch flush and
 * listing (confirm_all): waiting for one of them is waiting for the run. */
bool push_ahead_wait(PushAhead *p, const char *name)
{
    if (p == NULL)
        return true;
    bool in_list = false;
    for (size_t i = 0; i < p->list.n && !in_list; i++)
        in_list = strcmp(p->list.names[i], name) == 0;
    pthread_mutex_lock(&p->mu);
    while (in_list && !p->done)
        pthread_cond_wait(&p->changed, &p->mu);
    bool done = p->done;
    pthread_mutex_unlock(&p->mu);
    return done;
}

void push_ahead_join(PushAhead *p, PushAheadResult *res)
{
    memset(res, 0, sizeof *res);
    if (p == NULL)
        return;
    if (p->running)
        pthread_join(p->runner, NULL);
    *res = p->res;
    res->skipped = p->list.n - p->started;
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
