/*
 * fdio.h - what every file writer and directory walker needs around a file descriptor, in one
 * place (src/common/fdio.c): writing a whole buffer (retry on EINTR, go on after a short
 * write, and a write that wrote nothing counts as a full disk), reading a small file whole,
 * opening a file only if it is a regular one, a directory stream of a directory reached
 * through a descriptor, and replacing a small file atomically.
 */
#ifndef PGPITR_FDIO_H
#define PGPITR_FDIO_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Writes all len bytes of buf to fd: at its file offset when off < 0, else at offset off
 * (pwrite, the file offset unchanged). Returns 0, or the errno of the failed write (ENOSPC
 * for one that wrote nothing). *written (may be NULL) gets the bytes written either way. */
int fd_write_all(int fd, const void *buf, size_t len, off_t off, size_t *written);

/* Reads from fd's offset until end of file or until size bytes are in buf, whichever comes
 * first (retry on EINTR, go on after a short read). Returns 0, or the errno of the failed
 * read; *got gets the bytes read. A caller that must refuse a larger file passes one byte
 * more than it accepts and checks *got. */
int fd_read_upto(int fd, void *buf, size_t size, size_t *got);

/* A directory stream of `name` under dfd ("." for dfd itself) on a descriptor of its own, so
 * it has its own read position (a dup of dfd would share dfd's); a symbolic link at name is
 * not followed. NULL, errno set, on failure. closedir frees it. */
DIR *fd_opendir(int dfd, const char *name);

/* Opens dfd/name (dfd AT_FDCWD: a path) for reading if it is a regular file: never follows a
 * symbolic link, and never waits (a FIFO planted under the name would block open and read
 * until someone wrote to it). The descriptor is blocking again when returned. -1 with errno
 * on failure, and *not_regular (may be NULL) set when name is something else (errno EINVAL). */
int fd_open_regular(int dfd, const char *name, bool *not_regular);

/* Replaces dfd/name with buf whole: written to ".tmp.<name>.<pid>" beside it, then renamed
 * over name, so a reader sees the old file or the new one, never a part. durable: the file is
 * fsynced before the rename and dfd after it. Returns 0 or the errno of the failed step (the
 * temporary file removed). */
int fd_replace_file(int dfd, const char *name, const void *buf, size_t len, mode_t mode,
                    bool durable);

#endif
