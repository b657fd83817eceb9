/*
 * recovery_lease.c - writing, renewing and ending recovery leases (recovery_lease.h) for
 * restore, archive-get and the prefetcher. The lease objects themselves are lease.c's; this
 * file decides the position, the times and the throttle, and keeps every failure of the
 * archive-get path a warning: a lease protects a recovery, it must never break one.
 */
#include "pgpitr/repo/recovery_lease.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/config.h"
#include "pgpitr/repo/lease.h"
#include "pgpitr/common/log.h"
#include "pgpitr/pg/pgcontrol.h"
#include "pgpitr/common/proc.h"
#include "pgpitr/pg/walname.h"

#define LABEL_MAX 4096

int recovery_lease_ttl(const char *text, int *ttl_s, PgpErr *err)
{
    long v = LEASE_TTL_DEFAULT;
    int rc = text != NULL
                 ? config_parse_int("lease-ttl", text, LEASE_TTL_MIN, LEASE_TTL_MAX, &v, err)
                 : 0;
    if (rc != 0) {
        pgp_err_hint(err, "give the recovery lease time to live in seconds, from %d to %d",
                     LEASE_TTL_MIN, LEASE_TTL_MAX);
        return rc;
    }
    *ttl_s = (int)v;
    return 0;
}

int recovery_lease_begin(Storage *st, const char *pgdata, uint64_t sysid, uint32_t tli,
                         uint64_t segno, uint32_t segsize, int ttl_s, char path[REPO_PATH_MAX],
                         PgpErr *err)
{
    Lease l;
    memset(&l, 0, sizeof l);
    path[0] = '\0';
    char real[PATH_MAX];
    if (realpath(pgdata, real) == NULL)
        return PGP_FAIL_SYS(err, errno, "cannot resolve \"%s\"", pgdata);
    if (strlen(real) >= sizeof l.datadir)
        return PGP_FAIL(err, PGP_ERR_INVALID_NAME, "data directory path too long for a lease");
    int rc = proc_hostname(l.host, err);
    if (rc != 0)
        return rc;
    memcpy(l.datadir, real, strlen(real) + 1);   /* fits: checked above */
    rc = lease_path(l.host, l.datadir, path, err);
    if (rc != 0)
        return rc;
    l.system_identifier = sysid;
    lease_set_position(&l, tli, segno, segsize);
    snprintf(l.created_by, sizeof l.created_by, "restore");
    l.since = l.renewed = (int64_t)time(NULL);
    l.expires = l.renewed + ttl_s;
    return lease_write(st, &l, err);
}

/* ---- archive-get ---------------------------------------------------------------------------- */

/* Whether the stamp says a renewal happened less than RECOVERY_LEASE_RENEW_S ago. A stamp
 * from the future (the clock went back) does not count. */
static bool renewed_recently(int64_t now)
{
    struct stat sb;
    if (stat(RECOVERY_LEASE_STAMP, &sb) != 0)
        return false;
    int64_t age = now - (int64_t)sb.st_mtime;
    return age >= 0 && age < RECOVERY_LEASE_RENEW_S;
}

static void touch_stamp(const char *lease)
{
    int fd = open(RECOVERY_LEASE_STAMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                  0600);
    if (fd < 0)
        return;     /* the next call tries again: costs a write, harms nothing */
    dprintf(fd, "%s\n", lease);
    futimens(fd, NULL);
    close(fd);
}

static bool in_archive_recovery(void)
{
    struct stat sb;
    return stat("PG_VERSION", &sb) == 0 &&
           (stat("recovery.signal", &sb) == 0 || stat("standby.signal", &sb) == 0);
}

static bool recovery_lease_due_at(int64_t now)
{
    return !renewed_recently(now) && in_archive_recovery();
}

bool recovery_lease_due(void) { return recovery_lease_due_at((int64_t)time(NULL)); }

/* Lowers *segno (and sets *tli) to where backup_label says the base backup started, when the
 * data directory has one: recovery has not consumed it yet, and pg_control may still hold a
 * later checkpoint copied at the end of the backup. */
static void lower_to_backup_label(uint32_t segsize, uint32_t *tli, uint64_t *segno)
{
    char buf[LABEL_MAX];
    int fd = open("backup_label", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    uint64_t lsn;
    uint32_t t;
    if (n > 0 && (buf[n] = '\0', pg_backup_label_start(buf, &lsn, &t)) &&
        pg_lsn_segno(lsn, segsize) < *segno) {
        *segno = pg_lsn_segno(lsn, segsize);
        *tli = t;
    }
}

/* The position to record, from the segment just requested (tli, segno) and what the data
 * directory says; *have_control false when pg_control could not be trusted (the caller then
 * never moves an existing lease forward). -1: pg_control belongs to another cluster. */
static int position(const RepoIdentity *id, bool *have_control, uint32_t *tli, uint64_t *segno)
{
    PgControl pc;
    PgpErr e;
    pgp_err_clear(&e);
    *have_control = pg_control_read(".", &pc, &e) == 0;
    if (!*have_control)
        log_warn("recovery lease: %s", e.msg);
    else if (pc.system_identifier != id->system_identifier)
        return -1;
    else if (pg_lsn_segno(pc.redo_lsn, id->wal_segsize) < *segno) {
        *segno = pg_lsn_segno(pc.redo_lsn, id->wal_segsize);
        *tli = pc.redo_tli;
    }
    lower_to_backup_label(id->wal_segsize, tli, segno);
    return 0;
}

/* Fills l for this data directory; *path its lease path. false when it cannot be named. */
static bool identify(Lease *l, char path[REPO_PATH_MAX])
{
    PgpErr e;
    pgp_err_clear(&e);
    if (getcwd(l->datadir, sizeof l->datadir) == NULL || proc_hostname(l->host, &e) != 0 ||
        lease_path(l->host, l->datadir, path, &e) != 0) {
        log_warn("recovery lease: cannot name this data directory or host%s%s",
                 e.msg[0] ? ": " : "", e.msg);
        return false;
    }
    return true;
}

/* Reads, moves and rewrites the lease; 0 or the failure (in err). */
static int renew(Storage *st, const RepoIdentity *id, const char *walname, int ttl_s,
                 char path[REPO_PATH_MAX], PgpErr *err)
{
    Lease l, old;
    memset(&l, 0, sizeof l);
    PgWalName wn;
    uint32_t tli;
    uint64_t segno;
    bool have_control;
    if (pg_walname_parse(walname, &wn, NULL) != 0 || !pg_walname_segno(&wn, id->wal_segsize, &segno))
        return 0;
    tli = wn.tli;
    if (!identify(&l, path))
        return 0;
    if (position(id, &have_control, &tli, &segno) != 0)
        return PGP_FAIL(err, PGP_ERR_WRONG_CLUSTER, "this data directory belongs to another "
                        "cluster than the repository: no lease");
    int rc = lease_read(st, path, id->wal_segsize, &old, err);
    bool exists = rc == 0;
    if (rc != 0 && rc != PGP_ERR_NOT_FOUND && rc != PGP_ERR_CORRUPT)
        return rc;
    pgp_err_clear(err);
    if (exists && !have_control && old.segno < segno) {
        tli = old.tli;      /* without pg_control, never move forward */
        segno = old.segno;
    }
    l.system_identifier = id->system_identifier;
    lease_set_position(&l, tli, segno, id->wal_segsize);
    l.renewed = (int64_t)time(NULL);
    l.since = exists && old.since <= l.renewed ? old.since : l.renewed;
    l.expires = l.renewed + ttl_s;
    snprintf(l.created_by, sizeof l.created_by, "%s", exists ? old.created_by : "archive-get");
    if (!exists)
        log_info("recovery lease \"%s\" created at %s", path, l.wal);
    return lease_write(st, &l, err);
}

void recovery_lease_renew(const char *ttl_text, Repo *repo, const char *walname)
{
    int64_t now = (int64_t)time(NULL);
    const RepoIdentity *id = repo_identity(repo);
    if (id == NULL || !recovery_lease_due_at(now))
        return;
    PgpErr err;
    pgp_err_clear(&err);
    int ttl_s;
    char path[REPO_PATH_MAX] = "";
    int rc = recovery_lease_ttl(ttl_text, &ttl_s, &err);
    if (rc == 0)
        rc = renew(repo_storage(repo), id, walname, ttl_s, path, &err);
    if (rc != 0)
        log_warn("cannot renew the recovery lease%s%s%s: %s", path[0] ? " \"" : "", path,
                 path[0] ? "\"" : "", err.msg);
    /* Also after a failure: the next attempt (and warning) a minute later, not at every
     * segment; the lease as last written keeps protecting meanwhile. */
    touch_stamp(path);
}

void recovery_lease_unreachable(const char *why)
{
    log_warn("cannot renew the recovery lease: %s", why);
    touch_stamp("");   /* the next attempt a minute later, as after a failed write */
}

/* ---- the end of recovery -------------------------------------------------------------------- */

void recovery_lease_end_in(Storage *st, const char *datadir)
{
    char host[PROC_HOST_MAX], path[REPO_PATH_MAX], stamp[PATH_MAX];
    PgpErr e;
    pgp_err_clear(&e);
    int rc = proc_hostname(host, &e);
    if (rc == 0)
        rc = lease_path(host, datadir, path, &e);
    if (rc == 0) {
        rc = lease_remove(st, path, &e);
        if (rc == 0)
            log_info("recovery ended: recovery lease \"%s\" removed", path);
    }
    if (rc != 0)
        log_warn("cannot remove the recovery lease of \"%s\" (its ttl ends it): %s", datadir,
                 e.msg);
    if (snprintf(stamp, sizeof stamp, "%s/%s", datadir, RECOVERY_LEASE_STAMP) < (int)sizeof stamp)
        unlink(stamp);
}

void recovery_lease_end(const char *repo_path, const char *datadir)
{
    Storage *st = NULL;
    PgpErr e;
    pgp_err_clear(&e);
    if (storage_posix_new(repo_path, false, &st, &e) != 0) {
        log_warn("cannot remove the recovery lease of \"%s\" (its ttl ends it): %s", datadir,
                 e.msg);
        return;
    }
    recovery_lease_end_in(st, datadir);
    storage_free(st);
}
