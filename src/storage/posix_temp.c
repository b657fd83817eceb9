/*
 * posix_temp.c - temporary names of the posix driver: ".tmp.<base>.<host>.<pid>.<hex>" for a
 * writer's file beside its final name, ".tmp.batch.<host>.<pid>.<hex>" for a batch's
 * directory (posix_batch.c), and the cleanup of those a dead process of this host left.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "posix_internal.h"

/* Parse "<host>.<pid>.<hex>" (host may contain dots); returns the pid or -1. */
pid_t posix_tmp_owner(const char *rest, const char *host)
{
    const char *hex = strrchr(rest, '.');
    if (hex == NULL || hex == rest)
        return -1;
    const char *pid_end = hex;
    const char *pid_start = pid_end;
    while (pid_start > rest && pid_start[-1] != '.')
        pid_start--;
    if (pid_start == rest || pid_start == pid_end)
        return -1;
    size_t host_len = (size_t)(pid_start - 1 - rest);
    if (host_len != strlen(host) || memcmp(rest, host, host_len) != 0)
        return -1;
    long pid = 0;
    for (const char *c = pid_start; c < pid_end; c++) {
        if (*c < '0' || *c > '9' || pid > INT_MAX / 10)
            return -1;
        pid = pid * 10 + (*c - '0');
    }
    /* pid 0 or 1 would make kill() address a process group or init: never "stale". */
    return pid > 1 && pid <= INT_MAX ? (pid_t)pid : -1;
}

/*
 * Remove ".tmp.<base>.<host>.<pid>.*" files of this host whose process is gone: what a
 * push killed by SIGKILL leaves behind. Best effort: cleaning garbage never fails a write.
 */
void posix_remove_stale_temps(PosixDrv *d, int dfd, const char *base)
{
    int fd = dup(dfd);
    if (fd < 0)
        return;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return;
    }
    size_t base_len = strlen(base);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        const char *name = de->d_name;
        if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
            continue;
        name += strlen(TMP_PREFIX);
        if (strncmp(name, base, base_len) != 0 || name[base_len] != '.')
            continue;
        pid_t pid = posix_tmp_owner(name + base_len + 1, d->host);
        if (pid > 0 && kill(pid, 0) == -1 && errno == ESRCH)
            unlinkat(dfd, de->d_name, 0);
    }
    closedir(dir);
}

unsigned long long posix_random_u64(void)
{
    unsigned long long v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v ^= (unsigned long long)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^
             (unsigned long long)ts.tv_sec ^ ((unsigned long long)getpid() << 32);
    }
    return v;
}

/* Hostname as it appears in temp names: no '/' and no surprises in a file name. */
void posix_host_for_temp(char *out, size_t size)
{
    if (gethostname(out, size) < 0)
        out[0] = '\0';
    out[size - 1] = '\0';
    for (char *c = out; *c != '\0'; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_'))
            *c = '_';
    }
    if (out[0] == '\0')
        snprintf(out, size, "localhost");
}

