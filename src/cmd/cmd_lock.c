/*
 * cmd_lock.c - cmd_lock_repo(): how every command takes a repository lock (cmd.h), so that
 * the lock-wait setting (its row in cmd_options.c) is read in one place. The locking itself is
 * src/repo/repolock.c.
 */
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/cmd/cmd_options.h"

#include <stdlib.h>

#include "pgpitr/common/log.h"

int cmd_lock_repo(const CmdSettings *s, Storage *st, RepoLockKind kind, const char *command,
                  const char *wait_flag, RepoLock **out, PgpErr *err)
{
    *out = NULL;
    long wait_s = 0;
    int rc = cmd_opt_int_setting(s, CMD_OPT_LOCK_WAIT, wait_flag, &wait_s, err);
    if (rc != 0) {
        pgp_err_hint(err, "give the seconds to wait for a repository lock, 0 to fail at once");
        return rc;
    }
    RepoLockOptions o = {.command = command, .wait_s = (int)wait_s};
    rc = repo_lock_acquire(st, kind, &o, out, err);
    if (rc == 0) {
        log_debug("holding the %s lock of the repository", repo_lock_kind_name(kind));
    } else if (kind == REPO_LOCK_READ && rc != PGP_ERR_LOCKED && rc != PGP_ERR_NOMEM) {
        /* A reader of a repository it cannot write (read-only mount, another OS user's
         * files) must still be able to restore at 3 a.m.; nothing can expire such a
         * repository from here either. */
        log_warn("going on without a read lock: %s", err ? err->msg : "unknown error");
        pgp_err_clear(err);
        rc = 0;
    }
    return rc;
}
