/*
 * cmd_options.c - the table of every option and setting (cmd_options.h) and the parser every
 * command runs over it. What a value means stays with its command; where it may come from
 * (flag, environment variable, configuration key), its type, range and default are here.
 */
#include "pgpitr/cmd/cmd_options.h"

#include <getopt.h>
#include <string.h>

#include "pgpitr/archive/push_ahead.h"
#include "pgpitr/archive/spool.h"
#include "pgpitr/common/config.h"
#include "pgpitr/repo/lease.h"
#include "pgpitr/repo/retention.h"

#define LOCK_WAIT_MAX (7L * 24 * 3600)
/* A year: longer objectives or ages are typing mistakes (a unit left out, a zero too many). */
#define DURATION_MAX (366L * 86400)

/* Rows in CmdOptId order (cmd_option() indexes them; test_options.c checks). */
const CmdOption cmd_options[] = {
    {CMD_OPT_REPO, "repo", 0, CMD_VAL_STRING, "PATH", CMD_OPT_GLOBAL, "PGPITR_REPO", "repo",
     .def = "none (required)", .help = "repository directory"},
    {CMD_OPT_CONFIG, "config", 0, CMD_VAL_STRING, "FILE", CMD_OPT_GLOBAL, "PGPITR_CONFIG", NULL,
     .def = PGPITR_DEFAULT_CONFIG " if present", .help = "configuration file"},
    {CMD_OPT_LOG_LEVEL, "log-level", 0, CMD_VAL_ENUM, "LEVEL", CMD_OPT_GLOBAL,
     "PGPITR_LOG_LEVEL", "log-level", .choices = "error|warn|info|debug", .own_check = true,
     .def = "warn", .help = "messages on stderr from this level up"},
    {CMD_OPT_VERSION, "version", 0, CMD_VAL_FLAG, NULL, CMD_OPT_GLOBAL, NULL, NULL,
     .help = "print the version"},

    /* An S3 repository (--repo s3://BUCKET/PREFIX; docs/s3.md). Global like --repo: every
     * command that opens the repository needs them. */
    {CMD_OPT_IO_TIMEOUT, "io-timeout", 0, CMD_VAL_INT, "S", CMD_OPT_GLOBAL, "PGPITR_IO_TIMEOUT",
     "io-timeout", .min = 1, .max = 3600, .def = "60",
     .help = "seconds an S3 request and its retries may take"},
    {CMD_OPT_S3_ENDPOINT, "s3-endpoint", 0, CMD_VAL_STRING, "URL", CMD_OPT_GLOBAL,
     "PGPITR_S3_ENDPOINT", "s3-endpoint", .def = "https://s3.REGION.amazonaws.com",
     .help = "S3 endpoint, https://host[:port] (http:// only written out)"},
    {CMD_OPT_S3_REGION, "s3-region", 0, CMD_VAL_STRING, "REGION", CMD_OPT_GLOBAL,
     "PGPITR_S3_REGION", "s3-region", .def = "us-east-1", .help = "S3 region (signing)"},
    {CMD_OPT_S3_URI_STYLE, "s3-uri-style", 0, CMD_VAL_ENUM, "host|path", CMD_OPT_GLOBAL,
     "PGPITR_S3_URI_STYLE", "s3-uri-style", .choices = "host|path", .own_check = true,
     .def = "host", .help = "bucket in the host name or in the path (MinIO, Ceph)"},
    {CMD_OPT_S3_KEY, "s3-key", 0, CMD_VAL_STRING, "ID", CMD_OPT_GLOBAL, "PGPITR_S3_KEY",
     "s3-key", .def = "AWS_ACCESS_KEY_ID, else the credentials file",
     .help = "S3 access key ID"},
    {CMD_OPT_S3_CA_FILE, "s3-ca-file", 0, CMD_VAL_STRING, "FILE", CMD_OPT_GLOBAL,
     "PGPITR_S3_CA_FILE", "s3-ca-file", .def = "system CAs", .help = "CA bundle for S3 TLS"},
    {CMD_OPT_S3_CA_PATH, "s3-ca-path", 0, CMD_VAL_STRING, "DIR", CMD_OPT_GLOBAL,
     "PGPITR_S3_CA_PATH", "s3-ca-path", .def = "system CAs",
     .help = "CA directory for S3 TLS"},
    {CMD_OPT_S3_VERIFY_TLS, "s3-verify-tls", 0, CMD_VAL_ENUM, "on|off", CMD_OPT_GLOBAL,
     "PGPITR_S3_VERIFY_TLS", "s3-verify-tls", .choices = "on|off", .own_check = true,
     .def = "on", .help = "verify the S3 server's certificate and name"},
    {CMD_OPT_S3_SSE, "s3-sse", 0, CMD_VAL_ENUM, "AES256|aws:kms", CMD_OPT_GLOBAL,
     "PGPITR_S3_SSE", "s3-sse", .choices = "AES256|aws:kms", .own_check = true,
     .def = "none", .help = "server-side encryption of new objects"},
    {CMD_OPT_S3_KMS_KEY_ID, "s3-kms-key-id", 0, CMD_VAL_STRING, "ID", CMD_OPT_GLOBAL,
     "PGPITR_S3_KMS_KEY_ID", "s3-kms-key-id", .def = "the bucket's",
     .help = "KMS key of s3-sse aws:kms"},
    {CMD_OPT_S3_STORAGE_CLASS, "s3-storage-class", 0, CMD_VAL_STRING, "CLASS", CMD_OPT_GLOBAL,
     "PGPITR_S3_STORAGE_CLASS", "s3-storage-class", .def = "the bucket's",
     .help = "storage class of new objects"},
    {CMD_OPT_S3_PART_SIZE, "s3-part-size", 0, CMD_VAL_SIZE, "SIZE", CMD_OPT_GLOBAL,
     "PGPITR_S3_PART_SIZE", "s3-part-size", .def = "16MiB",
     .help = "multipart part size (5MiB..1GiB); memory: jobs x size"},

    {CMD_OPT_COMPRESS, "compress", 0, CMD_VAL_ENUM, "zstd|lz4|none", "archive-push backup",
     "PGPITR_COMPRESS", "compress", .choices = "zstd|lz4|none", .own_check = true,
     .def = "zstd", .help = "codec"},
    {CMD_OPT_COMPRESS_LEVEL, "compress-level", 0, CMD_VAL_INT, "N", "archive-push backup",
     "PGPITR_COMPRESS_LEVEL", "compress-level", .min = 0, .max = 19,
     .def = "zstd 1, lz4 0", .help = "codec level: zstd 1..19, lz4 0..12"},

    {CMD_OPT_PUSH_JOBS, "jobs", 0, CMD_VAL_INT, "N", "archive-push",
     "PGPITR_ARCHIVE_PUSH_JOBS", "archive-push-jobs", .min = 1, .max = PUSH_AHEAD_JOBS_MAX,
     .def = "1", .help = "threads pushing this segment and up to 4N-1 ready ones after it"},
    /* When pushes keep failing (push_backlog.h, docs/archiving.md): settings, no flags. */
    {CMD_OPT_PUSH_ALERT_AFTER, NULL, 0, CMD_VAL_DURATION, "DURATION", "",
     "PGPITR_ARCHIVE_PUSH_ALERT_AFTER", "archive-push-alert-after", .min = 1,
     .max = DURATION_MAX, .def = "5min",
     .help = "failing this long, every failing archive-push logs an alert with the backlog"},
    {CMD_OPT_PUSH_QUEUE_MAX, NULL, 0, CMD_VAL_SIZE, "SIZE", "",
     "PGPITR_ARCHIVE_PUSH_QUEUE_MAX", "archive-push-queue-max", .def = "not set",
     .help = "ready WAL in pg_wal beyond which archive-push-queue-full applies"},
    {CMD_OPT_PUSH_QUEUE_FULL, NULL, 0, CMD_VAL_ENUM, "fail|drop", "",
     "PGPITR_ARCHIVE_PUSH_QUEUE_FULL", "archive-push-queue-full", .choices = "fail|drop",
     .own_check = true, .def = "fail",
     .help = "beyond queue-max after alert-after of failures: keep failing, or drop with a record"},

    {CMD_OPT_SPOOL_PATH, "spool-path", 0, CMD_VAL_STRING, "DIR", "archive-get",
     "PGPITR_SPOOL_PATH", "spool-path",
     .def = "pg_wal/pgpitr_spool in a data directory in recovery", .help = "prefetch spool directory"},
    {CMD_OPT_SPOOL_SIZE, "spool-size", 0, CMD_VAL_SIZE, "SIZE", "archive-get",
     "PGPITR_SPOOL_SIZE", "spool-size", .def = "512MiB",
     .help = "at most this much prefetched WAL; 0: off"},
    {CMD_OPT_PREFETCH_JOBS, "prefetch-jobs", 0, CMD_VAL_INT, "N", "archive-get",
     "PGPITR_PREFETCH_JOBS", "prefetch-jobs", .min = 1, .max = SPOOL_MAX_JOBS, .def = "2",
     .help = "parallel prefetch fetches"},

    {CMD_OPT_PG_CONN, "pg-conn", 0, CMD_VAL_STRING, "CONNINFO", "backup check metrics",
     "PGPITR_PG_CONN",
     "pg-conn", .def = "libpq defaults", .help = "connection string of the cluster"},
    {CMD_OPT_PRIMARY_CONN, "primary-conn", 0, CMD_VAL_STRING, "CONNINFO", "backup",
     "PGPITR_PRIMARY_CONN", "primary-conn", .def = "none",
     .help = "the primary's, when --pg-conn is a standby"},
    {CMD_OPT_LABEL, "label", 0, CMD_VAL_STRING, "TEXT", "backup", NULL, NULL,
     .def = "start time", .help = "backup label"},
    {CMD_OPT_CHECKPOINT, "checkpoint", 0, CMD_VAL_ENUM, "fast|spread", "backup", NULL, NULL,
     .choices = "fast|spread", .def = "fast", .help = "checkpoint at start"},
    {CMD_OPT_JOBS, "jobs", 0, CMD_VAL_INT, "N", "backup verify", "PGPITR_JOBS", "jobs",
     .min = 1, .max = 256, .def = "number of CPUs", .help = "worker threads"},
    {CMD_OPT_MAX_RATE, "max-rate", 0, CMD_VAL_SIZE, "RATE", "backup", NULL, NULL,
     .def = "none", .help = "server read limit in kB/s, or 512k, 100M"},
    {CMD_OPT_ARCHIVE_TIMEOUT, "archive-timeout", 0, CMD_VAL_INT, "S", "backup check", NULL,
     "archive-timeout", .min = 1, .max = 86400, .def = "60",
     .help = "seconds to wait for the backup's WAL to be archived"},
    {CMD_OPT_SERVER_COMPRESS, "server-compress", 0, CMD_VAL_STRING, "zstd[:LEVEL]", "backup",
     "PGPITR_SERVER_COMPRESS", "server-compress", .def = "none",
     .help = "the server compresses the stream (PostgreSQL 15 COMPRESSION), none|zstd|zstd:1..22"},

    {CMD_OPT_OUTPUT, "output", 0, CMD_VAL_ENUM, "text|json",
     "backup drill info verify expire check",
     NULL, NULL, .choices = "text|json", .def = "text", .help = "output format"},
    {CMD_OPT_LOCK_WAIT, "lock-wait", 0, CMD_VAL_INT, "SECONDS",
     "backup restore drill expire verify key", "PGPITR_LOCK_WAIT", "lock-wait", .min = 0,
     .max = LOCK_WAIT_MAX, .def = "0", .help = "seconds to wait for a conflicting lock"},
    {CMD_OPT_BACKUP, "backup", 0, CMD_VAL_STRING, "LABEL", "restore drill verify", NULL, NULL,
     .def = "chosen for the target", .help = "the backup"},
    {CMD_OPT_PROGRESS, "progress", 0, CMD_VAL_FLAG, NULL, "backup restore", NULL, NULL,
     .def = "when stderr is a terminal", .help = "status line and phase lines on stderr"},
    {CMD_OPT_NO_PROGRESS, "no-progress", 0, CMD_VAL_FLAG, NULL, "backup restore", NULL, NULL,
     .help = "no status line, even on a terminal"},

    {CMD_OPT_TARGET_TIME, "target-time", 0, CMD_VAL_TIME, "TS", "restore drill", NULL, NULL,
     .help = "recovery target: a time"},
    {CMD_OPT_TARGET_LSN, "target-lsn", 0, CMD_VAL_STRING, "LSN", "restore drill", NULL, NULL,
     .help = "recovery target: an LSN X/X"},
    {CMD_OPT_TARGET_XID, "target-xid", 0, CMD_VAL_STRING, "XID", "restore drill", NULL, NULL,
     .help = "recovery target: a transaction ID"},
    {CMD_OPT_TARGET_NAME, "target-name", 0, CMD_VAL_STRING, "NAME", "restore drill", NULL,
     NULL, .help = "recovery target: a restore point"},
    {CMD_OPT_TARGET_IMMEDIATE, "target-immediate", 0, CMD_VAL_FLAG, NULL, "restore drill",
     NULL, NULL, .help = "stop as soon as the backup is consistent"},
    {CMD_OPT_TARGET_LATEST, "target-latest", 0, CMD_VAL_FLAG, NULL, "drill", NULL, NULL,
     .help = "replay every archived segment"},
    {CMD_OPT_TARGET_EXCLUSIVE, "target-exclusive", 0, CMD_VAL_FLAG, NULL, "restore drill",
     NULL, NULL, .help = "stop just before the target"},
    {CMD_OPT_TARGET_TIMELINE, "target-timeline", 0, CMD_VAL_STRING, "T", "restore drill",
     NULL, NULL, .def = "latest (restore), production (drill)",
     .help = "latest, production, current or a timeline ID"},
    {CMD_OPT_TARGET_ACTION, "target-action", 0, CMD_VAL_ENUM, "A", "restore", NULL, NULL,
     .choices = "promote|pause|shutdown", .own_check = true, .def = "promote",
     .help = "what the server does at the target"},

    {CMD_OPT_PGDATA, "pgdata", 'D', CMD_VAL_STRING, "DIR", "restore metrics", NULL, NULL,
     .def = "none (required)", .help = "target data directory"},
    {CMD_OPT_RESTORE_JOBS, "jobs", 'j', CMD_VAL_INT, "N", "restore", NULL, NULL, .min = 1,
     .max = 256, .def = "online CPUs", .help = "parallel file workers"},
    {CMD_OPT_DELTA, "delta", 0, CMD_VAL_FLAG, NULL, "restore", NULL, NULL,
     .help = "restore over an existing data directory"},
    {CMD_OPT_KEEP_OLD, "keep-old", 0, CMD_VAL_STRING, "DIR", "restore", NULL, NULL,
     .help = "with --delta: keep what it replaces in DIR"},
    {CMD_OPT_TABLESPACE_MAP, "tablespace-map", 0, CMD_VAL_STRING, "OID=DIR", "restore", NULL,
     NULL, .repeated = true, .help = "restore a tablespace into DIR"},
    {CMD_OPT_ARCHIVE_MODE, "archive-mode", 0, CMD_VAL_ENUM, "M", "restore", NULL, NULL,
     .choices = "off|preserve", .own_check = true, .def = "off",
     .help = "archiving of the restored server"},
    {CMD_OPT_STANDBY, "standby", 0, CMD_VAL_FLAG, NULL, "restore", NULL, NULL,
     .help = "build a standby"},
    {CMD_OPT_SET, "set", 0, CMD_VAL_STRING, "NAME=VALUE", "restore", NULL, NULL,
     .repeated = true, .help = "a server setting for postgresql.auto.conf"},

    {CMD_OPT_CHECK_SQL, "check-sql", 0, CMD_VAL_STRING, "FILE", "drill", NULL, NULL,
     .help = "SQL checks"},
    {CMD_OPT_AMCHECK, "amcheck", 0, CMD_VAL_FLAG, NULL, "drill", NULL, NULL,
     .help = "run pg_amcheck --all on the drill server"},
    {CMD_OPT_MAX_TABLES, "max-tables", 0, CMD_VAL_INT, "N", "drill", NULL, NULL, .min = 0,
     .max = 100000, .def = "200", .help = "count rows of at most N tables per database"},
    {CMD_OPT_REPORT, "report", 0, CMD_VAL_STRING, "FILE", "drill", NULL, NULL,
     .help = "also write the report to FILE"},
    {CMD_OPT_KEEP, "keep", 0, CMD_VAL_FLAG, NULL, "drill", NULL, NULL,
     .help = "keep the work directory"},
    {CMD_OPT_WORKDIR, "workdir", 0, CMD_VAL_STRING, "DIR", "drill", NULL, NULL,
     .def = "a new one in $TMPDIR or /tmp", .help = "work directory, empty or missing"},
    {CMD_OPT_PG_BIN, "pg-bin", 0, CMD_VAL_STRING, "DIR", "drill", "PGPITR_PG_BIN", "pg-bin",
     .def = "/usr/lib/postgresql/<major>/bin", .help = "PostgreSQL binaries a drill runs"},
    {CMD_OPT_DB_USER, "db-user", 0, CMD_VAL_STRING, "NAME", "drill", NULL, NULL,
     .def = "the OS user", .help = "database role for the checks"},
    {CMD_OPT_TIMEOUT, "timeout", 0, CMD_VAL_INT, "S", "drill", NULL, NULL, .min = 1,
     .max = 604800, .def = "3600", .help = "limit for WAL replay and each check"},
    {CMD_OPT_DRILL_JOBS, "jobs", 0, CMD_VAL_INT, "N", "drill", NULL, NULL, .min = 1,
     .max = 256, .def = "online CPUs", .help = "parallel restore workers"},

    {CMD_OPT_RETAIN_FULL, "retain-full", 0, CMD_VAL_INT, "N", "expire", NULL, "retain-full",
     .min = 0, .max = RETENTION_COUNT_MAX, .def = "not set",
     .help = "keep the N newest backups"},
    {CMD_OPT_RETAIN_DAYS, "retain-days", 0, CMD_VAL_INT, "D", "expire", NULL, "retain-days",
     .min = 0, .max = RETENTION_COUNT_MAX, .def = "not set",
     .help = "keep every point of the last D days recoverable"},
    {CMD_OPT_RETAIN_DAILY, "retain-daily", 0, CMD_VAL_INT, "N", "expire", NULL,
     "retain-daily", .min = 0, .max = RETENTION_COUNT_MAX, .def = "not set",
     .help = "newest backup of each of the last N UTC days"},
    {CMD_OPT_RETAIN_WEEKLY, "retain-weekly", 0, CMD_VAL_INT, "N", "expire", NULL,
     "retain-weekly", .min = 0, .max = RETENTION_COUNT_MAX, .def = "not set",
     .help = "newest backup of each of the last N ISO weeks"},
    {CMD_OPT_RETAIN_MONTHLY, "retain-monthly", 0, CMD_VAL_INT, "N", "expire", NULL,
     "retain-monthly", .min = 0, .max = RETENTION_COUNT_MAX, .def = "not set",
     .help = "newest backup of each of the last N months"},
    {CMD_OPT_DRY_RUN, "dry-run", 0, CMD_VAL_FLAG, NULL, "expire", NULL, NULL,
     .help = "print the plan, remove nothing"},
    {CMD_OPT_NO_ARCHIVE_TEST, "no-archive-test", 0, CMD_VAL_FLAG, NULL, "check", NULL, NULL,
     .help = "no restore point and WAL switch (archive-test skipped)"},
    {CMD_OPT_NEW_KEY_FILE, "new-key-file", 0, CMD_VAL_STRING, "FILE", "key", NULL, NULL,
     .def = "none", .help = "the new master key: a key file"},
    {CMD_OPT_NEW_PASSPHRASE_FILE, "new-passphrase-file", 0, CMD_VAL_STRING, "FILE", "key",
     NULL, NULL, .def = "none", .help = "the new master key: a passphrase file"},
    {CMD_OPT_NEW_KEY_COMMAND, "new-key-command", 0, CMD_VAL_STRING, "COMMAND", "key", NULL,
     NULL, .def = "none", .help = "the new master key: a command printing it"},
    {CMD_OPT_RAW, "raw", 0, CMD_VAL_FLAG, NULL, "repo-get", NULL, NULL,
     .help = "the bytes as stored (no key needed)"},
    {CMD_OPT_NO_DECOMPRESS, "no-decompress", 0, CMD_VAL_FLAG, NULL, "repo-get", NULL, NULL,
     .help = "decrypt but keep the compression"},
    {CMD_OPT_REPLACE, "replace", 0, CMD_VAL_FLAG, NULL, "repo-put", NULL, NULL,
     .help = "replace an existing object (default: refuse, exit 8)"},

    {CMD_OPT_LEASE_TTL, NULL, 0, CMD_VAL_INT, "S", "", "PGPITR_LEASE_TTL", "lease-ttl",
     .min = LEASE_TTL_MIN, .max = LEASE_TTL_MAX, .def = "86400",
     .help = "seconds a recovery lease lives"},
    {CMD_OPT_PREFETCH_IDLE_TIMEOUT, NULL, 0, CMD_VAL_INT, "S", "", "PGPITR_PREFETCH_IDLE_TIMEOUT",
     NULL, .min = 1, .max = 86400, .def = "30",
     .help = "seconds without a request after which the prefetcher ends (for tests)"},
    {CMD_OPT_S3_KEY_SECRET, NULL, 0, CMD_VAL_STRING, "SECRET", "", "PGPITR_S3_KEY_SECRET",
     "s3-key-secret", .def = "AWS_SECRET_ACCESS_KEY, else the credentials file",
     .help = "S3 secret access key (no flag: ps would show it)"},
    {CMD_OPT_S3_TOKEN, NULL, 0, CMD_VAL_STRING, "TOKEN", "", "PGPITR_S3_TOKEN", "s3-token",
     .def = "AWS_SESSION_TOKEN, else the credentials file",
     .help = "S3 session token (no flag: ps would show it)"},
    {CMD_OPT_UPLOAD_ABORT_AGE, NULL, 0, CMD_VAL_INT, "S", "", "PGPITR_UPLOAD_ABORT_AGE", NULL,
     .min = 0, .max = 30L * 86400, .def = "3600",
     .help = "seconds after which expire aborts an unfinished multipart upload (for tests)"},
    /* Encryption at rest (docs/encryption.md): chosen when the repository is first used. */
    {CMD_OPT_ENCRYPTION, NULL, 0, CMD_VAL_ENUM, "none|aes-256-gcm", "", "PGPITR_ENCRYPTION",
     "encryption", .choices = "none|aes-256-gcm", .own_check = true, .def = "none",
     .help = "encryption of a new repository (an existing one keeps its own)"},
    {CMD_OPT_ENCRYPTION_KEY_FILE, NULL, 0, CMD_VAL_STRING, "FILE", "",
     "PGPITR_ENCRYPTION_KEY_FILE", "encryption-key-file", .def = "not set",
     .help = "master key: 32 bytes or 64 hex digits, mode 0600 or stricter"},
    {CMD_OPT_ENCRYPTION_PASSPHRASE_FILE, NULL, 0, CMD_VAL_STRING, "FILE", "",
     "PGPITR_ENCRYPTION_PASSPHRASE_FILE", "encryption-passphrase-file", .def = "not set",
     .help = "master key from a passphrase (scrypt), mode 0600 or stricter"},
    {CMD_OPT_ENCRYPTION_KEY_COMMAND, NULL, 0, CMD_VAL_STRING, "COMMAND", "",
     "PGPITR_ENCRYPTION_KEY_COMMAND", "encryption-key-command", .def = "not set",
     .help = "program (split on blanks, no shell) printing the master key"},

    /* Operations (docs/configuration.md): set once in the configuration file, read by the
     * commands that judge the setup. No flags yet: the commands using them add theirs. */
    {CMD_OPT_RPO_OBJECTIVE, NULL, 0, CMD_VAL_DURATION, "DURATION", "", "PGPITR_RPO_OBJECTIVE",
     "rpo-objective", .min = 1, .max = DURATION_MAX, .def = "not set",
     .help = "most data a loss may cost: archive freshness a drill and check hold to"},
    {CMD_OPT_RTO_OBJECTIVE, NULL, 0, CMD_VAL_DURATION, "DURATION", "", "PGPITR_RTO_OBJECTIVE",
     "rto-objective", .min = 1, .max = DURATION_MAX, .def = "not set",
     .help = "longest a recovery may take: a drill slower than this fails"},
    {CMD_OPT_BACKUP_MAX_AGE, NULL, 0, CMD_VAL_DURATION, "DURATION", "",
     "PGPITR_BACKUP_MAX_AGE", "backup-max-age", .min = 1, .max = DURATION_MAX, .def = "not set",
     .help = "age of the newest complete backup beyond which check fails"},
    {CMD_OPT_DRILL_MAX_AGE, NULL, 0, CMD_VAL_DURATION, "DURATION", "", "PGPITR_DRILL_MAX_AGE",
     "drill-max-age", .min = 1, .max = DURATION_MAX, .def = "not set",
     .help = "age of the newest drill beyond which check fails"},
    {CMD_OPT_TEXTFILE_DIR, "textfile-dir", 0, CMD_VAL_STRING, "DIR", "metrics", NULL, NULL,
     .def = "none (print)", .help = "write DIR/pgpitr.prom atomically"},
    {CMD_OPT_NOTIFY_COMMAND, NULL, 0, CMD_VAL_STRING, "COMMAND", "", "PGPITR_NOTIFY_COMMAND",
     "notify-command", .def = "not set",
     .help = "run by pgpitr notify (/bin/sh -c) with the JSON event on stdin"},
    {CMD_OPT_NOTIFY_TIMEOUT, NULL, 0, CMD_VAL_DURATION, "DURATION", "", "PGPITR_NOTIFY_TIMEOUT",
     "notify-timeout", .min = 1, .max = 3600, .def = "60s",
     .help = "notify-command is killed after this long"},

    /* serve: the HTTP API (docs/serve.md) */
    {CMD_OPT_LISTEN, "listen", 0, CMD_VAL_STRING, "ADDR:PORT", "serve", "PGPITR_SERVE_LISTEN",
     "serve-listen", .def = "127.0.0.1:8432", .help = "address and port to listen on"},
    {CMD_OPT_TOKEN_FILE, "token-file", 0, CMD_VAL_STRING, "FILE", "serve",
     "PGPITR_SERVE_TOKEN_FILE", "serve-token-file", .def = "none (required)",
     .help = "bearer tokens, NAME ROLE SHA256HEX per line, mode 0600"},
    {CMD_OPT_TLS_CERT, "tls-cert", 0, CMD_VAL_STRING, "FILE", "serve", "PGPITR_SERVE_TLS_CERT",
     "serve-tls-cert", .def = "none (plain HTTP)", .help = "PEM certificate (chain): HTTPS"},
    {CMD_OPT_TLS_KEY, "tls-key", 0, CMD_VAL_STRING, "FILE", "serve", "PGPITR_SERVE_TLS_KEY",
     "serve-tls-key", .def = "none", .help = "PEM private key of --tls-cert"},
};
const size_t cmd_options_len = sizeof cmd_options / sizeof cmd_options[0];
_Static_assert(CMD_OPT_S3_PART_SIZE < CMD_GLOBAL_FLAGS, "CmdGlobal.flag too small");

const CmdOption *cmd_option(CmdOptId id)
{
    return &cmd_options[id];
}

bool cmd_option_in(const CmdOption *o, const char *cmd)
{
    size_t n = strlen(cmd);
    for (const char *p = o->commands; o->name != NULL && *p != '\0';) {
        size_t len = strcspn(p, " ");
        if (len == n && strncmp(p, cmd, n) == 0)
            return true;
        p += len;
        p += strspn(p, " ");
    }
    return false;
}

size_t cmd_options_getopt(const char *cmd, struct option longopts[CMD_OPT_LONGOPTS_MAX],
                          char shortopts[CMD_OPT_SHORTOPTS_MAX])
{
    size_t used = 0, s = 0;
    shortopts[s++] = '+';
    shortopts[s++] = 'h';
    for (size_t i = 0; i < cmd_options_len; i++) {   /* at most every row, and 2 more */
        const CmdOption *o = &cmd_options[i];
        if (!cmd_option_in(o, cmd))
            continue;
        longopts[used++] = (struct option){o->name, o->type == CMD_VAL_FLAG ? no_argument
                                                                            : required_argument,
                                           NULL, CMD_OPT_GETOPT_BASE + (int)o->id};
        if (o->short_name != 0) {
            shortopts[s++] = o->short_name;
            if (o->type != CMD_VAL_FLAG)
                shortopts[s++] = ':';
        }
    }
    longopts[used] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[used + 1] = (struct option){NULL, 0, NULL, 0};
    shortopts[s] = '\0';
    return used;
}

/* The row of cmd whose short option is c, NULL if none. */
static const CmdOption *by_short(const char *cmd, int c)
{
    for (size_t i = 0; i < cmd_options_len; i++)
        if (cmd_options[i].short_name == c && cmd_option_in(&cmd_options[i], cmd))
            return &cmd_options[i];
    return NULL;
}

/* "--checkpoint must be fast or spread": the choices of an enum the parser checks. */
static int check_enum(const CmdDef *cmd, const CmdOption *o, const char *arg, PgpErr *err)
{
    const char *p = o->choices;
    size_t n = strlen(arg);
    for (;;) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, arg, n) == 0)
            return 0;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    char list[256] = "";
    size_t used = 0;
    for (p = o->choices; *p != '\0' && used < sizeof list;) {
        size_t len = strcspn(p, "|");
        const char *sep = used == 0 ? "" : p[len] == '\0' ? " or " : ", ";
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%.*s", sep, (int)len, p);
        p += len + (p[len] != '\0');
    }
    return cmd_usage_error(err, cmd, "--%s must be %s", o->name, list);
}

/* One option from getopt: c its value, arg optarg. */
static int take(const CmdParse *p, int c, const char *arg, CmdArgs *out, PgpErr *err)
{
    const CmdOption *o = c >= CMD_OPT_GETOPT_BASE ? cmd_option(c - CMD_OPT_GETOPT_BASE)
                                                  : by_short(p->cmd->name, c);
    if (o == NULL)   /* not reached: getopt returns only what the array holds */
        return cmd_usage_error(err, p->cmd, "unknown or incomplete option");
    if (arg == NULL)
        arg = "";
    if (o->type == CMD_VAL_ENUM && !o->own_check) {
        int rc = check_enum(p->cmd, o, arg, err);
        if (rc != 0)
            return rc;
    }
    out->flag[o->id] = arg;
    if (o->id == CMD_OPT_OUTPUT) {
        out->json = strcmp(arg, "json") == 0;
        return 0;
    }
    return p->each != NULL ? p->each(p->ud, o->id, arg, err) : 0;
}

int cmd_args_parse(const CmdParse *p, int argc, char **argv, CmdArgs *out, PgpErr *err)
{
    struct option longopts[CMD_OPT_LONGOPTS_MAX];
    char shortopts[CMD_OPT_SHORTOPTS_MAX];
    memset(out, 0, sizeof *out);
    cmd_options_getopt(p->cmd->name, longopts, shortopts);
    int c, rc = 0;
    opterr = 0;
    optind = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_usage(p->cmd, stdout);
            out->help = true;
            return 0;
        }
        if (c == '?' || c == ':')
            return cmd_usage_error(err, p->cmd, "%s \"%s\"",
                                   p->unknown != NULL ? p->unknown
                                                      : "unknown or incomplete option",
                                   argv[optind - 1]);
        rc = take(p, c, optarg, out, err);
    }
    if (rc != 0)
        return rc;
    out->first = optind;
    if (!p->positional && optind != argc)
        return cmd_usage_error(err, p->cmd, "unexpected argument \"%s\"", argv[optind]);
    return 0;
}

const char *cmd_opt_setting(const CmdSettings *s, CmdOptId id, const char *flag)
{
    const CmdOption *o = cmd_option(id);
    return cmd_setting(s, flag, o->env, o->key);
}

int cmd_opt_int_setting(const CmdSettings *s, CmdOptId id, const char *flag, long *v,
                        PgpErr *err)
{
    const CmdOption *o = cmd_option(id);
    const char *text = cmd_opt_setting(s, id, flag);
    return text != NULL ? cmd_parse_int(o->key, text, o->min, o->max, v, err) : 0;
}

int cmd_opt_duration_setting(const CmdSettings *s, CmdOptId id, const char *flag, int64_t *v,
                             PgpErr *err)
{
    const CmdOption *o = cmd_option(id);
    const char *text = cmd_opt_setting(s, id, flag);
    const char *what = flag != NULL && o->name != NULL ? o->name : o->key;
    return text != NULL ? config_parse_duration(what, text, o->min, o->max, v, err) : 0;
}

int cmd_opt_int_flag(const CmdDef *cmd, CmdOptId id, const char *text, long *v, PgpErr *err)
{
    const CmdOption *o = cmd_option(id);
    if (cmd_parse_int(o->name, text, o->min, o->max, v, NULL) != 0)
        return cmd_usage_error(err, cmd, "invalid --%s \"%s\" (expected %ld..%ld)", o->name,
                               text, o->min, o->max);
    return 0;
}
