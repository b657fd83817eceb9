/*
 * prefetch.h - the background prefetcher that fills the archive-get spool (spool.h).
 *
 * One detached process per spool (flock on .prefetch.lock): it fetches the segments after the
 * last requested one, on its timeline, with SpoolSettings.jobs parallel fetches, each verified
 * and published by rename with its record (spool_file.h), never holding more than
 * SpoolSettings.max_segments. It stops at the
 * first segment that is not archived or fails (PostgreSQL's own request for it then goes to
 * the repository and reports the failure), removes spooled files PostgreSQL can no longer ask
 * for, and exits - removing what it spooled - when nothing was requested for idle_timeout_s,
 * when the postmaster of the data directory is gone, or when archive recovery has ended (then
 * it also removes the recovery lease of the data directory: recovery_lease.h).
 */
#ifndef PGPITR_PREFETCH_H
#define PGPITR_PREFETCH_H

#include "pgpitr/archive/spool.h"

/* Starts the prefetcher for the segments after `name` unless one runs. Never fails the
 * caller (archive-get has already restored its file): problems are logged as warnings. */
void prefetch_ensure(const SpoolSettings *st, const char *name);

/* The prefetcher's body, in the calling process (prefetch_ensure runs it in a detached
 * grandchild). lock_fd holds the flock on .prefetch.lock; dfd is the spool directory, checked
 * by spool_dir_open (everything in it is reached through dfd). Returns when it is done. */
void prefetch_run(const SpoolSettings *st, const char *name, int lock_fd, int dfd);

#endif
