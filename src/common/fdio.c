/*
 * fdio.c - writing a whole buffer to a file descriptor, directory streams, and replacing a
 * small file atomically (fdio.h).
 */
#include "pgpitr/common/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
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

int fd_read_upto(int fd, void *buf, size_t size, size_t *got)
{
    char *p = buf;
    size_t done = 0;
    int rc = 0;
    while (done < size) {
        ssize_t n = read(fd, p + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? errno : 0;
            break;
        }
        done += (size_t)n;
    }
    *got = done;
    return rc;
}

int fd_open_regular(int dfd, const char *name, bool *not_regular)
{
    if (not_regular != NULL)
        *not_regular = false;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (e == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
        e = errno;
    if (e == 0)
        return fd;
    if (not_regular != NULL)
        *not_regular = e == EINVAL;
    close(fd);
    errno = e;
    return -1;
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

int fd_replace_file(int dfd, const char *name, const void *buf, size_t len, mode_t mode,
                    bool durable)
{
    char tmp[NAME_MAX + 1];
    if ((size_t)snprintf(tmp, sizeof tmp, ".tmp.%s.%ld", name, (long)getpid()) >= sizeof tmp)
        return ENAMETOOLONG;
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return errno;
    int e = fd_write_all(fd, buf, len, -1, NULL);
    if (e == 0 && durable && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && renameat(dfd, tmp, dfd, name) != 0)
        e = errno;
    if (e != 0) {
        unlinkat(dfd, tmp, 0);
        return e;
    }
    return durable && fsync(dfd) != 0 ? errno : 0;
}
