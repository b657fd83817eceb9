/*
 * fx_dir.h - a scratch directory for unit suites that read files the way PostgreSQL's data
 * directory holds them (configuration files, lock files): made with mkdtemp, filled with
 * small text files, removed with everything in it. Every helper asserts with Check.
 */
#ifndef PGPITR_FX_DIR_H
#define PGPITR_FX_DIR_H

#include <limits.h>
#include <stddef.h>

/* Makes /tmp/pgpitr_<tag>.XXXXXX into dir (size bytes). */
void fx_dir_make(char *dir, size_t size, const char *tag);
/* Removes dir and everything in it. */
void fx_dir_remove(const char *dir);
/* Writes text into dir/name (created or truncated). */
void fx_dir_put(const char *dir, const char *name, const char *text);

/* Damage on purpose: flips one bit of one byte of dir/name, at byte off, or -off bytes
 * before the end when off < 0, or in the middle with FX_FLIP_MIDDLE. */
#define FX_FLIP_MIDDLE LONG_MIN
#define FX_FLIP_MASK 0x10 /* the bit flipped */
void fx_flip_bit(const char *dir, const char *name, long off);

#endif
