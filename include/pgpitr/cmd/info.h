/*
 * info.h - `pgpitr info`: what the repository holds and what it can recover, for a person
 * at 3 a.m. (text that fits 80 columns) and for monitoring (JSON, docs/info.schema.json).
 *
 * The model (Info, src/repo/info_model.h) is built once from the catalog (catalog.h) and the
 * newest drill report; the text and JSON renderers only format it, so both always say the
 * same thing.
 * Read-only on the repository and lock-free: it must work while a backup runs. It lists the
 * lock holders (repo_lock_list, read-only) to tell a running backup's incomplete directory
 * from one a failed or interrupted backup left.
 */
#ifndef PGPITR_INFO_H
#define PGPITR_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pgpitr/cmd/cmd.h"
#include "pgpitr/repo/catalog.h"
#include "pgpitr/repo/info_model.h"
#include "pgpitr/drill/drill_report.h"
#include "pgpitr/common/err.h"
#include "pgpitr/repo/lease.h"
#include "pgpitr/repo/repolock.h"
#include "pgpitr/storage/storage.h"
#include "pgpitr/repo/tl_production.h"

#define INFO_SCHEMA_VERSION 2        /* 2: "objectives" (docs/info.md) */
#define INFO_WIDTH 80              /* no text line is longer */
#define INFO_SIZE_MAX 16           /* "1023.9 KiB" */
#define INFO_DURATION_MAX 32       /* "12345d 23h" */

/* Loads the catalog of repo, the lock holders, the recovery leases and the newest drill
 * report, then info_analyze. A failure to list the locks or the leases is a warning
 * (locks_unknown, leases_unknown), not an error. out
 * is zeroed first; free it with info_free (also after a failure). */
int info_load(Repo *repo, const char *repo_path, int64_t now, Info *out, PgpErr *err);
/* Fills info's operations settings (rpo-objective, rto-objective, backup-max-age,
 * drill-max-age) from s; a bad value is PGP_ERR_CONFIG naming the key. */
int info_load_settings(const CmdSettings *s, Info *info, PgpErr *err);
/* Fills info->backup_objects and backup_object_bytes by streaming every complete backup's
 * manifest (object_refs.h): memory grows with the distinct objects, never with all entries of
 * all backups at once. Errors as object_refs_add_backup. */
int info_count_objects(Repo *repo, Info *info, PgpErr *err);
/* Reads the newest drill/<id>.json that parses (one that does not is skipped with a
 * warning); none: out->found false. Storage errors are returned. */
int info_find_drill(Storage *s, const CryptoRepoKey *key, InfoDrill *out, PgpErr *err);

/* Sections with headings; every line at most INFO_WIDTH columns. */
void info_print_text(const Info *info, FILE *out);
/* docs/info.schema.json; malloc'd, two-space indent, newline at the end. */
int info_to_json(const Info *info, char **out, PgpErr *err);

/* Pure formatting helpers (unit tested). */
/* 1024-based: "0 B", "1023 B", "1.0 KiB", "22.5 MiB", "3.2 GiB", up to EiB. */
void info_format_size(uint64_t bytes, char out[INFO_SIZE_MAX]);
/* "0s", "59s", "1m 05s", "2h 03m", "3d 04h"; negative: "-". */
void info_format_duration(int64_t secs, char out[INFO_DURATION_MAX]);
/* "5m 02s ago", "just now" (same second), "12s in the future" (clock skew). */
void info_format_age(int64_t now, int64_t then, char out[INFO_DURATION_MAX + 16]);
/* Writes text (one line, no newline in it) and a newline, wrapped at spaces to lines of at
 * most `width` columns; runs of spaces between words are kept (alignment) and dropped at a
 * break; continuation lines are indented by `indent` spaces (indent must be below
 * width - 8); a word longer than a line is cut. The first line keeps its leading spaces. */
void info_print_wrapped(FILE *out, size_t width, size_t indent, const char *text);

#endif
