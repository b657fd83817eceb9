/*
 * restore_copy.h - copying a tree of the file system as it is, durably: regular files,
 * directories and symlinks with their mode, owner and times, never following a symlink;
 * every file and directory fsynced before the call returns. What --keep-old (restore_keep.h)
 * uses to keep the target before a delta restore changes it.
 */
#ifndef PGPITR_RESTORE_COPY_H
#define PGPITR_RESTORE_COPY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pgpitr/common/err.h"

typedef struct RestoreCopy {
    const volatile sig_atomic_t *cancel;/* optional: non-zero stops the copy (PGP_ERR_IO) */
    const char *label;                  /* progress line on stderr ("keep-old"); NULL: none */
    uint64_t files, bytes;              /* counted (count only) or copied so far */
    uint64_t total;                     /* bytes expected, for the progress line */
    struct timespec shown;              /* (private) */
    char *buf;                          /* (private) read/write copies; restore_copy_free */
} RestoreCopy;

/*
 * Copies the entry name of the directory open as sdir (shown as path in messages) into the
 * directory open as ddir under the same name, recursively, or with ddir -1 only counts it
 * (c->files: entries other than directories, c->bytes: bytes of regular files). The copy is
 * created with O_EXCL (nothing in ddir is overwritten) and gets the mode, times and, when
 * they differ from this process's, the owner of the original (failing to keep the owner is
 * an error); file data goes through copy_file_range(), or read() and write() where that
 * cannot work. A directory's mode and times are set after its entries. Anything but a
 * regular file, a directory or a symlink is PGP_ERR_USAGE naming it. A full disk is
 * PGP_ERR_NO_SPACE; what was copied so far stays (the caller removes it).
 */
int restore_copy_entry(RestoreCopy *c, int sdir, int ddir, const char *name, const char *path,
                       PgpErr *err);
/* Ends the progress line (if one was shown) with a newline. */
void restore_copy_progress_end(RestoreCopy *c);
void restore_copy_free(RestoreCopy *c);

#endif
