/*
 * test_basebackup_tar.c - the BASE_BACKUP copy stream as backup reads it
 * (pg_basebackup_tar_consume_from, src/pg/basebackup_tar.c): CopyData messages carrying tar
 * archives built here in memory (ustar headers as PostgreSQL writes them, without the two
 * end-of-archive blocks) and the manifest, handed over one message at a time like libpq does.
 */
#include "pgpitr/pg/basebackup_tar.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fx_err.h"

#define MAX_MSGS 16
#define MAX_ENTRIES 8

typedef struct Stream {
    uint8_t *msg[MAX_MSGS];
    size_t len[MAX_MSGS];
    size_t n, next;
    uint8_t *current;          /* the message last handed out, freed at the next call */
} Stream;

typedef struct Seen {
    char path[MAX_ENTRIES][64];
    uint32_t tablespace[MAX_ENTRIES], mode[MAX_ENTRIES];
    PgTarEntryType type[MAX_ENTRIES];
    char content[MAX_ENTRIES][16];
    size_t n;
} Seen;

static void add_msg(Stream *s, const void *bytes, size_t len)
{
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
    memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
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
    ck_assert_uint_lt(e->size, sizeof seen->content[i]);
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

Suite *suite_basebackup_tar(void)
{
    Suite *s = suite_create("basebackup_tar");
    TCase *tc = tcase_create("basebackup_tar");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, archives_and_manifest);
    tcase_add_test(tc, mode_is_permissions);
    tcase_add_test(tc, refused);
    suite_add_tcase(s, tc);
    return s;
}
