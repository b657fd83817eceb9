/*
 * lockfile.h - an exclusive lock held for the life of a process: flock(2) on a file that
 * also records who holds it (pid, host, start time) for the error message. The kernel drops
 * the lock when the holder dies, so a lock left by a dead process is never an obstacle.
 */
#ifndef PGPITR_LOCKFILE_H
#define PGPITR_LOCKFILE_H

#include "pgpitr/err.h"

typedef struct LockFile LockFile;

/* Creates the file's directory if needed. PGP_ERR_LOCKED naming the holder if another
 * process holds it; `what` names the activity in messages ("backup"). */
int lockfile_acquire(const char *path, const char *what, LockFile **out, PgpErr *err);
void lockfile_release(LockFile *l);   /* NULL is a no-op */

#endif
