/*
 * fdio.c - writing a whole buffer to a file descriptor, and directory streams (fdio.h).
 */
#include "pgpitr/common/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int fd_write_all(int fd, const void *buf, size_t len, off_t off, size_t *written)
{
    const char *p = buf;
    size_t done = 0;
    int rc = 0;
    while (done < len) {
        ssize_t n = off < 0 ? write(fd, p + done, len - done)
                            : pwrite(fd, p + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? errno : ENOSPC;   /* a write of 0 bytes means the disk is full */
            break;
        }
        done += (size_t)n;
    }
    if (written != NULL)
        *written = done;
    return rc;
}

DIR *fd_opendir(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}
