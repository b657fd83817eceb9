/*
 * verify_objects.h - re-reading repository objects in parallel and checking each against what
 * the repository says about it: the SHA-256 of its original bytes (carried in its name or in
 * a manifest), its codec and, when known, its original size. The checker of `pgpitr verify`;
 * it knows nothing about backups, WAL or what a bad object breaks (verify.c decides that).
 *
 * Each object is read once through its codec's decoder, hashed and counted; the outcome is
 * recorded in the object itself (ok, missing, corrupt, unreadable) with a one-line reason, so
 * a damaged object never stops the run: the caller gets the whole picture.
 */
#ifndef PGPITR_VERIFY_OBJECTS_H
#define PGPITR_VERIFY_OBJECTS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/storage/storage.h"

#define VERIFY_SIZE_UNKNOWN UINT64_MAX
#define VERIFY_REASON_MAX 320
/* How many leading original bytes are kept for the caller (a WAL segment's long page header). */
#define VERIFY_HEAD_LEN 64

typedef enum {
    VERIFY_PENDING = 0,     /* not checked (the run was cancelled or failed before it) */
    VERIFY_OK,
    VERIFY_MISSING,         /* no object at path */
    VERIFY_CORRUPT,         /* does not decode, is truncated, or size / checksum differ */
    VERIFY_UNREADABLE,      /* storage error other than "not found" (permissions, I/O) */
} VerifyStatus;

/* Memory (issue #14): verify holds one VerifyObject per distinct object, a million for a
 * cluster of a million files, so nothing here is a copy of what the catalog or a manifest
 * pack already holds, and the head is the caller's buffer (WAL segments only): 88 bytes an
 * object (it was 192 with the checksum and the head inline). */
typedef struct VerifyObject {
    /* input: path and sha256, or a backup file's record in a manifest pack (item), whose
     * content object (manifest_pack_item_content) and checksum are then the expected ones */
    const char *path;                           /* repository path (not owned); NULL: item's */
    const char *sha256;                         /* expected hex of the original bytes (not
                                                   owned); NULL: item's */
    const ManifestPackItem *item;               /* not owned; NULL unless path is NULL */
    uint64_t size;                              /* expected original size or SIZE_UNKNOWN */
    PipeCodec codec;
    /* result */
    VerifyStatus status;
    uint64_t stored_read;                       /* bytes read from storage */
    uint64_t original;                          /* decoded bytes seen */
    uint8_t *head;                              /* input, optional: VERIFY_HEAD_LEN bytes (not
                                                   owned) that receive the first original
                                                   bytes; NULL: not kept */
    size_t head_len;                            /* bytes of head filled */
    char *reason;          /* one line, malloc'd, when not ok; NULL when ok or not read yet
                              (read it with verify_object_reason; verify_object_clear frees
                              it): a million objects do not carry a message buffer each */
} VerifyObject;

/* The reason of a checked object, "" when it is ok (or none could be allocated). */
const char *verify_object_reason(const VerifyObject *o);
/* Frees o's reason (NULL after). A VerifyObject starts zeroed, and verify_object frees the
 * reason of an earlier check itself. */
void verify_object_clear(VerifyObject *o);

const char *verify_status_name(VerifyStatus s);     /* "ok", "missing", "corrupt", ... */

/* o's repository path: o->path, or its item's content object formatted into buf. */
const char *verify_object_path(const VerifyObject *o, char buf[REPO_PATH_MAX]);

/* Checks one object; thread-safe for distinct objects as long as the storage driver's reads
 * are (posix: every read opens its own file descriptor). buf is scratch of size bytes.
 * Returns non-zero only for NOMEM (the outcome of the object itself is in o->status). */
int verify_object(Storage *s, const CryptoRepoKey *key, VerifyObject *o, void *buf, size_t size,
                  PgpErr *err);

/* Progress, called on the thread that called verify_objects_run. */
typedef void (*VerifyProgressFn)(void *ud, uint64_t objects_done, uint64_t bytes_read);

typedef struct VerifyPoolOptions {
    int workers;                        /* threads; <= 0 means 1, never more than objects */
    VerifyProgressFn progress;          /* optional, about every interval_ms and at the end */
    void *progress_ud;
    unsigned interval_ms;               /* 0 means 1000 */
    const volatile sig_atomic_t *cancel;/* optional: stop taking objects when non-zero */
    const CryptoRepoKey *key;           /* an encrypted repository's (repo_crypto_key) */
} VerifyPoolOptions;

typedef struct VerifyPoolResult {
    uint64_t objects;                   /* objects checked */
    uint64_t bad;                       /* of which not ok */
    uint64_t bytes_read;                /* stored bytes read */
    uint64_t bytes_original;            /* decoded bytes */
} VerifyPoolResult;

/*
 * Checks objs[0..n) on opt->workers threads sharing s (each takes the next index; results go
 * into the objects). Fails only when it cannot run (threads, memory) or is cancelled
 * (PGP_ERR_IO "interrupted"): problems with objects are results, not errors.
 */
int verify_objects_run(Storage *s, VerifyObject *objs, size_t n, const VerifyPoolOptions *opt,
                       VerifyPoolResult *res, PgpErr *err);

#endif
