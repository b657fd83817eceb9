/*
 * pgcontrol.c - reading global/pg_control and backup_label of a data directory (pgcontrol.h).
 * Read-only; never interprets more of pg_control than the fields whose offsets have been the
 * same in every layout since PostgreSQL 9.3, and only for versions whose CRC offset is known.
 *
 * The CRC-32C is computed here bit by bit: none of the libraries pgpitr links offers
 * Castagnoli's polynomial, and pg_control's 288 bytes are read at most once a minute.
 */
#include "pgpitr/pg/pgcontrol.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/pg/walname.h"

/* Offsets in ControlFileData (pg_control.h) of PostgreSQL 13 to 16 on 64-bit Linux. */
#define OFF_SYSID 0
#define OFF_VERSION 8
#define OFF_CHECKPOINT 32
#define OFF_REDO 40             /* checkPointCopy.redo */
#define OFF_TLI 48              /* checkPointCopy.ThisTimeLineID */
#define OFF_CRC_1300 288

uint32_t pg_crc32c(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int pg_control_parse(const void *buf, size_t len, PgControl *out, PgpErr *err)
{
    const uint8_t *p = buf;
    memset(out, 0, sizeof *out);
    if (len < OFF_CRC_1300 + 4)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "pg_control: %zu bytes, too short", len);
    out->version = le32(p + OFF_VERSION);
    if (out->version != PG_CONTROL_VERSION_13)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "pg_control: version %u is not supported (%u is)",
                        out->version, PG_CONTROL_VERSION_13);
    if (pg_crc32c(p, OFF_CRC_1300) != le32(p + OFF_CRC_1300))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "pg_control: CRC mismatch (torn or damaged)");
    out->system_identifier = le64(p + OFF_SYSID);
    out->checkpoint_lsn = le64(p + OFF_CHECKPOINT);
    out->redo_lsn = le64(p + OFF_REDO);
    out->redo_tli = le32(p + OFF_TLI);
    return 0;
}

int pg_control_read(const char *datadir, PgControl *out, PgpErr *err)
{
    char path[4096];
    uint8_t buf[PG_CONTROL_READ_MAX];
    int n = snprintf(path, sizeof path, "%s/global/pg_control", datadir);
    if (n < 0 || (size_t)n >= sizeof path)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "data directory path too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)   /* absent is an answer (pgcontrol.h), not an I/O error */
        return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "\"%s\" does not exist", path);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", path);
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t r = read(fd, buf + got, sizeof buf - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return PGP_FAIL_SYS(err, e, "cannot read \"%s\"", path);
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    int rc = pg_control_parse(buf, got, out, err);
    return rc != 0 ? pgp_err_context(err, "\"%s\"", path) : 0;
}

/* The value after "KEY: " on a line of its own, up to the end of the line, into out. */
static bool label_line(const char *text, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (len > klen && strncmp(line, key, klen) == 0 && len - klen < size) {
            memcpy(out, line + klen, len - klen);
            out[len - klen] = '\0';
            return true;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    return false;
}

bool pg_backup_label_start(const char *text, uint64_t *lsn, uint32_t *tli)
{
    char loc[128], tl[32], lsn_text[32];
    char *end = NULL;
    if (!label_line(text, "START WAL LOCATION: ", loc, sizeof loc) ||
        !label_line(text, "START TIMELINE: ", tl, sizeof tl))
        return false;
    size_t n = strcspn(loc, " ");
    if (n == 0 || n >= sizeof lsn_text)
        return false;
    memcpy(lsn_text, loc, n);
    lsn_text[n] = '\0';
    if (pg_lsn_parse(lsn_text, lsn, NULL) != 0 || tl[0] < '1' || tl[0] > '9')
        return false;
    unsigned long v = strtoul(tl, &end, 10);
    if (*end != '\0' || v == 0 || v > UINT32_MAX)
        return false;
    *tli = (uint32_t)v;
    return true;
}
