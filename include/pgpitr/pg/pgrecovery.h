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
 *
 * pg_conf_read is the same reader for any setting.
 */
#ifndef PGPITR_PGRECOVERY_H
#define PGPITR_PGRECOVERY_H

#include <limits.h>
#include <stdbool.h>

#include <stddef.h>

#define PG_CONF_VALUE_MAX 1024

/* One setting asked for by name (case-insensitive, as PostgreSQL compares them). */
typedef struct PgConfSetting {
    const char *name;               /* in */
    bool found;                     /* out: set in a file or on the command line */
    char value[PG_CONF_VALUE_MAX];  /* out: the last value, unquoted ("" when not found);
                                       a longer value is cut */
    char source[PATH_MAX];          /* out: the file that set it last, or "the command line" */
} PgConfSetting;

/* The effective value of each of the n settings of v for the server of datadir, read as
 * described above (a setting not found keeps PostgreSQL's built-in default: the caller knows
 * it). Also what restore reads back from the directory it wrote (port, sockets, ...). */
void pg_conf_read(const char *datadir, PgConfSetting *v, size_t n);

typedef struct PgRecoveryTarget {
    bool set;                   /* one of the settings has a non-empty value */
    char setting[32];           /* which one ("recovery_target_lsn") */
    char source[PATH_MAX];      /* the file that set it last, or "the command line" */
} PgRecoveryTarget;

void pg_recovery_target_read(const char *datadir, PgRecoveryTarget *out);

#endif
