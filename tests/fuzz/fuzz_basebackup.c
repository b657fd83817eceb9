/*
 * fuzz_basebackup.c - the BASE_BACKUP copy stream as backup reads it: CopyData messages
 * (pg_copymsg_parse, src/pg/copymsg.c) carrying tar archives that libarchive reads
 * (pg_basebackup_tar_consume_from, src/pg/basebackup_tar.c) and the backup_manifest.
 * Input: the messages, each as a 2-byte big-endian length and that many payload bytes (the
 * last one cut short by the end of the input); the stream ends cleanly after the last.
 * Like libpq's buffer, each message lives in its own allocation freed at the next call, so
 * ASan sees any use of a message after its time.
 * Properties: every entry handed to backup has a normalized relative path without "." or
 * ".." and the tablespace of its archive, a symlink has a target, a file's content reads in
 * full or fails with a clean error; the manifest is NUL-terminated; errors are clean lines.
 */
#include "fuzz.h"

#include "pgpitr/pg/basebackup_tar.h"
#include "pgpitr/pg/pgconn.h"

typedef struct Source {
    FuzzIn in;
    uint8_t *msg;           /* the message last handed out */
    bool failed;
    PgpErr failure;
    uint32_t archive_oid;   /* of the last archive started */
    uint32_t prev_oid;      /* of the one before: libarchive reads ahead, so the last entries
                               of an archive may reach backup once the next one has begun */
} Source;

static int source_next(void *ud, PgCopyMsg *out, PgpErr *err)
{
    Source *s = ud;
    free(s->msg);
    s->msg = NULL;
    memset(out, 0, sizeof *out);
    if (s->failed) {   /* a failed stream replays its error, like pg_basebackup_next */
        *err = s->failure;
        return s->failure.code;
    }
    if (s->in.n == 0) {
        out->kind = PG_COPYMSG_END;
        return 0;
    }
    size_t len = fuzz_u16(&s->in);
    if (len > s->in.n)
        len = s->in.n;
    s->msg = malloc(len ? len : 1);
    if (s->msg == NULL)
        abort();
    memcpy(s->msg, s->in.p, len);
    s->in.p += len;
    s->in.n -= len;
    int rc = pg_copymsg_parse(s->msg, len, out, &s->failure);
    if (rc != 0) {
        fuzz_check_err(rc, &s->failure, PGP_ERR_PG);
        s->failed = true;
        *err = s->failure;
        return rc;
    }
    if (out->kind == PG_COPYMSG_NEW_ARCHIVE) {
        s->prev_oid = s->archive_oid;
        if (pg_basebackup_tar_tablespace(out->archive_name, &s->archive_oid, NULL) != 0)
            s->archive_oid = UINT32_MAX;   /* consume refuses it before reading entries */
    }
    return 0;
}

static void check_path(const char *p)
{
    size_t n = strlen(p);
    FUZZ_ASSERT(n > 0 && p[0] != '/' && p[n - 1] != '/', "path \"%s\"", p);
    for (const char *seg = p; seg != NULL;) {
        const char *slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        FUZZ_ASSERT(len > 0 && !(len == 1 && seg[0] == '.') &&
                        !(len == 2 && seg[0] == '.' && seg[1] == '.'),
                    "segment of \"%s\"", p);
        seg = slash ? slash + 1 : NULL;
    }
}

static int on_entry(void *ud, const PgTarEntry *e, PgTarReader *r, PgpErr *err)
{
    Source *s = ud;
    check_path(e->path);
    FUZZ_ASSERT(e->tablespace == s->archive_oid || e->tablespace == s->prev_oid,
                "entry of tablespace %u in the archive of %u (or %u)", e->tablespace,
                s->archive_oid, s->prev_oid);
    FUZZ_ASSERT(e->mode <= 07777, "mode %o", e->mode);
    if (e->type == PG_TAR_SYMLINK)
        FUZZ_ASSERT(e->link_target != NULL && e->link_target[0] != '\0', "symlink target");
    if (e->type != PG_TAR_FILE) {
        FUZZ_ASSERT(e->size == 0, "size %llu for a non-file", (unsigned long long)e->size);
        return 0;
    }
    static uint8_t buf[16384];
    for (uint64_t left = e->size; left > 0;) {
        size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
        int rc = pg_tar_read(r, buf, n, err);
        if (rc != 0) {
            fuzz_check_err(rc, err, -1);
            return rc;
        }
        left -= n;
    }
    return 0;
}

static void on_progress(void *ud, uint64_t done)
{
    (void)ud;
    (void)done;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    Source src = {.in = {data, size}, .archive_oid = UINT32_MAX, .prev_oid = UINT32_MAX};
    PgTarHandler h = {.ud = &src, .on_entry = on_entry, .on_progress = on_progress};
    char *manifest = NULL;
    size_t len = 0;
    PgpErr err;
    int rc = pg_basebackup_tar_consume_from(source_next, &src, &h, &manifest, &len, &err);
    if (rc != 0) {
        fuzz_check_err(rc, &err, -1);
        FUZZ_ASSERT(manifest == NULL, "manifest kept after a failure");
    } else {
        FUZZ_ASSERT(manifest != NULL && manifest[len] == '\0', "manifest not terminated");
    }
    free(manifest);
    free(src.msg);
    return 0;
}
