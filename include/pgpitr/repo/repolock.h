/*
 * repolock.h - repository locks: who may change or read the repository's backups at the same
 * time. They live in the repository itself (locks/), as one small object per holder, so that
 * they work for every storage driver and every host that shares the repository, not only for
 * processes of one machine.
 *
 * Kinds and what they exclude:
 *   BACKUP   taken by backup        excludes BACKUP and EXPIRE
 *   EXPIRE   taken by expire        excludes everything
 *   READ     verify, restore, drill excludes EXPIRE (readers and one backup run together:
 *                                   a backup only adds objects)
 *   KEY      key rotate             excludes KEY and EXPIRE: two rotations rewriting the key
 *                                   document at once could leave it wrapped by a key neither
 *                                   operator was told about; readers and backups already hold
 *                                   the unwrapped repository key and are not disturbed
 * archive-push and archive-get never take a lock: they only add or read WAL, and expire never
 * removes WAL a retained backup needs.
 *
 * A holder object records kind, command, pid, host, boot id, the process start time and a
 * heartbeat, and optionally a label (the backup a backup writes, once it knows it). A holder is dead when it is on this host and its pid is gone or is another
 * process (start time differs) or the host rebooted (boot id differs); on another host when
 * its heartbeat is older than the stale time. A dead holder's object is removed ("taken
 * over") with a warning naming it; a live one makes acquisition wait or fail.
 */
#ifndef PGPITR_REPOLOCK_H
#define PGPITR_REPOLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/common/proc.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/storage/storage.h"

typedef enum {
    REPO_LOCK_BACKUP,
    REPO_LOCK_EXPIRE,
    REPO_LOCK_READ,
    REPO_LOCK_KEY,
} RepoLockKind;

typedef struct RepoLock RepoLock;

typedef struct RepoLockOptions {
    const char *command;    /* what holds it, for messages ("backup", "drill") */
    int wait_s;             /* wait this long for live conflicting holders (0: fail at once) */
    int stale_s;            /* other-host holders without a heartbeat this long are dead;
                               0: REPO_LOCK_STALE_DEFAULT */
    /* Tuning for tests; 0 means the default. */
    int heartbeat_ms;       /* heartbeat interval; 0: REPO_LOCK_HEARTBEAT_S */
    int race_ms;            /* how long to retry when the conflicting holder is only seconds
                               old (see repo_lock_acquire); 0: REPO_LOCK_RACE_MS, < 0: never */
} RepoLockOptions;

#define REPO_LOCK_STALE_DEFAULT 300
#define REPO_LOCK_HEARTBEAT_S 30
#define REPO_LOCK_RACE_MS 2000
#define REPO_LOCK_DIR REPO_LAYOUT_LOCKS_DIR

/* Writes this process's holder object locks/<kind>-<host>-<pid>-<start>-<n>.json, then checks
 * every other holder. PGP_ERR_LOCKED naming the live holder ("cannot take the backup lock:
 * repository is locked by expire (pid 123 on host db1, since 2026-11-22T03:00:00Z)") with a
 * HINT, when it cannot be taken within wait_s; an object that does not parse blocks like a
 * live holder (the error names its path) until unchanged for stale_s. Even with wait_s 0 it
 * retries for up to race_ms while the conflicting holder is seconds old: two processes that
 * start together may both see the other and both back off, and one of them must then win.
 * A holder on this host whose boot id differs but whose heartbeat is newer than this boot is
 * another machine with the same host name: it is judged by its heartbeat, like any other
 * host. Keeps the heartbeat fresh from a thread until released. Several locks may be held by
 * one process (each is its own object). */
int repo_lock_acquire(Storage *s, RepoLockKind kind, const RepoLockOptions *o, RepoLock **out,
                      PgpErr *err);
void repo_lock_release(RepoLock *l);    /* removes the holder object; NULL is a no-op */

const char *repo_lock_kind_name(RepoLockKind kind);  /* "backup", "expire", "read", "key" */

#define REPO_LOCK_LABEL_MAX 64
#define REPO_LOCK_COMMAND_MAX 64

/* Adds "label" to this holder's object (rewritten at once, and kept by every heartbeat), so
 * that readers of locks/ (info) can tell which backup directory a running backup writes.
 * Call it before the directory is created. A label longer than REPO_LOCK_LABEL_MAX is
 * PGP_ERR_INTERNAL; a storage error leaves the old object in place (the caller may go on). */
int repo_lock_set_label(RepoLock *l, const char *label, PgpErr *err);

/* Proves that l is still held, right before a step that must not run once another process
 * may have taken over (a backup's manifest.json, expire's removals): rewrites the object with
 * a fresh heartbeat, so that nobody can judge this holder dead for the next stale_s seconds.
 * PGP_ERR_LOCKED when the object is gone: another host took the lock over after a stall (a
 * paused VM, a storage outage longer than stale_s) or it was removed by hand; what the new
 * holder did meanwhile (expire removes an unfinished backup's objects) may have undone this
 * process's work. A storage error is returned as such (the caller must not go on either). */
int repo_lock_confirm(RepoLock *l, PgpErr *err);

/* One holder object as repo_lock_list() found it. */
typedef struct RepoLockHolder {
    char path[REPO_PATH_MAX];       /* locks/<name>.json */
    int64_t mtime;                  /* of the object */
    bool parsed;                    /* false: unreadable; only path, mtime and alive are set */
    int kind;                       /* RepoLockKind; -1 when unknown (a newer pgpitr's kind,
                                       or not parsed) */
    char kind_name[32];             /* as written ("" when not parsed) */
    char command[REPO_LOCK_COMMAND_MAX];
    char host[PROC_HOST_MAX];
    char boot_id[64];
    long pid;
    uint64_t start;                 /* process start time (clock ticks since boot) */
    int64_t since, heartbeat;       /* seconds */
    char label[REPO_LOCK_LABEL_MAX + 1];  /* "" when the object has none */
    bool alive;                     /* by the rules acquisition uses for takeover: false
                                       means the next acquirer that conflicts removes it */
} RepoLockHolder;

/* Every holder object in locks/, judged from this process's host and boot (stale_s as in
 * RepoLockOptions, 0: default), ascending by since, then path. Read-only: never writes,
 * removes or takes over anything, so it may run at any time (info). *out malloc'd (NULL
 * when none); objects removed while listing are skipped. Storage errors are returned. */
int repo_lock_list(Storage *s, int stale_s, RepoLockHolder **out, size_t *n, PgpErr *err);

/* A holder object's text, as repo_lock_acquire writes it and repo_lock_list reads it
 * (exposed for the fuzz harness's round trip). Parse fills the fields the text holds (kind ..
 * label) and `parsed` (false when any required field is missing or wrong; then kind is -1),
 * and leaves path, mtime and alive alone. Write: *out malloc'd, NUL-terminated JSON of kind_name,
 * command, pid, host, boot_id, start, since, heartbeat and the label when not empty; NOMEM. */
void repo_lock_holder_parse(const char *text, size_t len, RepoLockHolder *h);
int repo_lock_holder_to_json(const RepoLockHolder *h, char **out, PgpErr *err);

#endif
