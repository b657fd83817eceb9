/*
 * libarchive_lazy.h - private to src/pg: libarchive loaded at run time (see pgpitr/dynlib.h
 * for why: archive-push/get must not pay for libarchive, libxml2, ICU and libstdc++ at every
 * process start).
 *
 * Include this instead of <archive.h> / <archive_entry.h>. Types and constants still come
 * from those headers; each libarchive function used is a macro naming its slot in the table
 * pg_libarchive, so call sites read like plain libarchive. Call pg_libarchive_load() before
 * the first libarchive call of a code path (pg_basebackup_tar_consume does; restore will too).
 *
 * To call another function: add it to PG_LIBARCHIVE_FUNCS with its prototype as written in
 * the libarchive headers (a compile-time check compares the two) and to the #define list at
 * the end. Forgetting the #define fails at link time (libarchive is not linked).
 */
#ifndef PGPITR_PG_LIBARCHIVE_LAZY_H
#define PGPITR_PG_LIBARCHIVE_LAZY_H

#include <archive.h>
#include <archive_entry.h>

#include "pgpitr/common/err.h"

/* X(return type, name, parameter list) for every libarchive function src/pg calls. */
#define PG_LIBARCHIVE_FUNCS(X)                                                              \
    X(struct archive *, archive_read_new, (void))                                            \
    X(int, archive_read_support_format_tar, (struct archive *a))                             \
    X(int, archive_read_open,                                                                \
      (struct archive *a, void *client_data, archive_open_callback *open_cb,                 \
       archive_read_callback *read_cb, archive_close_callback *close_cb))                    \
    X(int, archive_read_next_header, (struct archive *a, struct archive_entry **entry))      \
    X(la_ssize_t, archive_read_data, (struct archive *a, void *buf, size_t len))             \
    X(int, archive_read_free, (struct archive *a))                                           \
    X(const char *, archive_error_string, (struct archive *a))                               \
    X(void, archive_set_error, (struct archive *a, int err, const char *fmt, ...))           \
    X(const char *, archive_entry_pathname, (struct archive_entry *e))                       \
    X(mode_t, archive_entry_perm, (struct archive_entry *e))                                 \
    X(mode_t, archive_entry_filetype, (struct archive_entry *e))                             \
    X(time_t, archive_entry_mtime, (struct archive_entry *e))                                \
    X(la_int64_t, archive_entry_size, (struct archive_entry *e))                             \
    X(const char *, archive_entry_symlink, (struct archive_entry *e))

typedef struct PgLibarchive {
#define PG_LIBARCHIVE_SLOT(ret, name, params) ret (*name) params;
    PG_LIBARCHIVE_FUNCS(PG_LIBARCHIVE_SLOT)
#undef PG_LIBARCHIVE_SLOT
} PgLibarchive;

/* Each slot has exactly the type the libarchive headers declare (strict C11; nothing is
 * evaluated, so no reference to libarchive is emitted). */
#define PG_LIBARCHIVE_CHECK(ret, name, params)                                              \
    _Static_assert(_Generic(&name, ret (*) params: 1, default: 0),                           \
                   "prototype of " #name " in libarchive_lazy.h differs from libarchive");
PG_LIBARCHIVE_FUNCS(PG_LIBARCHIVE_CHECK)
#undef PG_LIBARCHIVE_CHECK

extern PgLibarchive pg_libarchive;

/* Loads libarchive.so.13 and fills pg_libarchive, once per process (thread-safe); later
 * calls return the first outcome. PGP_ERR_CONFIG "cannot load libarchive
 * (libarchive.so.13): ..." with a HINT to install the libarchive13 package. */
int pg_libarchive_load(PgpErr *err);

#ifndef PG_LIBARCHIVE_LAZY_IMPL
#define archive_read_new (pg_libarchive.archive_read_new)
#define archive_read_support_format_tar (pg_libarchive.archive_read_support_format_tar)
#define archive_read_open (pg_libarchive.archive_read_open)
#define archive_read_next_header (pg_libarchive.archive_read_next_header)
#define archive_read_data (pg_libarchive.archive_read_data)
#define archive_read_free (pg_libarchive.archive_read_free)
#define archive_error_string (pg_libarchive.archive_error_string)
#define archive_set_error (pg_libarchive.archive_set_error)
#define archive_entry_pathname (pg_libarchive.archive_entry_pathname)
#define archive_entry_perm (pg_libarchive.archive_entry_perm)
#define archive_entry_filetype (pg_libarchive.archive_entry_filetype)
#define archive_entry_mtime (pg_libarchive.archive_entry_mtime)
#define archive_entry_size (pg_libarchive.archive_entry_size)
#define archive_entry_symlink (pg_libarchive.archive_entry_symlink)
#endif

#endif
