/*
 * restore_keep.h - `pgpitr restore --delta --keep-old DIR`: before a delta restore changes
 * anything, a complete copy of everything it may change or remove goes into DIR, with a
 * script that puts it back, so that a PITR over a broken production directory can be undone
 * even after the restored server has run.
 *
 * What is kept: every entry of the data directory, and in each tablespace location the
 * entries the backup has there (its PG_<version>_<catalog> directory; other entries of the
 * location are never touched by a delta restore). Copied, not moved or hard-linked: the
 * delta restore keeps the files that match the backup in place, and the restored server then
 * changes them in place, so only an independent copy still holds the old content afterwards.
 *
 * DIR, which must be missing or empty (or hold an interrupted --keep-old of the same destination):
 *   README              what this is and how to undo, written before anything is copied
 *   undo.sh             `sh DIR/undo.sh`: puts the kept entries back (restore_keep_undo.h)
 *   keep-old.json       the target and the state: "copying" (not complete, and nothing in the
 *                       target has changed), "kept" (complete and durable: from here on the
 *                       restore may change the target), "done" (the restore finished),
 *                       "undone" (undo.sh has put it back)
 *   pgdata/             the data directory's entries
 *   tablespaces/<oid>/  that tablespace location's kept entries
 *
 * Only this module writes into DIR; it never writes into the destination.
 */
#ifndef PGPITR_RESTORE_KEEP_H
#define PGPITR_RESTORE_KEEP_H

#include <signal.h>
#include <stdbool.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/restore/restore_files.h"

typedef struct RestoreKeep RestoreKeep;

/*
 * Checks and takes DIR for the destination t (its data directory and tablespace locations, as the
 * restore will use them; m gives the names the backup has in each location), before the
 * target is acquired. PGP_ERR_USAGE: DIR overlaps the data directory or a tablespace location
 * (by path or by identity), is not a directory, is not empty (naming an entry), holds the
 * copy of another target, or of a restore that finished ("done", "undone"); a path that is not
 * UTF-8. PGP_ERR_LOCKED: a running server uses DIR, or another restore holds it. DIR is
 * created (mode 0700; its parent must exist) if missing, made 0700, and flock'ed until
 * restore_keep_free. An interrupted --keep-old of the same target is taken over: "copying"
 * is copied again, "kept" is used as it is.
 */
int restore_keep_open(const char *dir, const RestoreDest *t, const ManifestPack *files,
                      RestoreKeep **out, PgpErr *err);

typedef struct RestoreKeepCopyOptions {
    bool quiet;                         /* nothing on stdout */
    bool tty;                           /* a progress line on stderr */
    const volatile sig_atomic_t *cancel;/* non-zero: stop (PGP_ERR_IO, "interrupted") */
} RestoreKeepCopyOptions;

/*
 * Call once the destination is acquired (locked and checked), before anything in it changes:
 * lists what the restore may change, refuses when DIR's file system has less room than its
 * bytes (PGP_ERR_NO_SPACE), writes README, undo.sh and keep-old.json ("copying"), copies
 * (mode, owner, times and symlinks as they are; every file and directory fsynced), then
 * writes "kept" durably. Already "kept": nothing is copied. On any failure the target is
 * untouched: what this call wrote into DIR is removed again, and the HINT says so.
 */
int restore_keep_copy(RestoreKeep *k, const RestoreKeepCopyOptions *opt, PgpErr *err);

/* After the restore succeeded: state "done" (a failure is a warning: the copy is complete). */
void restore_keep_finish(RestoreKeep *k);

/* DIR, absolute. */
const char *restore_keep_dir(const RestoreKeep *k);

/* Releases DIR's lock. When nothing was kept (restore_keep_copy not called or failed) and
 * restore_keep_open created DIR, DIR is removed again. NULL is a no-op. */
void restore_keep_free(RestoreKeep *k);

#endif
