/*
 * file_ident.h - what stat says of a file that tells whether its content can have changed:
 * device, inode, size, and modification and change times to the nanosecond.
 *
 * Why it is enough, and when it is not. A write to a file sets its mtime and ctime to the
 * file system's current time, and nothing outside the kernel can set a ctime (utimensat sets
 * it to now). So a file whose identity is the same at two moments was not written between
 * them - except by a write in the same clock tick as the last change before the first moment:
 * file system timestamps come from a coarse clock (a jiffy, and a whole second on some file
 * systems), and such a write leaves both times as they were. The identity of a file changed
 * less than FILE_IDENT_SETTLE_NS before it was taken is therefore "racy" and proves nothing
 * (the same rule git applies to its index); only a settled one does.
 */
#ifndef PGPITR_FILE_IDENT_H
#define PGPITR_FILE_IDENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* Two seconds: above every timestamp granularity of a file system PostgreSQL runs on (one
 * second on the coarsest, ext4 with small inodes), with a margin for the clock's own tick. */
#define FILE_IDENT_SETTLE_NS (2 * 1000000000LL)

typedef struct FileIdent {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
} FileIdent;

void file_ident_of(const struct stat *st, FileIdent *id);

/* The identity of path (following symbolic links, as open does); errno on failure. */
int file_ident_path(const char *path, FileIdent *id);

bool file_ident_equal(const FileIdent *a, const FileIdent *b);

/* Whether id, taken at now_ns (CLOCK_REALTIME), is settled: its last change at least
 * FILE_IDENT_SETTLE_NS before, so any later write changes it. A change time in the future
 * (a clock set back) is not settled. */
bool file_ident_settled(const FileIdent *id, int64_t now_ns);

/* CLOCK_REALTIME in nanoseconds: the clock file systems date changes with. */
int64_t file_ident_now_ns(void);

#endif
