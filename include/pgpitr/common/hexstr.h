/*
 * hexstr.h - the one check that text is hexadecimal: sha256 names of objects and records
 * (lowercase), WAL file names and archive directories (uppercase, as PostgreSQL writes
 * them), and manifests that accept either case.
 */
#ifndef PGPITR_HEXSTR_H
#define PGPITR_HEXSTR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { HEX_LOWER = 1, HEX_UPPER = 2, HEX_ANY = HEX_LOWER | HEX_UPPER } HexCase;

/* Length of the leading run of hex digits of that case in s, looking at most max bytes
 * (a NUL ends the run). */
size_t hexstr_span(const char *s, size_t max, HexCase c);

/* True if the first n bytes of s are hex digits of that case (s may go on after them). */
bool hexstr_is(const char *s, size_t n, HexCase c);

/* True if s is exactly n hex digits of that case, then its NUL; false for NULL. */
bool hexstr_exact(const char *s, size_t n, HexCase c);

#endif
