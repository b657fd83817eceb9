/*
 * test_basebackup_tar.c - the BASE_BACKUP copy stream as backup reads it
 * (pg_basebackup_tar_consume_from, src/pg/basebackup_tar.c): CopyData messages carrying tar
 * archives and the manifest, handed over one message at a time like libpq does. The archives
 * are written by libarchive (pax: ustar headers, extended headers for long names) without the
 * two end-of-archive blocks, as PostgreSQL sends them, and cut into messages of any size;
 * a few ustar headers are built or edited by hand where a hostile header is the point.
 */
#include "pgpitr/pg/basebackup_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "fx_err.h"

#define MAX_MSGS 65536          /* a tar of a few KiB cut into 1-byte messages */
#define MAX_ENTRIES 12

typedef struct Stream {
    uint8_t **msg;             /* MAX_MSGS of them, allocated by the first add_msg */
    size_t *len;
    size_t n, next;
    uint8_t *current;          /* the message last handed out, freed at the next call */
} Stream;

typedef struct Seen {
    char path[MAX_ENTRIES][256];
    uint32_t tablespace[MAX_ENTRIES], mode[MAX_ENTRIES];
    PgTarEntryType type[MAX_ENTRIES];
    uint64_t size[MAX_ENTRIES];
    int64_t mtime[MAX_ENTRIES];
    char content[MAX_ENTRIES][4096];   /* a file's bytes, or a symlink's target */
    size_t n;
} Seen;

static void add_msg(Stream *s, const void *bytes, size_t len)
{
    if (s->msg == NULL) {
        s->msg = calloc(MAX_MSGS, sizeof *s->msg);
        s->len = calloc(MAX_MSGS, sizeof *s->len);
        ck_assert(s->msg != NULL && s->len != NULL);
    }
    ck_assert_uint_lt(s->n, MAX_MSGS);
    s->msg[s->n] = malloc(len);
    memcpy(s->msg[s->n], bytes, len);
    s->len[s->n++] = len;
}

static void add_archive(Stream *s, const char *name, const char *location)
{
    char m[128];
    int n = snprintf(m, sizeof m, "n%s", name);
    size_t l = strlen(location);
    memcpy(m + n + 1, location, l + 1);
    add_msg(s, m, (size_t)n + 1 + l + 1);
}

/* Writes the checksum of a ustar header block, after h was built or edited. */
static void ustar_checksum(uint8_t *h)
{
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
}

/* One tar member (header + content padded to 512), as a 'd' message. */
static void add_member(Stream *s, const char *path, char type, const char *mode_octal,
                       const char *content, const char *link)
{
    uint8_t m[1 + 1024] = {'d'};
    uint8_t *h = m + 1;
    size_t size = content ? strlen(content) : 0;
    snprintf((char *)h, 100, "%s", path);
    snprintf((char *)h + 100, 8, "%s", mode_octal);
    snprintf((char *)h + 108, 8, "%07o", 26u);
    snprintf((char *)h + 116, 8, "%07o", 26u);
    snprintf((char *)h + 124, 12, "%011o", (unsigned)size);
    snprintf((char *)h + 136, 12, "%011o", 1795316400u);
    h[156] = (uint8_t)type;
    if (link != NULL)
        snprintf((char *)h + 157, 100, "%s", link);
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    ustar_checksum(h);
    if (size > 0)
        memcpy(h + 512, content, size);
    add_msg(s, m, 1 + 512 + (size > 0 ? 512 : 0));
}

static void add_manifest(Stream *s)
{
    add_msg(s, "m", 1);
    add_msg(s, "d{\"manifest\": true}\n", 20);
}

static int stream_next(void *ud, PgCopyMsg *out, PgpErr *err)
{
    Stream *s = ud;
    free(s->current);
    s->current = NULL;
    memset(out, 0, sizeof *out);
    if (s->next == s->n) {
        out->kind = PG_COPYMSG_END;
        return 0;
    }
    s->current = s->msg[s->next];
    s->msg[s->next] = NULL;
    size_t len = s->len[s->next++];
    return pg_copymsg_parse(s->current, len, out, err);
}

static void stream_free(Stream *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->msg[i]);
    free(s->msg);
    free(s->len);
    free(s->current);
}

static int on_entry(void *ud, const PgTarEntry *e, PgTarReader *r, PgpErr *err)
{
    Seen *seen = ud;
    ck_assert_uint_lt(seen->n, MAX_ENTRIES);
    size_t i = seen->n++;
    snprintf(seen->path[i], sizeof seen->path[i], "%s", e->path);
    seen->tablespace[i] = e->tablespace;
    seen->mode[i] = e->mode;
    seen->type[i] = e->type;
    seen->size[i] = e->size;
    seen->mtime[i] = e->mtime;
    if (e->size >= sizeof seen->content[i]) {
        /* More than a test file holds (a hostile size): read it all, which must fail. */
        char chunk[4096];
        for (uint64_t left = e->size; left > 0;) {
            size_t n = left < sizeof chunk ? (size_t)left : sizeof chunk;
            int rc = pg_tar_read(r, chunk, n, err);
            if (rc != 0)
                return rc;
            left -= n;
        }
        return 0;
    }
    if (e->type == PG_TAR_SYMLINK)
        snprintf(seen->content[i], sizeof seen->content[i], "%s", e->link_target);
    else if (e->size > 0)
        return pg_tar_read(r, seen->content[i], (size_t)e->size, err);
    return 0;
}

static int consume(Stream *s, Seen *seen, char **manifest, PgpErr *err)
{
    PgTarHandler h = {.ud = seen, .on_entry = on_entry};
    size_t len = 0;
    memset(seen, 0, sizeof *seen);
    int rc = pg_basebackup_tar_consume_from(stream_next, s, &h, manifest, &len, err);
    stream_free(s);
    return rc;
}

START_TEST(archives_and_manifest)
{
    Stream s = {0};
    Seen seen;
    char *manifest = NULL;
    PgpErr err;
    add_archive(&s, "base.tar", "");
    add_member(&s, "./base/1/", '5', "0000700", NULL, NULL);
    add_member(&s, "PG_VERSION", '0', "0000600", "15\n", NULL);
    add_member(&s, "pg_tblspc/16385", '2', "0000777", NULL, "/srv/ts1");
    add_msg(&s, "p\0\0\0\0\0\0\x10\0", 9);
    add_archive(&s, "16385.tar", "/srv/ts1");
    add_member(&s, "PG_15_202209061/1/16386", '0', "0000600", "row", NULL);
    add_manifest(&s);
    ck_assert_int_eq(consume(&s, &seen, &manifest, &err), 0);
    ck_assert_str_eq(manifest, "{\"manifest\": true}\n");
    free(manifest);
    ck_assert_uint_eq(seen.n, 4);
    ck_assert_str_eq(seen.path[0], "base/1");
    ck_assert_int_eq(seen.type[0], PG_TAR_DIR);
    ck_assert_uint_eq(seen.mode[0], 0700);
    ck_assert_str_eq(seen.path[1], "PG_VERSION");
    ck_assert_str_eq(seen.content[1], "15\n");
    ck_assert_int_eq(seen.type[2], PG_TAR_SYMLINK);
    ck_assert_str_eq(seen.content[2], "/srv/ts1");
    ck_assert_uint_eq(seen.tablespace[2], 0);
    ck_assert_str_eq(seen.path[3], "PG_15_202209061/1/16386");
    ck_assert_uint_eq(seen.tablespace[3], 16385);
    ck_assert_str_eq(seen.content[3], "row");
}
END_TEST

/* backup_manifest handed to on_manifest as it arrives: read `want` bytes a call (at most
 * `stop_after` in all, the rest left for the consumer to skip), never collected. */
typedef struct ManifestSeen {
    char text[256];
    size_t len, calls, want, stop_after;
    bool fail;
} ManifestSeen;

static int on_manifest(void *ud, PgTarManifest *r, PgpErr *err)
{
    ManifestSeen *ms = ud;
    size_t got = 1;
    while (got > 0 && ms->len < ms->stop_after) {
        ck_assert_uint_lt(ms->len + ms->want, sizeof ms->text);
        int rc = pg_tar_manifest_read(r, ms->text + ms->len, ms->want, &got, err);
        if (rc != 0)
            return rc;
        ms->len += got;
        ms->calls++;
    }
    return ms->fail ? PGP_FAIL(err, PGP_ERR_CORRUPT, "manifest refused by its reader") : 0;
}

static int on_entry_none(void *ud, const PgTarEntry *e, PgTarReader *r, PgpErr *err)
{
    (void)ud, (void)r, (void)err;
    ck_assert_msg(0, "unexpected entry \"%s\"", e->path);
    return 0;
}

/* The manifest in pieces: three CopyData messages with a progress message between them. */
static int consume_streamed(ManifestSeen *ms, bool twice, PgpErr *err)
{
    Stream s = {0};
    add_msg(&s, "m", 1);
    add_msg(&s, "d{\"a\": ", 7);
    add_msg(&s, "p\0\0\0\0\0\0\x10\0", 9);
    add_msg(&s, "d1,\n\"b\"", 7);
    add_msg(&s, "d: 2}\n", 6);
    if (twice) {
        add_msg(&s, "m", 1);
        add_msg(&s, "d{}\n", 4);
    }
    PgTarHandler h = {.ud = ms, .on_entry = on_entry_none, .on_manifest = on_manifest};
    int rc = pg_basebackup_tar_consume_from(stream_next, &s, &h, NULL, NULL, err);
    stream_free(&s);
    return rc;
}

START_TEST(manifest_streamed)
{
    PgpErr err;
    ManifestSeen ms = {.want = 4, .stop_after = SIZE_MAX};
    ck_assert_int_eq(consume_streamed(&ms, false, &err), 0);
    ck_assert_uint_eq(ms.len, 17);
    ck_assert(memcmp(ms.text, "{\"a\": 1,\n\"b\": 2}\n", 17) == 0);
    ck_assert_uint_ge(ms.calls, 5);                 /* pieces no larger than asked */
    ms = (ManifestSeen){.want = 4, .stop_after = 4};   /* the rest is skipped, not an error */
    ck_assert_int_eq(consume_streamed(&ms, false, &err), 0);
    ck_assert_uint_eq(ms.len, 4);
    ms = (ManifestSeen){.want = 64, .stop_after = SIZE_MAX, .fail = true};
    ck_assert_int_eq(consume_streamed(&ms, false, &err), PGP_ERR_CORRUPT);
    fx_assert_printable_err(&err, "manifest refused by its reader");
    ms = (ManifestSeen){.want = 64, .stop_after = SIZE_MAX};
    ck_assert_int_eq(consume_streamed(&ms, true, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "the server sent two backup manifests");
}
END_TEST

/* A tar mode field may hold bits above the permissions, which libarchive passes on: backup
 * must hand over permission bits only, or the manifest it writes at the very end of the
 * backup is refused (found by tests/fuzz/fuzz_basebackup). */
START_TEST(mode_is_permissions)
{
    Stream s = {0};
    Seen seen;
    char *manifest = NULL;
    PgpErr err;
    add_archive(&s, "base.tar", "");
    add_member(&s, "PG_VERSION", '0', "7000644", "15\n", NULL);
    add_member(&s, "global", '5', "0040700", NULL, NULL);
    add_manifest(&s);
    ck_assert_int_eq(consume(&s, &seen, &manifest, &err), 0);
    free(manifest);
    ck_assert_uint_eq(seen.n, 2);
    ck_assert_uint_eq(seen.mode[0], 0644);
    ck_assert_str_eq(seen.content[0], "15\n");
    ck_assert_uint_eq(seen.mode[1], 0700);
}
END_TEST

START_TEST(refused)
{
    static const char *const bad_paths[] = {"../etc/passwd", "/etc/passwd", "base/./1",
                                            "base//1", "./"};
    for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
        Stream s = {0};
        Seen seen;
        char *manifest = NULL;
        PgpErr err;
        add_archive(&s, "base.tar", "");
        add_member(&s, bad_paths[i], '0', "0000600", "x", NULL);
        add_manifest(&s);
        ck_assert_int_eq(consume(&s, &seen, &manifest, &err), PGP_ERR_PG);
        ck_assert_ptr_null(manifest);
        ck_assert_uint_eq(seen.n, 0);
        fx_assert_printable_err(&err, "invalid path");
    }
    Stream s = {0};
    Seen seen;
    char *manifest = NULL;
    PgpErr err;
    add_archive(&s, "base.tar", "");
    add_member(&s, "PG_VERSION", '0', "0000600", "15\n", NULL);
    ck_assert_int_eq(consume(&s, &seen, &manifest, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "the server sent no backup manifest");
    Stream s2 = {0};
    add_archive(&s2, "base.tgz", "");
    add_manifest(&s2);
    ck_assert_int_eq(consume(&s2, &seen, &manifest, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "unexpected archive \"base.tgz\"");
}
END_TEST

/* ---- tar archives written by libarchive, cut as the copy stream may cut them ------------- */

typedef struct Member {
    const char *path;
    PgTarEntryType type;
    unsigned mode;
    const char *content;       /* files: content_len bytes; symlinks: the target */
    size_t content_len;
} Member;

typedef struct Tar {
    uint8_t *buf;
    size_t len;
} Tar;

/* A pax archive (ustar headers, pax extended headers only for what ustar cannot hold: long
 * names) of these members, without the two zero blocks that end it: PostgreSQL leaves them
 * out of BASE_BACKUP's archives. */
static Tar tar_write(const Member *m, size_t n)
{
    Tar t = {malloc(1 << 20), 0};
    ck_assert_ptr_nonnull(t.buf);
    struct archive *a = archive_write_new();
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_memory(a, t.buf, 1 << 20, &t.len), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        ck_assert_ptr_nonnull(e);
        archive_entry_set_pathname(e, m[i].path);
        archive_entry_set_perm(e, m[i].mode);
        archive_entry_set_mtime(e, 1795316400, 0);
        archive_entry_set_filetype(e, m[i].type == PG_TAR_FILE  ? AE_IFREG
                                      : m[i].type == PG_TAR_DIR ? AE_IFDIR
                                                                : AE_IFLNK);
        if (m[i].type == PG_TAR_SYMLINK)
            archive_entry_set_symlink(e, m[i].content);
        archive_entry_set_size(e, m[i].type == PG_TAR_FILE ? (la_int64_t)m[i].content_len : 0);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        if (m[i].type == PG_TAR_FILE && m[i].content_len > 0)
            ck_assert_int_eq(archive_write_data(a, m[i].content, m[i].content_len),
                             (la_ssize_t)m[i].content_len);
        archive_entry_free(e);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    ck_assert_uint_ge(t.len, 1024);
    for (size_t i = t.len - 1024; i < t.len; i++)
        ck_assert_uint_eq(t.buf[i], 0);
    t.len -= 1024;
    return t;
}

/* The archive as CopyData messages of chunk bytes (the last one shorter). */
static void add_chunks(Stream *s, const Tar *t, size_t chunk)
{
    uint8_t *m = malloc(1 + chunk);
    ck_assert_ptr_nonnull(m);
    m[0] = 'd';
    for (size_t off = 0; off < t->len; off += chunk) {
        size_t n = t->len - off < chunk ? t->len - off : chunk;
        memcpy(m + 1, t->buf + off, n);
        add_msg(s, m, 1 + n);
    }
    free(m);
}

/* The header of the member whose name field is path (ustar: the first 100 bytes). */
static uint8_t *tar_header(Tar *t, const char *path)
{
    for (size_t off = 0; off + 512 <= t->len; off += 512)
        if (strncmp((char *)t->buf + off, path, 100) == 0 &&
            memcmp(t->buf + off + 257, "ustar", 5) == 0)
            return t->buf + off;
    ck_abort_msg("no header for \"%s\"", path);
    return NULL;
}

static char long_dir[200];
static char long_path[260];
static char long_link[240];
static char big[3000];

static void long_names(void)
{
    memset(long_dir, 0, sizeof long_dir);
    strcpy(long_dir, "base/16384/");
    memset(long_dir + 11, 'd', 140);                /* 151 bytes: more than ustar's 100 */
    snprintf(long_path, sizeof long_path, "%s/%s", long_dir,
             "a_relation_file_name_that_is_long_too_0123456789");
    strcpy(long_link, "/srv/");
    memset(long_link + 5, 't', 200);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + (i * 7) % 26);
}

static const char *long_names_dir(void)
{
    long_names();
    return long_dir;
}

static const Member base_members[] = {
    {"PG_VERSION", PG_TAR_FILE, 0600, "15\n", 3},
    {"base/1/", PG_TAR_DIR, 0700, NULL, 0},
    {"base/1/1259", PG_TAR_FILE, 0600, big, sizeof big},
    {"base/1/pg_filenode.map.empty", PG_TAR_FILE, 0600, "", 0},
    {long_dir, PG_TAR_DIR, 0700, NULL, 0},
    {long_path, PG_TAR_FILE, 0640, "long", 4},
    {"pg_tblspc/16385", PG_TAR_SYMLINK, 0777, long_link, 0},
};
#define N_BASE (sizeof base_members / sizeof base_members[0])

/* Entry i is member m of archive tablespace: path without the trailing '/', contents read
 * whole, permissions, mtime. */
static void assert_seen(const Seen *seen, size_t i, const Member *m, uint32_t tablespace)
{
    size_t n = strlen(m->path);
    ck_assert_msg(strncmp(seen->path[i], m->path, n - (m->path[n - 1] == '/')) == 0 &&
                      strlen(seen->path[i]) == n - (m->path[n - 1] == '/'),
                  "entry %zu: \"%s\", expected \"%s\"", i, seen->path[i], m->path);
    ck_assert_int_eq(seen->type[i], m->type);
    ck_assert_uint_eq(seen->tablespace[i], tablespace);
    ck_assert_uint_eq(seen->mode[i], m->mode);
    ck_assert_int_eq(seen->mtime[i], 1795316400);
    if (m->type == PG_TAR_SYMLINK) {
        ck_assert_str_eq(seen->content[i], m->content);
        return;
    }
    ck_assert_uint_eq(seen->size[i], m->content_len);
    if (m->type == PG_TAR_FILE)
        ck_assert(memcmp(seen->content[i], m->content, m->content_len) == 0);
}

START_TEST(chunk_boundaries)
{
    long_names();
    Tar base = tar_write(base_members, N_BASE);
    const Member ts[] = {{"PG_15_202209061/", PG_TAR_DIR, 0700, NULL, 0},
                         {"PG_15_202209061/1/16386", PG_TAR_FILE, 0600, big, 1500}};
    Tar tablespace = tar_write(ts, 2);
    const size_t chunks[] = {1, 2, 7, 511, 512, 513, 1000, 4099, 1 << 20};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        Stream s = {0};
        Seen seen;
        char *manifest = NULL;
        PgpErr err = {0};
        add_archive(&s, "base.tar", "");
        add_chunks(&s, &base, chunks[c]);
        add_msg(&s, "p\0\0\0\0\0\0\x10\0", 9);
        add_archive(&s, "16385.tar", "/srv/ts1");
        add_chunks(&s, &tablespace, chunks[c]);
        add_manifest(&s);
        ck_assert_msg(consume(&s, &seen, &manifest, &err) == 0, "chunk %zu: %s", chunks[c],
                      err.msg);
        ck_assert_str_eq(manifest, "{\"manifest\": true}\n");
        free(manifest);
        ck_assert_uint_eq(seen.n, N_BASE + 2);
        for (size_t i = 0; i < N_BASE; i++)
            assert_seen(&seen, i, &base_members[i], 0);
        assert_seen(&seen, N_BASE, &ts[0], 16385);
        assert_seen(&seen, N_BASE + 1, &ts[1], 16385);
    }
    free(base.buf);
    free(tablespace.buf);
}
END_TEST

/* Consumes base.tar = t cut after len bytes (as 513-byte messages), then a manifest. */
static int consume_cut(const Tar *t, size_t len, Seen *seen, PgpErr *err)
{
    Tar cut = {t->buf, len};
    Stream s = {0};
    char *manifest = NULL;
    add_archive(&s, "base.tar", "");
    add_chunks(&s, &cut, 513);
    add_manifest(&s);
    int rc = consume(&s, seen, &manifest, err);
    if (rc != 0)
        ck_assert_ptr_null(manifest);
    free(manifest);
    return rc;
}

/* A stream that ends inside a member (its header or its content) is refused: PostgreSQL
 * leaves out the end-of-archive blocks, the reader supplies them at the next message, and a
 * member cut short is then an error, never a shorter file. Two cuts no tar reader can see,
 * which backup_finish catches by comparing every file with PostgreSQL's backup_manifest
 * (count, size, SHA-256): exactly between two members (the archive looks complete), and in
 * the last 1024 bytes of a file's content (the supplied zero blocks complete it). */
START_TEST(truncated_stream_refused)
{
    long_names();
    Tar t = tar_write(base_members, N_BASE);
    size_t h = (size_t)(tar_header(&t, "base/1/1259") - t.buf);
    size_t d = (size_t)(tar_header(&t, "base/1/") - t.buf);
    Seen seen;
    PgpErr err = {0};
    /* Inside the first header: not even a tar archive. */
    ck_assert_int_eq(consume_cut(&t, 100, &seen, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "cannot read backup archive");
    ck_assert_uint_eq(seen.n, 0);
    /* Inside a later header (its checksum no longer matches). */
    ck_assert_int_eq(consume_cut(&t, d + 100, &seen, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "malformed backup archive");
    ck_assert_uint_eq(seen.n, 1);
    /* Inside a file's content, at several places. */
    const size_t into[] = {512, 512 + 1, 512 + 1000, 512 + sizeof big - 1025};
    for (size_t i = 0; i < sizeof into / sizeof into[0]; i++) {
        ck_assert_int_eq(consume_cut(&t, h + into[i], &seen, &err), PGP_ERR_PG);
        fx_assert_printable_err(&err, "backup stream ended inside \"base/1/1259\"");
        ck_assert_uint_eq(seen.n, 3);
    }
    /* The two cuts the reader cannot see (see above), as the reader handles them today. */
    ck_assert_int_eq(consume_cut(&t, h, &seen, &err), 0);
    ck_assert_uint_eq(seen.n, 2);
    ck_assert_int_eq(consume_cut(&t, h + 512 + sizeof big - 1, &seen, &err), 0);
    ck_assert_uint_eq(seen.n, 3);
    ck_assert(memcmp(seen.content[2], big, sizeof big - 1) == 0);
    ck_assert_int_eq(seen.content[2][sizeof big - 1], 0);
    /* Whole: fine. */
    ck_assert_int_eq(consume_cut(&t, t.len, &seen, &err), 0);
    ck_assert_uint_eq(seen.n, N_BASE);
    free(t.buf);
}
END_TEST

/* A header edited after libarchive wrote it (and its checksum recomputed). */
static int consume_edited(size_t off, const void *field, size_t len, Seen *seen, PgpErr *err)
{
    Tar t = tar_write(base_members, 2);     /* PG_VERSION (3 bytes), base/1/ */
    uint8_t *h = tar_header(&t, "PG_VERSION");
    memcpy(h + off, field, len);
    ustar_checksum(h);
    int rc = consume_cut(&t, t.len, seen, err);
    free(t.buf);
    return rc;
}

START_TEST(hostile_headers)
{
    Seen seen;
    PgpErr err = {0};
    /* Mode bits above the permissions (file type, anything): only permissions are kept. */
    ck_assert_int_eq(consume_edited(100, "7177777", 8, &seen, &err), 0);
    ck_assert_uint_eq(seen.n, 2);
    ck_assert_uint_eq(seen.mode[0], 07777);
    ck_assert_str_eq(seen.content[0], "15\n");
    /* A size larger than what follows: 8 GiB - 1 in octal, 64 GiB - 1 in 13 digits. */
    ck_assert_int_eq(consume_edited(124, "77777777777", 12, &seen, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "backup stream ended inside \"PG_VERSION\"");
    ck_assert_uint_eq(seen.size[0], (UINT64_C(1) << 33) - 1);
    ck_assert_int_eq(consume_edited(124, "7777777777777", 12, &seen, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "backup stream ended inside \"PG_VERSION\"");
    /* Base-256 sizes: negative, and beyond 64 bits: refused before any entry. */
    ck_assert_int_eq(consume_edited(124, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12,
                                    &seen, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "malformed backup archive");
    ck_assert_uint_eq(seen.n, 0);
    ck_assert_int_eq(consume_edited(124, "\x80\x7f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 12,
                                    &seen, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "malformed backup archive");
    ck_assert_uint_eq(seen.n, 0);
    /* Paths that leave the data directory, short (ustar) or long (pax). */
    char long_up[300];
    snprintf(long_up, sizeof long_up, "%s/../../../../etc/cron.d/x", long_names_dir());
    const char *const up[] = {"base/../../etc/passwd", "/etc/passwd", long_up};
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
        const Member m[] = {{"PG_VERSION", PG_TAR_FILE, 0600, "15\n", 3},
                            {up[i], PG_TAR_FILE, 0600, "x", 1}};
        Tar t = tar_write(m, 2);
        ck_assert_int_eq(consume_cut(&t, t.len, &seen, &err), PGP_ERR_PG);
        fx_assert_printable_err(&err, "invalid path");
        ck_assert_uint_eq(seen.n, 1);
        free(t.buf);
    }
}
END_TEST

/* The archive as one zstd frame (what BASE_BACKUP ... COMPRESSION 'zstd' sends). */
static Tar tar_zstd(const Tar *t)
{
    Tar z = {malloc(ZSTD_compressBound(t->len)), 0};
    ck_assert_ptr_nonnull(z.buf);
    z.len = ZSTD_compress(z.buf, ZSTD_compressBound(t->len), t->buf, t->len, 1);
    ck_assert(!ZSTD_isError(z.len));
    return z;
}

/* Server-side compression: "base.tar.zst" / "16385.tar.zst" hold the same tar as one zstd
 * frame; the entries come out exactly as from the plain archives, wherever the messages cut
 * the compressed bytes. */
START_TEST(zstd_archives)
{
    long_names();
    Tar plain = tar_write(base_members, N_BASE);
    const Member ts[] = {{"PG_15_202209061/", PG_TAR_DIR, 0700, NULL, 0},
                         {"PG_15_202209061/1/16386", PG_TAR_FILE, 0600, big, 1500}};
    Tar tplain = tar_write(ts, 2);
    Tar base = tar_zstd(&plain), tablespace = tar_zstd(&tplain);
    ck_assert(pg_basebackup_tar_compressed("base.tar.zst"));
    ck_assert(!pg_basebackup_tar_compressed("base.tar"));
    ck_assert(!pg_basebackup_tar_compressed(".tar.zst"));
    const size_t chunks[] = {1, 3, 64, 1 << 20};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        Stream s = {0};
        Seen seen;
        char *manifest = NULL;
        PgpErr err = {0};
        add_archive(&s, "base.tar.zst", "");
        add_chunks(&s, &base, chunks[c]);
        add_archive(&s, "16385.tar.zst", "/srv/ts1");
        add_chunks(&s, &tablespace, chunks[c]);
        add_manifest(&s);
        ck_assert_msg(consume(&s, &seen, &manifest, &err) == 0, "chunk %zu: %s", chunks[c],
                      err.msg);
        ck_assert_str_eq(manifest, "{\"manifest\": true}\n");
        free(manifest);
        ck_assert_uint_eq(seen.n, N_BASE + 2);
        for (size_t i = 0; i < N_BASE; i++)
            assert_seen(&seen, i, &base_members[i], 0);
        assert_seen(&seen, N_BASE + 1, &ts[1], 16385);
    }
    free(plain.buf);
    free(tplain.buf);
    free(base.buf);
    free(tablespace.buf);
}
END_TEST

/* A compressed archive cut anywhere inside its frame, or not zstd at all, is refused with a
 * message saying so (or, cut inside a member, as a plain archive cut there would be). */
START_TEST(zstd_archive_damaged)
{
    long_names();
    Tar plain = tar_write(base_members, N_BASE);
    Tar z = tar_zstd(&plain);
    const size_t cuts[] = {0, 1, z.len / 2, z.len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        Stream s = {0};
        Seen seen;
        char *manifest = NULL;
        PgpErr err = {0};
        Tar cut = {z.buf, cuts[i]};
        add_archive(&s, "base.tar.zst", "");
        add_chunks(&s, &cut, 100);
        add_manifest(&s);
        ck_assert_int_eq(consume(&s, &seen, &manifest, &err), PGP_ERR_PG);
        ck_assert_ptr_null(manifest);
        ck_assert_msg(strstr(err.msg, "compressed backup archive ends inside its zstd frame") ||
                          strstr(err.msg, "backup stream ended inside"),
                      "cut at %zu: %s", cuts[i], err.msg);
    }
    Stream s = {0};
    Seen seen;
    char *manifest = NULL;
    PgpErr err = {0};
    add_archive(&s, "base.tar.zst", "");
    add_chunks(&s, &plain, 512);   /* a plain tar under a .zst name */
    add_manifest(&s);
    ck_assert_int_eq(consume(&s, &seen, &manifest, &err), PGP_ERR_PG);
    fx_assert_printable_err(&err, "malformed compressed backup archive");
    ck_assert_ptr_null(manifest);
    free(plain.buf);
    free(z.buf);
}
END_TEST

Suite *suite_basebackup_tar(void)
{
    Suite *s = suite_create("basebackup_tar");
    TCase *tc = tcase_create("basebackup_tar");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, archives_and_manifest);
    tcase_add_test(tc, mode_is_permissions);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, chunk_boundaries);
    tcase_add_test(tc, truncated_stream_refused);
    tcase_add_test(tc, hostile_headers);
    tcase_add_test(tc, zstd_archives);
    tcase_add_test(tc, zstd_archive_damaged);
    tcase_add_test(tc, manifest_streamed);
    suite_add_tcase(s, tc);
    return s;
}
