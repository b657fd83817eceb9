/*
 * restore_conf.h - the text restore writes for PostgreSQL's recovery (the lines appended to
 * postgresql.auto.conf) and the time and target formatting restore prints and writes.
 * Pure text work: no I/O. restore_parse_time (restore.h) lives beside these in restore_conf.c.
 */
#ifndef PGPITR_RESTORE_CONF_H
#define PGPITR_RESTORE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pg/pgserver.h"
#include "pgpitr/restore/restore.h"

#define RESTORE_TIME_TEXT_MAX 40

typedef struct RestoreRecoveryConf {
    const char *bin;                    /* pgpitr binary for restore_command */
    const char *config;                 /* --config FILE of restore_command; NULL or "": none */
    const char *repo;                   /* --repo PATH of restore_command; NULL or "": none */
    const RestoreCommandEnv *env;       /* NAME='VALUE' before the program; NULL when n_env 0 */
    size_t n_env;
    const char *label;                  /* backup label, for the comment line */
    const RestoreTargetSpec *target;    /* kind, value, exclusive, action */
    uint32_t timeline;                  /* recovery_target_timeline; 0: not written */
    RestoreArchiveMode archive_mode;    /* OFF: archive_mode = 'off' is written */
    bool standby;                       /* --standby: the backup's primary_conninfo & co. stay,
                                           recovery_target_timeline 'latest' unless the target
                                           names a timeline */
    const PgServerSetting *settings;    /* written last, in order; NULL when n_settings is 0 */
    size_t n_settings;
    const char *settings_comment;       /* "# ..." line before them; NULL: none */
} RestoreRecoveryConf;

/*
 * The settings restore appends to postgresql.auto.conf, malloc'd in *out:
 *   # added by pgpitr restore of backup <label>
 *   restore_command = '[NAME=VALUE ...] <bin> [--config <config>] [--repo <repo>] archive-get %f "%p"'
 *   recovery_target = '' ... recovery_target_xid = ''   (the four not used, emptied)
 *   recovery_target_time = '2026-11-22 03:15:07.25+00'  (UTC, always "+00"), or
 *     recovery_target_lsn = 'X/X' | recovery_target_xid = 'N' | recovery_target_name = '...' |
 *     recovery_target = 'immediate'                     (all five emptied for LATEST)
 *   recovery_target_inclusive = 'off' ('on' unless exclusive, for time, LSN and xid)
 *   recovery_target_timeline = 'N'      (when timeline != 0; 'latest' for a standby whose
 *                                        target names no timeline)
 *   recovery_target_action = 'promote'  (target->action or promote; not for LATEST, where
 *                                        PostgreSQL promotes at the end of the WAL anyway)
 *   # a restored copy must not archive ...
 *   archive_mode = 'off'                (archive_mode OFF; nothing for PRESERVE)
 *   # not a standby: ...                 (unless standby:)
 *   primary_conninfo = '', primary_slot_name = '', recovery_min_apply_delay = '0',
 *   archive_cleanup_command = '', recovery_end_command = ''
 *   <settings_comment>
 *   <settings>
 * Every target setting is written, so that none from the backup's own configuration (a
 * previous restore's, kept in its postgresql.auto.conf) applies. Each name is written once:
 * a setting in `settings` replaces restore's own line for that name (the last place wins).
 * Paths are quoted for /bin/sh when they hold anything outside [A-Za-z0-9/._+,:=@-] (single
 * quotes, ' written '\''), '%' in them is doubled, and every value is quoted for the
 * configuration file (' and \ doubled). PGP_ERR_CONFIG when the binary or repository path
 * holds a line break (\n or \r), naming which (the configuration file's path too): PostgreSQL
 * cannot load such a file.
 * PGP_ERR_USAGE for a value of `settings` or a target holding a line break, an invalid
 * setting name, an action other than promote|pause|shutdown; NOMEM.
 */
int restore_recovery_conf_text(const RestoreRecoveryConf *c, char **out, PgpErr *err);

/* s as one /bin/sh word: as it is when it holds only [A-Za-z0-9/._+,:=@-], else in single
 * quotes (' written '\''); with percent, '%' doubled (for PostgreSQL's %-expansion). */
void restore_sh_word(FILE *f, const char *s, bool percent);

/* "2026-11-22 03:15:07+00", "2026-11-22 03:15:07.25+00": UTC, fraction only when non-zero.
 * Times before 1970 or after 9999 are printed as the raw number of microseconds. */
void restore_format_time(int64_t time_us, char out[RESTORE_TIME_TEXT_MAX]);

/* "time 2026-11-22 03:15:07+00", "LSN 0/5000028", "xid 1234", "restore point \"n\"",
 * "immediate (the backup's consistency point)", "latest (the end of the archived WAL)". */
void restore_target_describe(const RestoreTargetSpec *t, char *out, size_t size);

#endif
