/*
 * pgconn.h - talking to a PostgreSQL server over libpq in replication mode: connecting,
 * IDENTIFY_SYSTEM, SHOW, and the BASE_BACKUP copy stream (PostgreSQL 15 protocol: one COPY
 * OUT whose CopyData messages start with a type byte: 'n' new archive, 'd' data, 'p'
 * progress, 'm' manifest follows).
 *
 * The copy stream is pulled one message at a time (pg_basebackup_next) so that a pull-style
 * consumer such as libarchive's read callback can sit directly on top of it. Every message
 * is bounds-checked (pg_copymsg_parse is pure and unit-tested): bytes from the network are
 * never trusted.
 */
#ifndef PGPITR_PGCONN_H
#define PGPITR_PGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

typedef struct PgConn PgConn;

typedef struct PgSystem {
    uint64_t system_identifier;
    uint32_t timeline;
    uint64_t xlogpos;
    int server_version_num;   /* e.g. 150018 */
    int pg_major;             /* 15 */
} PgSystem;

/* Opens a physical replication connection. conninfo is a URI or key=value string (NULL or
 * "" for libpq defaults and PG* environment variables); replication=true is forced, and
 * application_name=pgpitr (fallback only: the user's application_name/PGAPPNAME win),
 * connect_timeout=10 (unless set, or PGCONNECT_TIMEOUT) and TCP keepalives (a dead peer
 * surfaces after ~90 s instead of a read that never returns) are defaults the conninfo
 * may override. Server NOTICEs/WARNINGs go to log.h, never straight to stderr.
 * Failures are PGP_ERR_PG "cannot connect to PostgreSQL: <message on one line>" with a
 * HINT where the cause is common: role without REPLICATION, pg_hba.conf missing a
 * replication line, max_wal_senders exhausted, server down. */
int pg_conn_open_replication(const char *conninfo, PgConn **out, PgpErr *err);
void pg_conn_close(PgConn *c);   /* NULL no-op */

/* "host:port" of the server c is connected to (host: a name, an address or a socket
 * directory, as libpq reports it), at most size - 1 bytes on one line. */
#define PG_SERVER_NAME_MAX 256
void pg_conn_server(const PgConn *c, char *out, size_t size);

/* Commands on a connection that is streaming a backup fail with PGP_ERR_INTERNAL; on one
 * left unusable by an earlier error (see pg_basebackup_next) with PGP_ERR_PG. */
int pg_identify_system(PgConn *c, PgSystem *out, PgpErr *err);
/* SHOW name in replication mode; *value malloc'd. name must be a setting name
 * ([A-Za-z0-9_.], < 64 bytes), else PGP_ERR_USAGE. */
int pg_show(PgConn *c, const char *name, char **value, PgpErr *err);

/* Whether the server is in recovery (a standby, or a server replaying an archive) right
 * now: SHOW in_hot_standby, which a replication connection may run. */
int pg_in_recovery(PgConn *c, bool *in_recovery, PgpErr *err);

/* Server-side compression of the BASE_BACKUP stream (PostgreSQL 15 COMPRESSION option). */
#define PG_SERVER_ZSTD_LEVEL_MIN 1
#define PG_SERVER_ZSTD_LEVEL_MAX 22
typedef struct PgServerCompress {
    bool zstd;                 /* false: the archives come uncompressed */
    int level;                 /* 0 = the server's default (zstd 3), else 1..22 */
} PgServerCompress;

/* "none", "zstd" or "zstd:LEVEL" (1..22) -> *out; anything else PGP_ERR_CONFIG
 * "invalid --server-compress ..." saying what is accepted. */
int pg_server_compress_parse(const char *text, PgServerCompress *out, PgpErr *err);

typedef struct PgBaseBackupOptions {
    const char *label;         /* NULL = "pgpitr base backup"; 1..100 bytes, no control
                                  characters, else PGP_ERR_USAGE */
    bool fast_checkpoint;
    bool progress;
    uint32_t max_rate_kb;      /* 0 = unlimited; else 32..1048576 (kB/s) */
    /* The archives arrive as "base.tar.zst" (basebackup_tar.h decompresses them); the
     * backup_manifest stays uncompressed. A level out of range is PGP_ERR_USAGE. */
    PgServerCompress compress;
} PgBaseBackupOptions;

typedef struct PgTablespace {
    uint32_t oid;
    char *location;
    int64_t size;              /* bytes (the server reports kB), -1 if unknown */
} PgTablespace;

typedef struct PgBackupStart {
    uint64_t start_lsn;
    uint32_t timeline;
    PgTablespace *tablespaces; /* user tablespaces only (not the main data directory) */
    size_t n_tablespaces;
    int64_t total_size;        /* bytes: sum of all sizes (main data directory included)
                                  reported with PROGRESS, -1 if unknown */
} PgBackupStart;

typedef enum {
    PG_COPYMSG_NEW_ARCHIVE,    /* archive_name, tablespace_location ("" for base.tar) */
    PG_COPYMSG_DATA,           /* data/len: archive or manifest bytes */
    PG_COPYMSG_PROGRESS,       /* progress: bytes done so far */
    PG_COPYMSG_MANIFEST,       /* the following DATA messages are the backup_manifest */
    PG_COPYMSG_END,            /* the copy stream ended */
} PgCopyMsgKind;

typedef struct PgCopyMsg {
    PgCopyMsgKind kind;
    const uint8_t *data;       /* valid until the next call */
    size_t len;
    const char *archive_name;  /* valid until the next call */
    const char *tablespace_location;
    uint64_t progress;
} PgCopyMsg;

/* Parses one CopyData payload. PGP_ERR_PG ("malformed ...") for empty, unknown type,
 * missing NUL terminators, bytes after the location, an archive name that is empty, "."
 * or "..", or holds '/', '\\' or control characters, wrong progress length (9 bytes:
 * type + big-endian int64), 'm' with a payload. Pointers point into buf. `out` is written
 * only on success and may be NULL to only validate. */
int pg_copymsg_parse(const uint8_t *buf, size_t len, PgCopyMsg *out, PgpErr *err);

typedef struct PgBackupStream PgBackupStream;

/* Sends BASE_BACKUP (LABEL, PROGRESS, CHECKPOINT, WAIT false, WAL false, MANIFEST 'yes',
 * MANIFEST_CHECKSUMS 'SHA256', TABLESPACE_MAP, TARGET 'client' -- which selects the
 * typed single-COPY stream --, MAX_RATE) and reads the start position and tablespace
 * list. Servers older than 15 are refused (PGP_ERR_PG). start->tablespaces is owned by
 * the stream and valid until pg_basebackup_free. If the server rejects the command (an
 * ERROR before the copy) the connection stays usable; other failures leave it unusable. */
int pg_basebackup_begin(PgConn *c, const PgBaseBackupOptions *opt, PgBackupStream **out,
                        PgBackupStart *start, PgpErr *err);
/* Next message; PG_COPYMSG_END (repeated on later calls) only once the server ended the
 * copy cleanly after sending the manifest. Messages are checked for order too (data
 * before any archive, an archive after the manifest, a second manifest are malformed).
 * A lost connection is PGP_ERR_PG "connection to the server was lost during the backup:
 * ...". After any failure the stream replays the same error and the connection is
 * unusable: free the stream and pg_conn_close it. */
int pg_basebackup_next(PgBackupStream *s, PgCopyMsg *msg, PgpErr *err);
/* Bytes of every CopyData message received so far (archives as sent, compressed or not,
 * progress messages and the manifest): what the backup cost on the wire. */
uint64_t pg_basebackup_received(const PgBackupStream *s);
/* After END: reads the end position result and the command completion; the connection
 * is then idle again. Before END: PGP_ERR_INTERNAL. */
int pg_basebackup_finish(PgBackupStream *s, uint64_t *end_lsn, uint32_t *end_timeline,
                         PgpErr *err);
/* Safe at any point (NULL no-op); freeing before a successful finish leaves the
 * connection mid-command: only pg_conn_close remains. */
void pg_basebackup_free(PgBackupStream *s);

#endif
