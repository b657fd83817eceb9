/*
 * pgrecovery.h - whether the server a data directory belongs to recovers to a recovery target
 * (recovery_target, recovery_target_lsn, _name, _time, _xid), read from its configuration the
 * way PostgreSQL 15 reads it: the main configuration file (config_file from postmaster.opts,
 * else DATADIR/postgresql.conf) with its include, include_if_exists and include_dir
 * directives, then DATADIR/postgresql.auto.conf, then the -c / --name=value options of the
 * postmaster's command line (postmaster.opts). The last value of each setting wins; an empty
 * value unsets it.
 *
 * Why archive-get asks: with a target, PostgreSQL (13 and later) refuses to end recovery
 * short of it ("recovery ended before configured recovery target was reached"), so "not
 * found" can never make it promote early; without one it promotes at the first file not found.
 *
 * Reads files only; a file that cannot be read counts as empty (the answer is then "no
 * target", the strict one for archive-get). Include depth is limited to 10.
 */
#ifndef PGPITR_PGRECOVERY_H
#define PGPITR_PGRECOVERY_H

#include <limits.h>
#include <stdbool.h>

typedef struct PgRecoveryTarget {
    bool set;                   /* one of the settings has a non-empty value */
    char setting[32];           /* which one ("recovery_target_lsn") */
    char source[PATH_MAX];      /* the file that set it last, or "the command line" */
} PgRecoveryTarget;

void pg_recovery_target_read(const char *datadir, PgRecoveryTarget *out);

#endif
