/*
 * config.h - the INI configuration file (libinih). Only the [global] section exists today;
 * keys are checked against the list of known keys so that a typo ("compres = lz4") is an
 * error instead of a silently ignored setting. Values are strings; commands convert and
 * apply precedence (flag > environment > file) themselves.
 */
#ifndef PGPITR_CONFIG_H
#define PGPITR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pgpitr/common/err.h"

#define PGPITR_DEFAULT_CONFIG "/etc/pgpitr/pgpitr.conf"

typedef struct PgpConfig PgpConfig;

/* path NULL: an empty configuration. must_exist false: a missing file is an empty
 * configuration (for the default path); true: PGP_ERR_CONFIG naming the file. */
int config_load(const char *path, bool must_exist, PgpConfig **out, PgpErr *err);
/* Parses the INI text read from f (config_load's work once the file is open; the fuzz harness
 * feeds it memory); name is the file name messages and config_path give. */
int config_read(FILE *f, const char *name, PgpConfig **out, PgpErr *err);
/* NULL if the key is not set. */
const char *config_get(const PgpConfig *c, const char *key);
const char *config_path(const PgpConfig *c);   /* NULL if none was read */
/* The keys a file may set, *n their count (test_options.c compares them with the option
 * table, src/cmd/cmd_options.c). */
const char *const *config_keys(size_t *n);
void config_free(PgpConfig *c);

/* A duration: one or more NUMBER UNIT groups ("90s", "30min", "1h30min", "7d", "2w"; units s,
 * min, h, d, w; a bare number is seconds), within [min_s, max_s] seconds. A one-line
 * PGP_ERR_CONFIG naming what otherwise. */
int config_parse_duration(const char *what, const char *text, int64_t min_s, int64_t max_s,
                          int64_t *out, PgpErr *err);
/* Parses an integer setting within [min, max]; PGP_ERR_CONFIG naming `what` otherwise. */
int config_parse_int(const char *what, const char *text, long min, long max, long *out,
                     PgpErr *err);

#endif
