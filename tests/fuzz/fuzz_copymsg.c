/*
 * fuzz_copymsg.c - one CopyData payload of the BASE_BACKUP copy stream (pg_copymsg_parse,
 * src/pg/copymsg.c): bytes straight from the network. Input: the payload.
 * Properties: an accepted message points only inside the buffer, its archive name is one a
 * repository can safely use, and encoding the parsed message again (the server's
 * basebackup_copy.c layout) gives back exactly the input bytes.
 */
#include "fuzz.h"

#include "pgpitr/pg/pgconn.h"

static void check_accepted(const uint8_t *buf, size_t len, const PgCopyMsg *m)
{
    uint8_t *again = malloc(len + 1);
    size_t n = 0;
    if (again == NULL)
        abort();
    switch (m->kind) {
    case PG_COPYMSG_NEW_ARCHIVE: {
        size_t a = strlen(m->archive_name), l = strlen(m->tablespace_location);
        FUZZ_ASSERT(m->archive_name == (const char *)buf + 1 &&
                        m->tablespace_location == m->archive_name + a + 1,
                    "pointers outside the message");
        FUZZ_ASSERT(a > 0 && strcmp(m->archive_name, ".") != 0 &&
                        strcmp(m->archive_name, "..") != 0,
                    "archive name \"%s\"", m->archive_name);
        for (size_t i = 0; i < a; i++) {
            unsigned char c = (unsigned char)m->archive_name[i];
            FUZZ_ASSERT(c != '/' && c != '\\' && c >= 0x20 && c != 0x7f,
                        "byte 0x%02x in the archive name", c);
        }
        again[n++] = 'n';
        memcpy(again + n, m->archive_name, a + 1);
        n += a + 1;
        memcpy(again + n, m->tablespace_location, l + 1);
        n += l + 1;
        break;
    }
    case PG_COPYMSG_DATA:
        FUZZ_ASSERT(m->data == buf + 1 && m->len == len - 1, "data outside the message");
        again[n++] = 'd';
        memcpy(again + n, m->data, m->len);
        n += m->len;
        break;
    case PG_COPYMSG_PROGRESS:
        again[n++] = 'p';
        for (int i = 7; i >= 0; i--)
            again[n++] = (uint8_t)(m->progress >> (8 * i));
        break;
    case PG_COPYMSG_MANIFEST:
        again[n++] = 'm';
        break;
    default:
        FUZZ_ASSERT(0, "kind %d", (int)m->kind);
    }
    FUZZ_ASSERT(n == len && memcmp(again, buf, len) == 0,
                "message of kind %d encodes back to %zu bytes, not the %zu parsed", (int)m->kind,
                n, len);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    uint8_t *buf = fuzz_copy(data, size);
    PgCopyMsg m;
    PgpErr err, err2;
    int rc = pg_copymsg_parse(buf, size, &m, &err);
    FUZZ_ASSERT(pg_copymsg_parse(buf, size, NULL, &err2) == rc, "NULL out changes the answer");
    if (rc != 0) {
        fuzz_check_err(rc, &err, PGP_ERR_PG);
    } else {
        check_accepted(buf, size, &m);
    }
    free(buf);
    return 0;
}
