/*
 * basebackup_tar.c - libarchive over the BASE_BACKUP copy stream (see basebackup_tar.h).
 *
 * PostgreSQL omits the two zero blocks that end a tar archive; the read callback supplies
 * them when the next archive (or the manifest, or the end) starts, so libarchive sees a
 * well-formed archive and reports a truncated one as an error instead of a clean end.
 *
 * With server-side compression (BASE_BACKUP ... COMPRESSION 'zstd') an archive arrives as
 * "base.tar.zst": one zstd frame of the same tar, still without its trailer. The read
 * callback decompresses it with libzstd's streaming decoder before libarchive sees it, so the
 * trailer can be added after the decompressed bytes exactly as for a plain archive, and an
 * archive that stops inside its frame is an error of its own.
 */
#include "pgpitr/pg/basebackup_tar.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "libarchive_lazy.h"   /* libarchive is loaded at run time: pg_libarchive_load() */

#define TAR_TRAILER 1024
#define MANIFEST_MAX (1024u << 20)

static const uint8_t zero_trailer[TAR_TRAILER];

typedef struct StreamState {
    PgTarNext next_msg;
    void *src;
    const PgTarHandler *h;
    PgCopyMsg next;            /* the message that ended the current archive */
    bool at_boundary, trailer_sent;
    int rc;                    /* error from the copy stream inside the read callback */
    PgpErr err;
    /* A compressed archive (.tar.zst): the message being decompressed, and the decoder. */
    bool zstd;
    ZSTD_DCtx *dctx;
    const uint8_t *zin;
    size_t zin_len, zin_pos;
    uint8_t *zout;
    size_t zout_size;
    bool zmore;                /* the last call filled zout: the decoder may hold more */
    bool frame_done;           /* the last call ended a frame (ZSTD_decompressStream == 0) */
} StreamState;

struct PgTarReader {
    struct archive *a;
    StreamState *st;
    const char *path;
};

static la_ssize_t stream_fail(struct archive *a, StreamState *st, const char *what)
{
    st->rc = PGP_FAIL(&st->err, PGP_ERR_PG, "%s", what);
    archive_set_error(a, EIO, "%s", st->err.msg);
    return -1;
}

/* Decompressed bytes of the current message into st->zout: > 0 bytes, 0 when the decoder
 * wants the next message, -1 on a corrupt frame. */
static la_ssize_t zstd_step(struct archive *a, StreamState *st, const void **buf)
{
    ZSTD_inBuffer in = {st->zin, st->zin_len, st->zin_pos};
    ZSTD_outBuffer out = {st->zout, st->zout_size, 0};
    size_t r = ZSTD_decompressStream(st->dctx, &out, &in);
    st->zin_pos = in.pos;
    if (ZSTD_isError(r)) {
        char what[256];
        snprintf(what, sizeof what, "malformed compressed backup archive: %s",
                 ZSTD_getErrorName(r));
        return stream_fail(a, st, what);
    }
    st->frame_done = r == 0;
    st->zmore = out.pos == out.size;
    *buf = st->zout;
    return (la_ssize_t)out.pos;
}

static la_ssize_t tar_read(struct archive *a, void *ud, const void **buf)
{
    StreamState *st = ud;
    for (;;) {
        if (st->zstd && !st->at_boundary && (st->zin_pos < st->zin_len || st->zmore)) {
            la_ssize_t n = zstd_step(a, st, buf);
            if (n != 0)
                return n;
            continue;
        }
        if (st->at_boundary) {
            if (st->zstd && !st->frame_done)
                return stream_fail(a, st, "compressed backup archive ends inside its zstd "
                                   "frame");
            if (st->trailer_sent)
                return 0;
            st->trailer_sent = true;
            *buf = zero_trailer;
            return TAR_TRAILER;
        }
        PgCopyMsg m;
        st->rc = st->next_msg(st->src, &m, &st->err);
        if (st->rc != 0) {
            archive_set_error(a, EIO, "%s", st->err.msg);
            return -1;
        }
        if (m.kind == PG_COPYMSG_DATA && st->zstd) {
            st->zin = m.data;   /* valid until the next message is pulled */
            st->zin_len = m.len;
            st->zin_pos = 0;
            continue;
        }
        if (m.kind == PG_COPYMSG_DATA) {
            *buf = m.data;
            return (la_ssize_t)m.len;
        }
        if (m.kind == PG_COPYMSG_PROGRESS) {
            if (st->h->on_progress)
                st->h->on_progress(st->h->ud, m.progress);
            continue;
        }
        st->next = m;
        st->at_boundary = true;
    }
}

/* libarchive's last error, quoted: its text may carry names from the stream. */
static const char *la_error(struct archive *a, char q[PGP_QUOTE_BUF])
{
    const char *s = archive_error_string(a);
    return pgp_quote(s ? s : "no detail from libarchive", q);
}

int pg_tar_read(PgTarReader *r, void *buf, size_t len, PgpErr *err)
{
    char *p = buf;
    while (len > 0) {
        la_ssize_t n = archive_read_data(r->a, p, len);
        if (n < 0 && r->st->rc != 0) {
            *err = r->st->err;
            return r->st->rc;
        }
        if (n <= 0) {
            /* The path and libarchive's text both come from the stream: quoted, so a hostile
             * name cannot put control bytes into the one-line message. */
            char qp[PGP_QUOTE_BUF], qe[PGP_QUOTE_BUF];
            return PGP_FAIL(err, PGP_ERR_PG, "backup stream ended inside \"%s\": %s",
                            pgp_quote(r->path, qp),
                            n < 0 ? la_error(r->a, qe) : "short file");
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

bool pg_basebackup_tar_compressed(const char *name)
{
    size_t n = strlen(name);
    return n > 8 && strcmp(name + n - 8, ".tar.zst") == 0;
}

int pg_basebackup_tar_tablespace(const char *name, uint32_t *oid, PgpErr *err)
{
    const char *ext = pg_basebackup_tar_compressed(name) ? ".tar.zst" : ".tar";
    if (strncmp(name, "base", 4) == 0 && strcmp(name + 4, ext) == 0) {
        *oid = 0;
        return 0;
    }
    char *end = NULL;
    unsigned long v = strtoul(name, &end, 10);
    char q[PGP_QUOTE_BUF];
    if (end == name || strcmp(end, ext) != 0 || v == 0 || v > UINT32_MAX)
        return PGP_FAIL(err, PGP_ERR_PG, "unexpected archive \"%s\" in the backup stream",
                        pgp_quote(name, q));
    *oid = (uint32_t)v;
    return 0;
}

/* "./base/1/" -> "base/1"; refuses absolute paths and ".." (never trust the stream: every
 * name from it is quoted with pgp_quote in messages). */
static int normalize_path(const char *raw, char *out, size_t size, PgpErr *err)
{
    char q[PGP_QUOTE_BUF];
    while (raw[0] == '.' && raw[1] == '/')
        raw += 2;
    size_t n = strlen(raw);
    while (n > 0 && raw[n - 1] == '/')
        n--;
    if (n == 0 || n >= size || raw[0] == '/')
        return PGP_FAIL(err, PGP_ERR_PG, "invalid path \"%s\" in the backup stream",
                        pgp_quote(raw, q));
    memcpy(out, raw, n);
    out[n] = '\0';
    for (const char *seg = out; seg != NULL;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (len == 0 || (len == 2 && seg[0] == '.' && seg[1] == '.') || (len == 1 && seg[0] == '.'))
            return PGP_FAIL(err, PGP_ERR_PG, "invalid path \"%s\" in the backup stream",
                            pgp_quote(raw, q));
        seg = slash ? slash + 1 : NULL;
    }
    return 0;
}

static int entry_from_archive(struct archive_entry *ae, PgTarEntry *e, char *path, size_t size,
                              PgpErr *err)
{
    const char *raw = archive_entry_pathname(ae);
    char q[PGP_QUOTE_BUF];
    int rc = normalize_path(raw ? raw : "", path, size, err);
    if (rc != 0)
        return rc;
    e->path = path;
    /* libarchive passes on whatever the header's mode field holds above the file type: keep
     * the permission bits, which are all a manifest records (manifest_validate: <= 07777). */
    e->mode = (uint32_t)(archive_entry_perm(ae) & 07777);
    e->mtime = (int64_t)archive_entry_mtime(ae);
    e->size = 0;
    e->link_target = NULL;
    switch (archive_entry_filetype(ae)) {
    case AE_IFREG:
        e->type = PG_TAR_FILE;
        if (archive_entry_size(ae) < 0)
            return PGP_FAIL(err, PGP_ERR_PG, "negative size for \"%s\" in the backup stream",
                            pgp_quote(path, q));
        e->size = (uint64_t)archive_entry_size(ae);
        return 0;
    case AE_IFDIR:
        e->type = PG_TAR_DIR;
        return 0;
    case AE_IFLNK:
        e->type = PG_TAR_SYMLINK;
        e->link_target = archive_entry_symlink(ae);
        if (e->link_target == NULL || e->link_target[0] == '\0')
            return PGP_FAIL(err, PGP_ERR_PG, "symlink \"%s\" without target", pgp_quote(path, q));
        return 0;
    default:
        return PGP_FAIL(err, PGP_ERR_PG, "unsupported file type for \"%s\" in the backup stream",
                        pgp_quote(path, q));
    }
}

/* The decoder of compressed archives: made for the first one, reset for each. */
static int zstd_begin(StreamState *st, PgpErr *err)
{
    if (st->dctx == NULL) {
        st->zout_size = ZSTD_DStreamOutSize();
        st->dctx = ZSTD_createDCtx();
        st->zout = malloc(st->zout_size);
        if (st->dctx == NULL || st->zout == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for a zstd decoder");
    }
    ZSTD_DCtx_reset(st->dctx, ZSTD_reset_session_only);
    st->zin = NULL;
    st->zin_len = st->zin_pos = 0;
    st->zmore = st->frame_done = false;
    return 0;
}

static int read_archive(StreamState *st, uint32_t tablespace, bool compressed, PgpErr *err)
{
    st->zstd = compressed;
    if (compressed) {
        int zrc = zstd_begin(st, err);
        if (zrc != 0)
            return zrc;
    }
    struct archive *a = archive_read_new();
    if (a == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    archive_read_support_format_tar(a);
    st->at_boundary = false;
    st->trailer_sent = false;
    int rc = 0;
    char q[PGP_QUOTE_BUF];
    if (archive_read_open(a, st, NULL, tar_read, NULL) != ARCHIVE_OK) {
        rc = st->rc ? (*err = st->err, st->rc)
                    : PGP_FAIL(err, PGP_ERR_PG, "cannot read backup archive: %s",
                               la_error(a, q));
        goto out;
    }
    struct archive_entry *ae;
    int r;
    char path[4096];
    while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        PgTarEntry e;
        e.tablespace = tablespace;
        rc = entry_from_archive(ae, &e, path, sizeof path, err);
        PgTarReader reader = {a, st, path};
        if (rc == 0)
            rc = st->h->on_entry(st->h->ud, &e, &reader, err);
        if (rc != 0)
            goto out;
    }
    if (r != ARCHIVE_EOF)
        rc = st->rc ? (*err = st->err, st->rc)
                    : PGP_FAIL(err, PGP_ERR_PG, "malformed backup archive: %s",
                               la_error(a, q));
    /* Drain what libarchive did not need so the next message is the boundary. */
    while (rc == 0 && !st->at_boundary) {
        const void *buf;
        if (tar_read(a, st, &buf) < 0) {
            *err = st->err;
            rc = st->rc;
        }
    }
out:
    archive_read_free(a);
    return rc;
}

struct PgTarManifest {
    StreamState *st;
    PgCopyMsg cur;             /* the CopyData message being read */
    size_t pos;
    bool done;                 /* the message after the manifest is in st->next */
};

int pg_tar_manifest_read(PgTarManifest *r, void *buf, size_t len, size_t *got, PgpErr *err)
{
    *got = 0;
    while (!r->done && r->pos == r->cur.len) {
        PgCopyMsg m;
        int rc = r->st->next_msg(r->st->src, &m, err);
        if (rc != 0)
            return rc;
        if (m.kind == PG_COPYMSG_DATA) {
            r->cur = m;
            r->pos = 0;
        } else if (m.kind != PG_COPYMSG_PROGRESS) {
            r->st->next = m;
            r->done = true;
        }
    }
    size_t n = r->cur.len - r->pos < len ? r->cur.len - r->pos : len;
    if (!r->done && n > 0) {
        memcpy(buf, (const uint8_t *)r->cur.data + r->pos, n);
        r->pos += n;
        *got = n;
    }
    return 0;
}

/* The manifest handed to on_manifest as it arrives; what it leaves unread is skipped. */
static int stream_manifest(StreamState *st, PgpErr *err)
{
    PgTarManifest r = {.st = st};
    int rc = st->h->on_manifest(st->h->ud, &r, err);
    uint8_t skip[4096];
    size_t got = 1;
    while (rc == 0 && got > 0)
        rc = pg_tar_manifest_read(&r, skip, sizeof skip, &got, err);
    return rc;
}

/* Without on_manifest: the manifest collected whole (the fuzz harness, the unit tests). */
static int collect_manifest(StreamState *st, char **out, size_t *out_len, PgpErr *err)
{
    PgTarManifest r = {.st = st};
    size_t cap = 64 * 1024, len = 0, got = 0;
    char *buf = malloc(cap);
    int rc = buf != NULL ? 0 : PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    do {
        if (rc == 0 && len + 1 == cap) {
            char *nb = cap * 2 > MANIFEST_MAX ? NULL : realloc(buf, cap * 2);
            if (nb == NULL)
                rc = PGP_FAIL(err, PGP_ERR_PG, "backup manifest is too large");
            buf = nb != NULL ? nb : buf;
            cap *= 2;
        }
        if (rc == 0)
            rc = pg_tar_manifest_read(&r, buf + len, cap - len - 1, &got, err);
        len += got;
    } while (rc == 0 && got > 0);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

int pg_basebackup_tar_load(PgpErr *err)
{
    return pg_libarchive_load(err);
}

static int stream_next(void *src, PgCopyMsg *msg, PgpErr *err)
{
    return pg_basebackup_next(src, msg, err);
}

int pg_basebackup_tar_consume(PgBackupStream *s, const PgTarHandler *h, char **manifest,
                              size_t *manifest_len, PgpErr *err)
{
    return pg_basebackup_tar_consume_from(stream_next, s, h, manifest, manifest_len, err);
}

int pg_basebackup_tar_consume_from(PgTarNext next_msg, void *src, const PgTarHandler *h,
                                   char **manifest, size_t *manifest_len, PgpErr *err)
{
    char *text = NULL;        /* collected (no on_manifest) */
    size_t text_len = 0;
    if (manifest != NULL) {
        *manifest = NULL;
        *manifest_len = 0;
    }
    int rc = pg_libarchive_load(err);
    if (rc != 0)
        return rc;
    StreamState st = {.next_msg = next_msg, .src = src, .h = h};
    int manifests = 0;
    rc = next_msg(src, &st.next, err);
    while (rc == 0 && st.next.kind != PG_COPYMSG_END) {
        PgCopyMsg m = st.next;
        if (m.kind == PG_COPYMSG_NEW_ARCHIVE) {
            uint32_t oid;
            rc = pg_basebackup_tar_tablespace(m.archive_name, &oid, err);
            if (rc == 0)
                rc = read_archive(&st, oid, pg_basebackup_tar_compressed(m.archive_name), err);
        } else if (m.kind == PG_COPYMSG_MANIFEST && h->on_manifest != NULL) {
            rc = manifests++ > 0 ? PGP_FAIL(err, PGP_ERR_PG, "the server sent two backup manifests")
                                 : stream_manifest(&st, err);
        } else if (m.kind == PG_COPYMSG_MANIFEST) {
            manifests++;
            free(text);
            text = NULL;
            rc = collect_manifest(&st, &text, &text_len, err);
        } else if (m.kind == PG_COPYMSG_PROGRESS) {
            if (h->on_progress)
                h->on_progress(h->ud, m.progress);
            rc = next_msg(src, &st.next, err);
        } else {
            rc = PGP_FAIL(err, PGP_ERR_PG, "unexpected data outside an archive in the backup stream");
        }
    }
    ZSTD_freeDCtx(st.dctx);
    free(st.zout);
    if (rc == 0 && manifests == 0)
        rc = PGP_FAIL(err, PGP_ERR_PG, "the server sent no backup manifest");
    if (rc == 0 && manifest != NULL) {
        *manifest = text;
        *manifest_len = text_len;
    } else {
        free(text);
    }
    return rc;
}
