/*
 * proc.c - process identity from /proc (see proc.h). Reads only; never signals a process
 * other than with signal 0.
 */
#include "pgpitr/common/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int proc_hostname(char out[PROC_HOST_MAX], PgpErr *err)
{
    if (gethostname(out, PROC_HOST_MAX) != 0)
        return PGP_FAIL_ERRNO(err, PGP_ERR_IO, errno, "cannot get the host name");
    out[PROC_HOST_MAX - 1] = '\0';
    if (out[0] == '\0')
        return PGP_FAIL(err, PGP_ERR_IO, "the host name is empty");
    return 0;
}

void proc_host_name_part(const char *host, char out[PROC_HOST_NAME_PART])
{
    size_t i = 0;
    for (; host[i] != '\0' && i < PROC_HOST_NAME_PART - 1; i++) {
        char c = host[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-';
        out[i] = ok ? c : '-';
    }
    out[i] = '\0';
}

/* Whole small file into buf (NUL-terminated); -errno on failure, else the length. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

int proc_boot_id(char out[PROC_BOOT_ID_LEN + 1], PgpErr *err)
{
    static const char path[] = "/proc/sys/kernel/random/boot_id";
    char buf[128];
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n < 0)
        return PGP_FAIL_ERRNO(err, PGP_ERR_IO, (int)-n, "cannot read \"%s\"", path);
    buf[strcspn(buf, "\n")] = '\0';
    if (strlen(buf) != PROC_BOOT_ID_LEN)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "\"%s\" does not hold a boot id", path);
    memcpy(out, buf, PROC_BOOT_ID_LEN + 1);
    return 0;
}

bool proc_parse_stat(const char *text, uint64_t *start, char *state)
{
    /* "pid (comm) state ppid ...": comm is whatever the process called itself, so the only
     * reliable end of it is the last ')' of the line. */
    const char *p = strrchr(text, ')');
    if (p == NULL)
        return false;
    p++;
    /* Field 3 (state) is the first after comm; field 22 (starttime) is the 20th. */
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (*p == '\0' || *p == '\n')
            return false;
        if (field == 3 && state != NULL)
            *state = *p;
        if (field == 22) {
            if (*p < '0' || *p > '9')
                return false;
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(p, &end, 10);
            if (errno != 0 || (*end != ' ' && *end != '\n' && *end != '\0'))
                return false;
            *start = (uint64_t)v;
            return true;
        }
        while (*p != ' ' && *p != '\0' && *p != '\n')
            p++;
    }
    return false;
}

int proc_start_time(pid_t pid, uint64_t *start, char *state, PgpErr *err)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n == -ENOENT || n == -ESRCH)
        return PGP_FAIL(err, PGP_ERR_NOT_FOUND, "no process %ld", (long)pid);
    if (n < 0)
        return PGP_FAIL_ERRNO(err, PGP_ERR_IO, (int)-n, "cannot read \"%s\"", path);
    if (!proc_parse_stat(buf, start, state))
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "cannot parse \"%s\"", path);
    return 0;
}

bool proc_alive(pid_t pid, uint64_t start_time)
{
    /* pid 0 and negative pids address process groups in kill(): never a holder. */
    if (pid <= 0)
        return false;
    uint64_t start = 0;
    char state = '?';
    int rc = proc_start_time(pid, &start, &state, NULL);
    if (rc == 0)
        return start == start_time && state != 'Z' && state != 'X';
    if (rc == PGP_ERR_NOT_FOUND) {
        /* /proc mounted with hidepid hides other users' processes: ask the kernel. EPERM
         * means it exists but belongs to someone else. */
        if (kill(pid, 0) == 0 || errno == EPERM)
            return true;
        return false;
    }
    return true;    /* unreadable for another reason: do not call it dead */
}

int64_t proc_boot_wall_time(void)
{
    struct timespec real, boot;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_BOOTTIME, &boot);
    return (int64_t)real.tv_sec - (int64_t)boot.tv_sec;
}
