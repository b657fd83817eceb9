/*
 * restore_request.c - the checks of a restore request (restore.h: restore_request_check),
 * made before the repository is opened and again by restore_run: a usage error never costs a
 * lock or a listing.
 */
#include "pgpitr/restore/restore.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/repo/manifest.h"
#include "pgpitr/restore/restore_settings.h"

bool restore_all_digits(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (s[n] < '0' || s[n] > '9' || n >= max)
            return false;
    return n > 0;
}

static int check_target(const RestoreTargetSpec *t, PgpErr *err)
{
    if (t->kind < RESTORE_TARGET_LATEST || t->kind > RESTORE_TARGET_NAME)
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid recovery target kind %d", (int)t->kind);
    if (t->kind == RESTORE_TARGET_TIME && t->time_us < 0)
        return PGP_FAIL(err, PGP_ERR_USAGE, "target time before 1970");
    if (t->kind == RESTORE_TARGET_XID && (t->xid == NULL || !restore_all_digits(t->xid, 20) ||
                                          strtoull(t->xid, NULL, 10) == ULLONG_MAX))
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid target xid \"%.32s\" (expected a decimal "
                        "transaction ID)", t->xid != NULL ? t->xid : "");
    if (t->kind == RESTORE_TARGET_NAME) {
        size_t n = t->name != NULL ? strlen(t->name) : 0;
        bool ok = n >= 1 && n <= 63;
        for (size_t i = 0; ok && i < n; i++)
            ok = (unsigned char)t->name[i] >= 0x20 && t->name[i] != 0x7f;
        if (!ok)
            return PGP_FAIL(err, PGP_ERR_USAGE, "invalid restore point name (1 to 63 printable "
                            "bytes, as pg_create_restore_point accepts)");
    }
    if (t->exclusive && t->kind != RESTORE_TARGET_TIME && t->kind != RESTORE_TARGET_LSN &&
        t->kind != RESTORE_TARGET_XID)
        return PGP_FAIL(err, PGP_ERR_USAGE, "--target-exclusive applies only to a time, LSN or "
                        "xid target");
    const char *tl = t->timeline;
    if (tl != NULL && strcmp(tl, "latest") != 0 && strcmp(tl, "current") != 0 &&
        strcmp(tl, "production") != 0 &&
        (!restore_all_digits(tl, 10) || strtoul(tl, NULL, 10) == 0 ||
         strtoul(tl, NULL, 10) > UINT32_MAX))
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid target timeline \"%.32s\" (expected latest, "
                        "production, current or a timeline ID)", tl);
    const char *a = t->action;
    if (a != NULL && strcmp(a, "promote") != 0 && strcmp(a, "pause") != 0 &&
        strcmp(a, "shutdown") != 0)
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid target action \"%.32s\" (expected promote, "
                        "pause or shutdown)", a);
    return 0;
}

int restore_request_check(const RestoreRequest *req, PgpErr *err)
{
    if (req->pgdata == NULL || req->pgdata[0] == '\0')
        return PGP_FAIL(err, PGP_ERR_USAGE, "no target data directory given");
    if (req->label != NULL && !manifest_label_valid(req->label))
        return PGP_FAIL(err, PGP_ERR_USAGE, "invalid backup label \"%.80s\"", req->label);
    if (req->keep_old != NULL && (!req->delta || req->keep_old[0] == '\0'))
        return PGP_FAIL(err, PGP_ERR_USAGE, "--keep-old DIR needs --delta");
    for (size_t i = 0; i < req->n_ts_map; i++) {
        const RestoreTablespaceMap *t = &req->ts_map[i];
        if (t->name == NULL || t->name[0] == '\0' || t->dir == NULL || t->dir[0] == '\0')
            return PGP_FAIL(err, PGP_ERR_USAGE, "a tablespace mapping needs NAME=DIR");
    }
    int rc = check_target(&req->target, err);
    return rc == 0 ? restore_standby_check(req, err) : rc;
}
