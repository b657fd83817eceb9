/*
 * proc.h - identity of a process on this host, for locks that outlive their holder: the host
 * name, the kernel's boot id and a process's start time (from /proc). A pid alone does not
 * identify a process: pids are reused, so "pid P is alive" must be "pid P with start time T is
 * alive", and after a reboot no process of the previous boot is alive whatever its pid.
 * Linux only (/proc); nothing here writes anything.
 */
#ifndef PGPITR_PROC_H
#define PGPITR_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pgpitr/common/err.h"

#define PROC_HOST_MAX 256     /* with the NUL; HOST_NAME_MAX is 64 on Linux */
#define PROC_BOOT_ID_LEN 36   /* a UUID: 8-4-4-4-12 hex digits */

/* gethostname(); PGP_ERR_IO if it fails or is empty. */
int proc_hostname(char out[PROC_HOST_MAX], PgpErr *err);
/* host as a part of a repository object name (lock holders, leases): every byte outside
 * [A-Za-z0-9.-] becomes '-', cut at PROC_HOST_NAME_PART - 1 bytes. */
#define PROC_HOST_NAME_PART 65
void proc_host_name_part(const char *host, char out[PROC_HOST_NAME_PART]);

/* /proc/sys/kernel/random/boot_id without the newline; PGP_ERR_IO if unreadable, PGP_ERR_CORRUPT
 * if it is not 36 characters. */
int proc_boot_id(char out[PROC_BOOT_ID_LEN + 1], PgpErr *err);

/* Start time of pid in clock ticks since boot (field 22 of /proc/<pid>/stat) and its state
 * (field 3: 'R', 'S', 'Z', ...; state may be NULL). PGP_ERR_NOT_FOUND when there is no such
 * process (or /proc hides it), PGP_ERR_CORRUPT when the file does not parse. */
int proc_start_time(pid_t pid, uint64_t *start, char *state, PgpErr *err);

/* Parses the text of a /proc/<pid>/stat file. The second field is the command name in
 * parentheses, which may itself contain spaces and ')': fields are counted from the LAST ')'.
 * Returns false if the text does not have 22 fields. state may be NULL. */
bool proc_parse_stat(const char *text, uint64_t *start, char *state);

/* Is pid, started at start_time (clock ticks since boot, as above), alive on this host? A
 * zombie is not alive (it will never do anything again). A pid /proc does not show but that
 * exists for kill() (hidepid mounts) is alive: its start time cannot be checked, and calling
 * a live process dead is the one mistake a lock must not make. */
bool proc_alive(pid_t pid, uint64_t start_time);

/* When this host booted, in seconds since the epoch (wall clock minus CLOCK_BOOTTIME). Nothing
 * written by a process of an earlier boot can carry a later time (barring clock jumps). */
int64_t proc_boot_wall_time(void);

#endif
