/*
 * copymsg.c - parsing one CopyData payload of the PostgreSQL 15+ BASE_BACKUP copy stream
 * (server side: src/backend/backup/basebackup_copy.c, "copystream"). Pure: no I/O, no
 * allocation; every byte is bounds-checked because it comes from the network.
 *
 *   'n' archive_name NUL tablespace_location NUL    start of an archive ("" = data dir)
 *   'd' bytes...                                    archive or manifest data
 *   'p' int64 big-endian                            bytes sent so far
 *   'm'                                             the backup manifest follows
 */
#include "pgpitr/pg/pgconn.h"

#include <stdio.h>
#include <string.h>

/* Archive names become file names in the repository: "base.tar", "16385.tar", possibly
 * with a compression suffix. Refuse anything that could escape a directory or break a line. */
static const char *archive_name_problem(const char *name, size_t len)
{
    if (len == 0)
        return "empty archive name";
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return "archive name is a directory reference";
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == '/' || ch == '\\')
            return "archive name contains a path separator";
        if (ch < 0x20 || ch == 0x7f)
            return "archive name contains a control character";
    }
    return NULL;
}

static int parse_new_archive(const uint8_t *buf, size_t len, PgCopyMsg *m, PgpErr *err)
{
    const uint8_t *name = buf + 1;
    const uint8_t *end = buf + len;
    const uint8_t *nul1 = memchr(name, '\0', (size_t)(end - name));
    if (nul1 == NULL)
        return PGP_FAIL(err, PGP_ERR_PG, "malformed new-archive message: archive name is "
                        "not terminated (%zu bytes)", len);
    const uint8_t *loc = nul1 + 1;
    const uint8_t *nul2 = memchr(loc, '\0', (size_t)(end - loc));
    if (nul2 == NULL)
        return PGP_FAIL(err, PGP_ERR_PG, "malformed new-archive message: tablespace "
                        "location is not terminated (%zu bytes)", len);
    if (nul2 + 1 != end)
        return PGP_FAIL(err, PGP_ERR_PG, "malformed new-archive message: %zu unexpected "
                        "bytes after the tablespace location", (size_t)(end - nul2 - 1));
    const char *why = archive_name_problem((const char *)name, (size_t)(nul1 - name));
    if (why != NULL)
        return PGP_FAIL(err, PGP_ERR_PG, "malformed new-archive message: %s", why);
    m->kind = PG_COPYMSG_NEW_ARCHIVE;
    m->archive_name = (const char *)name;
    m->tablespace_location = (const char *)loc;
    return 0;
}

int pg_copymsg_parse(const uint8_t *buf, size_t len, PgCopyMsg *out, PgpErr *err)
{
    PgCopyMsg m = {0};
    if (buf == NULL || len == 0)
        return PGP_FAIL(err, PGP_ERR_PG, "malformed backup stream message: empty message");
    switch (buf[0]) {
    case 'n': {
        int rc = parse_new_archive(buf, len, &m, err);
        if (rc != 0)
            return rc;
        break;
    }
    case 'd':
        m.kind = PG_COPYMSG_DATA;
        m.data = buf + 1;
        m.len = len - 1;
        break;
    case 'p':
        if (len != 1 + 8)
            return PGP_FAIL(err, PGP_ERR_PG, "malformed progress message: %zu bytes, "
                            "expected 9", len);
        m.kind = PG_COPYMSG_PROGRESS;
        for (size_t i = 1; i < 9; i++)
            m.progress = (m.progress << 8) | buf[i];
        break;
    case 'm':
        if (len != 1)
            return PGP_FAIL(err, PGP_ERR_PG, "malformed manifest message: %zu unexpected "
                            "bytes", len - 1);
        m.kind = PG_COPYMSG_MANIFEST;
        break;
    default:
        return PGP_FAIL(err, PGP_ERR_PG, "malformed backup stream message: unknown type "
                        "byte 0x%02X (%zu bytes)",
                        buf[0], len);
    }
    if (out != NULL)
        *out = m;
    return 0;
}
