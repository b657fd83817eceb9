/*
 * restore_copy.c - copying a tree as it is, durably (restore_copy.h). Works on directory file
 * descriptors and never follows a symlink: the tree is opened once at its root and walked
 * with openat/fstatat, so a symlink met on the way is copied as a symlink, never entered.
 *
 * copy_file_range() first: the kernel copies without the data passing through here, and file
 * systems that can share extents (XFS, Btrfs) clone instead of copying. It fails with EXDEV,
 * EINVAL, EOPNOTSUPP or ENOSYS where it cannot work (across file systems on some kernels,
 * some network file systems); read() and write() then do the rest.
 */
#include "pgpitr/restore/restore_copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK ((size_t)64 << 20)
#define PLAIN_BUF ((size_t)1 << 20)

static int interrupted(const RestoreCopy *c, PgpErr *err)
{
    if (c->cancel == NULL || *c->cancel == 0)
        return 0;
    return PGP_FAIL(err, PGP_ERR_IO, "interrupted by signal %d", (int)*c->cancel);
}

static void progress(RestoreCopy *c)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (c->label == NULL || (c->shown.tv_sec != 0 && now.tv_sec - c->shown.tv_sec < 1))
        return;
    c->shown = now;
    fprintf(stderr, "\r%s: %.1f/%.1f MiB (%d%%)   ", c->label, (double)c->bytes / 1048576.0,
            (double)c->total / 1048576.0,
            c->total > 0 ? (int)(100.0 * (double)c->bytes / (double)c->total) : 100);
    fflush(stderr);
}

void restore_copy_progress_end(RestoreCopy *c)
{
    if (c->label != NULL && c->shown.tv_sec != 0)
        fputc('\n', stderr);
    c->shown = (struct timespec){0};
}

void restore_copy_free(RestoreCopy *c)
{
    free(c->buf);
    c->buf = NULL;
}

static bool foreign_owner(const struct stat *st)
{
    return st->st_uid != geteuid() || st->st_gid != getegid();
}

static int owner_error(const struct stat *st, const char *path, PgpErr *err)
{
    return PGP_FAIL_SYS(err, errno, "cannot keep the owner (uid %u, gid %u) of \"%s\"",
                        (unsigned)st->st_uid, (unsigned)st->st_gid, path);
}

/* Owner, mode and times of st onto the open copy, then fsync. */
static int set_meta(int fd, const struct stat *st, const char *path, PgpErr *err)
{
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (foreign_owner(st) && fchown(fd, st->st_uid, st->st_gid) != 0)
        return owner_error(st, path, err);
    if (fchmod(fd, st->st_mode & 07777) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot keep the mode of \"%s\"", path);
    if (futimens(fd, ts) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot keep the times of \"%s\"", path);
    if (fsync(fd) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot fsync the copy of \"%s\"", path);
    return 0;
}

static int write_out(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) /* a write of 0 bytes means the disk is full */
            return n < 0 ? errno : ENOSPC;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* in -> out, to the end of in. */
static int copy_data(RestoreCopy *c, int in, int out, const char *path, PgpErr *err)
{
    bool plain = false;
    for (;;) {
        int rc = interrupted(c, err);
        if (rc != 0)
            return rc;
        ssize_t n;
        int e = 0;
        if (!plain) {
            n = copy_file_range(in, NULL, out, NULL, COPY_CHUNK, 0);
            if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                          errno == EINVAL)) {
                plain = true;
                continue;
            }
            e = n < 0 ? errno : 0;
        } else {
            if (c->buf == NULL && (c->buf = malloc(PLAIN_BUF)) == NULL)
                return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
            n = read(in, c->buf, PLAIN_BUF);
            e = n < 0 ? errno : n > 0 ? write_out(out, c->buf, (size_t)n) : 0;
        }
        if (e == EINTR)
            continue;
        if (e != 0)
            return PGP_FAIL_SYS(err, e, "cannot copy \"%s\"", path);
        if (n == 0)
            return 0;
        c->bytes += (uint64_t)n;
        progress(c);
    }
}

static int copy_file(RestoreCopy *c, int sdir, int ddir, const char *name, const char *path,
                     const struct stat *st, PgpErr *err)
{
    c->files++;
    if (ddir < 0) {
        c->bytes += (uint64_t)st->st_size;
        return 0;
    }
    int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open \"%s\"", path);
    int out = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = out >= 0 ? copy_data(c, in, out, path, err)
                      : PGP_FAIL_SYS(err, errno, "cannot create the copy of \"%s\"", path);
    if (rc == 0)
        rc = set_meta(out, st, path, err);
    if (out >= 0 && close(out) != 0 && rc == 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot close the copy of \"%s\"", path);
    close(in);
    return rc;
}

static int copy_link(RestoreCopy *c, int sdir, int ddir, const char *name, const char *path,
                     const struct stat *st, PgpErr *err)
{
    c->files++;
    if (ddir < 0)
        return 0;
    char target[4096];
    ssize_t n = readlinkat(sdir, name, target, sizeof target);
    if (n < 0 || (size_t)n >= sizeof target)
        return PGP_FAIL_SYS(err, n < 0 ? errno : ENAMETOOLONG, "cannot read symlink \"%s\"", path);
    target[n] = '\0';
    struct timespec ts[2] = {st->st_atim, st->st_mtim};
    if (symlinkat(target, ddir, name) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot create the copy of symlink \"%s\"", path);
    if (foreign_owner(st) &&
        fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) != 0)
        return owner_error(st, path, err);
    if (utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot keep the times of \"%s\"", path);
    return 0;
}

static int copy_dir(RestoreCopy *c, int sdir, int ddir, const char *name, const char *path,
                    const struct stat *st, PgpErr *err)
{
    int s = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), d = -1;
    DIR *it = s >= 0 ? fdopendir(s) : NULL;
    if (it == NULL) {
        int e = errno;
        if (s >= 0)
            close(s);
        return PGP_FAIL_SYS(err, e, "cannot open directory \"%s\"", path);
    }
    int rc = 0;
    if (ddir >= 0 && mkdirat(ddir, name, 0700) != 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot create the copy of directory \"%s\"", path);
    if (rc == 0 && ddir >= 0 &&
        (d = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        rc = PGP_FAIL_SYS(err, errno, "cannot open the copy of directory \"%s\"", path);
    struct dirent *de;
    while (rc == 0 && (de = readdir(it)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child = NULL;
        rc = asprintf(&child, "%s/%s", path, de->d_name) < 0
                 ? PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory")
                 : restore_copy_entry(c, dirfd(it), d, de->d_name, child, err);
        free(child);
    }
    if (rc == 0 && d >= 0) /* last: every entry made in it changed its times */
        rc = set_meta(d, st, path, err);
    if (d >= 0)
        close(d);
    closedir(it);
    return rc;
}

int restore_copy_entry(RestoreCopy *c, int sdir, int ddir, const char *name, const char *path,
                       PgpErr *err)
{
    struct stat st;
    int rc = interrupted(c, err);
    if (rc != 0)
        return rc;
    if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return PGP_FAIL_SYS(err, errno, "cannot check \"%s\"", path);
    if (S_ISREG(st.st_mode))
        return copy_file(c, sdir, ddir, name, path, &st, err);
    if (S_ISLNK(st.st_mode))
        return copy_link(c, sdir, ddir, name, path, &st, err);
    if (S_ISDIR(st.st_mode))
        return copy_dir(c, sdir, ddir, name, path, &st, err);
    return PGP_FAIL(err, PGP_ERR_USAGE, "cannot copy \"%s\": not a regular file, directory or "
                    "symbolic link", path);
}
