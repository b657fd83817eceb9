/*
 * fx_err.h - assertions on errors shared by unit suites: a message reports bytes from
 * outside quoted, so that it stays one line of printable text whatever the input held.
 */
#ifndef PGPITR_FX_ERR_H
#define PGPITR_FX_ERR_H

#include "pgpitr/common/err.h"

/* err's message and hint hold no control byte (below 0x20, or 0x7f), and the message
 * contains `needle` (NULL: anything). */
void fx_assert_printable_err(const PgpErr *err, const char *needle);

#endif
