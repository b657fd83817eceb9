/*
 * extsort.c - the bounded-memory sorted set of fixed-size records (see extsort.h).
 *
 * Owns: the buffer, the runs in an unlinked temporary file, and their k-way merge (a binary
 * heap of run cursors). Must not: know what a record means (the caller's cmp does).
 *
 * Why a fresh file for each merge: a merge reads every run and writes one, so the old file is
 * only dead runs afterwards; closing it (it was unlinked at creation) gives the space back at
 * once, so the disk used stays about the distinct records plus the runs not yet merged.
 */
#include "pgpitr/common/extsort.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/common/fdio.h"
#include "pgpitr/common/grow.h"

#define CURSOR_BYTES (64u * 1024u)

typedef struct Run {
    off_t off;                  /* first record's byte offset in the file */
    size_t n;                   /* records */
} Run;

struct ExtSort {
    size_t rec_size, mem_records;
    ExtSortCmp cmp;
    char *tmpdir;
    unsigned char *buf;         /* records not yet spilled; after finish without a spill, the
                                   sorted distinct set itself */
    size_t n_buf, cap_buf;
    int fd;                     /* -1 until the first spill */
    off_t end;                  /* bytes used in the file */
    Run runs[EXTSORT_MAX_RUNS];
    size_t n_runs, spilled;
    size_t count;               /* after finish */
    int finished;
};

static int io_fail(int e, const char *what, PgpErr *err)
{
    return PGP_FAIL_SYS(err, e, "cannot %s the temporary file of a sort", what);
}

int extsort_new(size_t rec_size, ExtSortCmp cmp, size_t mem_records, const char *tmpdir,
                ExtSort **out, PgpErr *err)
{
    *out = NULL;
    ExtSort *s = calloc(1, sizeof *s);
    if (tmpdir == NULL)
        tmpdir = getenv("TMPDIR") != NULL && getenv("TMPDIR")[0] != '\0' ? getenv("TMPDIR")
                                                                          : "/tmp";
    if (s == NULL || (s->tmpdir = strdup(tmpdir)) == NULL) {
        free(s);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    s->rec_size = rec_size;
    s->cmp = cmp;
    s->mem_records = mem_records > 1 ? mem_records : 2;
    s->fd = -1;
    *out = s;
    return 0;
}

/* A new unlinked temporary file in tmpdir. */
static int open_temp(const ExtSort *s, int *fd, PgpErr *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/pgpitr-sort.XXXXXX", s->tmpdir) >= sizeof path)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "temporary directory name is too long");
    *fd = mkostemp(path, O_CLOEXEC);
    if (*fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot create a temporary file in \"%s\"", s->tmpdir);
    unlink(path);
    return 0;
}

/* Sorts the buffer and keeps each record once; returns how many are left. */
static size_t sort_unique(ExtSort *s)
{
    if (s->n_buf == 0)
        return 0;
    qsort(s->buf, s->n_buf, s->rec_size, s->cmp);
    size_t k = 1, z = s->rec_size;
    for (size_t i = 1; i < s->n_buf; i++)
        if (s->cmp(s->buf + (k - 1) * z, s->buf + i * z) != 0)
            memmove(s->buf + k++ * z, s->buf + i * z, z);
    return s->n_buf = k;
}

/* ---- merging ---------------------------------------------------------------------------- */

typedef struct Cursor {
    off_t off;                  /* next unread byte of the run in the file */
    size_t left;                /* records of the run not yet in buf */
    unsigned char *buf;
    size_t have, pos;           /* records in buf, the current one */
} Cursor;

typedef struct Merge {
    const ExtSort *s;
    Cursor *cur;
    size_t *heap, n_heap;
} Merge;

static const void *cursor_rec(const Merge *m, size_t c)
{
    return m->cur[c].buf + m->cur[c].pos * m->s->rec_size;
}

static int heap_less(const Merge *m, size_t a, size_t b)
{
    return m->s->cmp(cursor_rec(m, m->heap[a]), cursor_rec(m, m->heap[b])) < 0;
}

static void sift_down(Merge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, min = i;
        if (l < m->n_heap && heap_less(m, l, min))
            min = l;
        if (r < m->n_heap && heap_less(m, r, min))
            min = r;
        if (min == i)
            return;
        size_t t = m->heap[i];
        m->heap[i] = m->heap[min];
        m->heap[min] = t;
        i = min;
    }
}

/* The next block of cursor c's run into its buffer; 0 with have = 0 at the run's end. */
static int cursor_fill(Merge *m, size_t c, PgpErr *err)
{
    Cursor *k = &m->cur[c];
    size_t z = m->s->rec_size, n = CURSOR_BYTES / z;
    n = n > 0 ? n : 1;
    n = n < k->left ? n : k->left;
    k->have = k->pos = 0;
    if (n == 0)
        return 0;
    ssize_t got = pread(m->s->fd, k->buf, n * z, k->off);
    if (got != (ssize_t)(n * z))
        return io_fail(got < 0 ? errno : EIO, "read", err);
    k->off += (off_t)(n * z);
    k->left -= n;
    k->have = n;
    return 0;
}

/* Every run of s merged, each record once, into out at offset 0: *n_out records. */
static int merge_runs(const ExtSort *s, int out, size_t *n_out, PgpErr *err)
{
    size_t z = s->rec_size, per = CURSOR_BYTES / z > 0 ? CURSOR_BYTES / z : 1;
    Merge m = {.s = s, .cur = calloc(s->n_runs, sizeof *m.cur),
               .heap = calloc(s->n_runs, sizeof *m.heap)};
    unsigned char *ob = malloc(per * z), *last = malloc(z);
    int rc = m.cur && m.heap && ob && last ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < s->n_runs; i++) {
        m.cur[i] = (Cursor){.off = s->runs[i].off, .left = s->runs[i].n, .buf = malloc(per * z)};
        rc = m.cur[i].buf != NULL ? cursor_fill(&m, i, err)
                                  : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        if (rc == 0 && m.cur[i].have > 0)
            m.heap[m.n_heap++] = i;
    }
    for (size_t i = m.n_heap; rc == 0 && i-- > 0;)
        sift_down(&m, i);
    size_t n_ob = 0, written = 0;
    off_t at = 0;
    while (rc == 0 && m.n_heap > 0) {
        size_t c = m.heap[0];
        if (written + n_ob == 0 || s->cmp(last, cursor_rec(&m, c)) != 0) {
            memcpy(ob + n_ob++ * z, cursor_rec(&m, c), z);
            memcpy(last, cursor_rec(&m, c), z);
        }
        if (n_ob == per) {
            int e = fd_write_all(out, ob, n_ob * z, at, NULL);
            rc = e != 0 ? io_fail(e, "write", err) : 0;
            at += (off_t)(n_ob * z);
            written += n_ob;
            n_ob = 0;
        }
        if (rc == 0 && ++m.cur[c].pos == m.cur[c].have)
            rc = cursor_fill(&m, c, err);
        if (rc == 0 && m.cur[c].have == 0)
            m.heap[0] = m.heap[--m.n_heap];
        sift_down(&m, 0);
    }
    if (rc == 0 && n_ob > 0) {
        int e = fd_write_all(out, ob, n_ob * z, at, NULL);
        rc = e != 0 ? io_fail(e, "write", err) : 0;
        written += n_ob;
    }
    for (size_t i = 0; m.cur != NULL && i < s->n_runs; i++)
        free(m.cur[i].buf);
    free(m.cur);
    free(m.heap);
    free(ob);
    free(last);
    *n_out = written;
    return rc;
}

/* All runs merged into one, in a new file (the old one, only dead runs then, is closed). */
static int collapse(ExtSort *s, PgpErr *err)
{
    int out = -1;
    size_t n = 0;
    int rc = open_temp(s, &out, err);
    if (rc == 0)
        rc = merge_runs(s, out, &n, err);
    if (rc != 0) {
        if (out >= 0)
            close(out);
        return rc;
    }
    close(s->fd);
    s->fd = out;
    s->runs[0] = (Run){0, n};
    s->n_runs = 1;
    s->end = (off_t)(n * s->rec_size);
    return 0;
}

/* ---- adding, finishing, reading --------------------------------------------------------- */

static int spill(ExtSort *s, PgpErr *err)
{
    size_t n = sort_unique(s);
    int rc = 0;
    if (n == 0)
        return 0;
    if (s->fd < 0 && (rc = open_temp(s, &s->fd, err)) != 0)
        return rc;
    if (s->n_runs == EXTSORT_MAX_RUNS && (rc = collapse(s, err)) != 0)
        return rc;
    int e = fd_write_all(s->fd, s->buf, n * s->rec_size, s->end, NULL);
    if (e != 0)
        return io_fail(e, "write", err);
    s->runs[s->n_runs++] = (Run){s->end, n};
    s->end += (off_t)(n * s->rec_size);
    s->n_buf = 0;
    s->spilled++;
    return 0;
}

int extsort_add(ExtSort *s, const void *rec, PgpErr *err)
{
    int rc = s->n_buf == s->mem_records ? spill(s, err) : 0;
    if (rc != 0)
        return rc;
    if (s->n_buf == s->cap_buf) {
        size_t cap = s->cap_buf == 0 ? 1024 : s->cap_buf * 2;
        cap = cap < s->mem_records ? cap : s->mem_records;
        unsigned char *nb = realloc(s->buf, cap * s->rec_size);
        if (nb == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        s->buf = nb;
        s->cap_buf = cap;
    }
    memcpy(s->buf + s->n_buf++ * s->rec_size, rec, s->rec_size);
    return 0;
}

int extsort_finish(ExtSort *s, PgpErr *err)
{
    s->finished = 1;
    if (s->fd < 0) {            /* everything fitted: the buffer is the set */
        s->count = sort_unique(s);
        return 0;
    }
    int rc = spill(s, err);
    free(s->buf);               /* not needed any more: reads come from the file */
    s->buf = NULL;
    s->n_buf = s->cap_buf = 0;
    if (rc == 0 && s->n_runs > 1)
        rc = collapse(s, err);
    if (rc == 0)
        s->count = s->runs[0].n;
    return rc;
}

size_t extsort_count(const ExtSort *s)
{
    return s->count;
}

size_t extsort_spilled_runs(const ExtSort *s)
{
    return s->spilled;
}

int extsort_get(const ExtSort *s, size_t i, void *rec, PgpErr *err)
{
    if (s->fd < 0) {
        memcpy(rec, s->buf + i * s->rec_size, s->rec_size);
        return 0;
    }
    off_t off = s->runs[0].off + (off_t)(i * s->rec_size);
    ssize_t got = pread(s->fd, rec, s->rec_size, off);
    return got == (ssize_t)s->rec_size ? 0 : io_fail(got < 0 ? errno : EIO, "read", err);
}

void extsort_free(ExtSort *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s->tmpdir);
    free(s);
}
