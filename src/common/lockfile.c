/*
 * lockfile.c - flock-based process lock with holder information (see lockfile.h).
 */
#include "pgpitr/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct LockFile {
    int fd;
};

static void make_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return;
    *slash = '\0';
    mkdir(dir, 0750); /* failure shows up as the open() error below */
}

int lockfile_acquire(const char *path, const char *what, LockFile **out, PgpErr *err)
{
    *out = NULL;
    make_parent(path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return PGP_FAIL_SYS(err, errno, "cannot open lock file \"%s\"", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[256] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        close(fd);
        if (e != EWOULDBLOCK)
            return PGP_FAIL_SYS(err, e, "cannot lock \"%s\"", path);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        PGP_FAIL(err, PGP_ERR_LOCKED, "another %s is running (%s)", what,
                 holder[0] ? holder : "holder unknown");
        pgp_err_hint(err, "wait for it to finish; the lock is released when it exits");
        return PGP_ERR_LOCKED;
    }
    char host[HOST_NAME_MAX + 1] = "unknown";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    char since[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) != NULL)
        strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S UTC", &tm);
    char line[512];
    int len = snprintf(line, sizeof line, "pid %ld on %s since %s\n", (long)getpid(), host, since);
    /* Best effort: the information is for humans, the flock is the lock. */
    if (ftruncate(fd, 0) == 0 && pwrite(fd, line, (size_t)len, 0) < 0)
        (void)0;
    LockFile *l = malloc(sizeof *l);
    if (l == NULL) {
        close(fd);
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    }
    l->fd = fd;
    *out = l;
    return 0;
}

void lockfile_release(LockFile *l)
{
    if (l == NULL)
        return;
    if (ftruncate(l->fd, 0) != 0)
        (void)0; /* the lock goes with close() regardless */
    close(l->fd);
    free(l);
}
