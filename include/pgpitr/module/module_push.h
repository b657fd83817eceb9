/*
 * module_push.h - the PostgreSQL-free half of the archive module (archive_library =
 * 'pgpitr', docs/archive-module.md): what archive-push does, kept open across calls. The
 * repository (storage, S3 connections) stays open between calls and the ready segments after
 * the one asked for are pushed ahead on threads that keep running after the call returned;
 * PostgreSQL's later call for such a segment waits for that batch and confirms its record
 * (push_ahead.h), exactly like `archive-push --jobs`.
 *
 * Contract: module_push returns 0 only when the file is durable in the repository (or was
 * already archived with the same content, or its push-ahead record is confirmed); otherwise
 * non-zero with a one-line message in err. It never exits or aborts on an ordinary error and
 * never calls PostgreSQL: the caller (module_pg.c) turns err into a WARNING. After an error
 * the repository is closed, and opened again by the next call. Only one thread calls these
 * functions (the archiver's); threads started here have every signal blocked, so that
 * PostgreSQL's signals reach the archiver's main thread only.
 */
#ifndef PGPITR_MODULE_PUSH_H
#define PGPITR_MODULE_PUSH_H

#include "pgpitr/common/err.h"

typedef struct ModuleSettings {
    const char *config;   /* pgpitr.config: the config file; NULL or "": the CLI's default */
    const char *repo;     /* pgpitr.repo: overrides the config's repo; NULL or "": not set */
    int jobs;             /* pgpitr.jobs: archive-push-jobs; 0: the config's (default 1) */
} ModuleSettings;

/* Archives path (relative to the data directory, as PostgreSQL hands it, or absolute). A
 * change of settings since the last call closes and reopens the repository. */
int module_push(const ModuleSettings *ms, const char *path, PgpErr *err);

/* Waits for the threads still pushing ahead, closes the repository (the archiver exits). */
void module_push_shutdown(void);

#endif
