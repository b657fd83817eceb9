/*
 * fdio.h - writing a whole buffer to a file descriptor: the loop every writer of files needs
 * (retry on EINTR, go on after a short write, and a write that wrote nothing counts as a full
 * disk), in one place (src/common/fdio.c).
 */
#ifndef PGPITR_FDIO_H
#define PGPITR_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Writes all len bytes of buf to fd: at its file offset when off < 0, else at offset off
 * (pwrite, the file offset unchanged). Returns 0, or the errno of the failed write (ENOSPC
 * for one that wrote nothing). *written (may be NULL) gets the bytes written either way. */
int fd_write_all(int fd, const void *buf, size_t len, off_t off, size_t *written);

#endif
