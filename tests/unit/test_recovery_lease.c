/*
 * test_recovery_lease.c - archive-get's renewal of recovery leases (src/archive/recovery_lease.c)
 * in a fabricated data directory in archive recovery (PG_VERSION, recovery.signal, a
 * pg_control with a real CRC) against a fabricated repository: creation when there is none,
 * the position (segment requested, pg_control's REDO point, backup_label's start), the
 * once-a-minute throttle, never moving forward without a trusted pg_control, another
 * cluster's data directory, and restore's lease kept as restore's.
 */
#include "pgpitr/repo/recovery_lease.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_pgwal.h"
#include "fx_repo.h"
#include "pgpitr/cmd/cmd.h"
#include "pgpitr/repo/lease.h"
#include "pgpitr/pg/pgcontrol.h"
#include "pgpitr/common/proc.h"

static FxRepo fx;
static char data[PATH_MAX], lpath[REPO_PATH_MAX], oldcwd[PATH_MAX];
static CmdSettings settings;

static void put_file(const char *name, const void *buf, size_t len)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", data, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* pg_control of sysid whose latest checkpoint's REDO lies in segment redo_seg of tli. */
static void put_control(uint64_t sysid, uint32_t tli, uint64_t redo_seg, bool damaged)
{
    uint8_t buf[PG_CONTROL_READ_MAX];
    fx_pg_control(buf, sysid, PG_CONTROL_VERSION_13, redo_seg * FX_SEGSIZE + 0x60,
                  redo_seg * FX_SEGSIZE + 0x28, tli);
    if (damaged)
        buf[40] ^= 0x10;
    put_file("global/pg_control", buf, sizeof buf);
}

static void setup(void)
{
    fx_repo_init(&fx, "rlease");
    snprintf(data, sizeof data, "%s/data", fx.tdir);
    char dir[PATH_MAX + 16];
    ck_assert_int_eq(mkdir(data, 0700), 0);
    snprintf(dir, sizeof dir, "%s/global", data);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(dir, sizeof dir, "%s/pg_wal", data);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    put_file("PG_VERSION", "15\n", 3);
    put_file("recovery.signal", "", 0);
    put_control(FX_SYSID, 1, 5, false);
    ck_assert_ptr_nonnull(getcwd(oldcwd, sizeof oldcwd));
    ck_assert_int_eq(chdir(data), 0);
    char real[PATH_MAX], host[PROC_HOST_MAX];
    ck_assert_ptr_nonnull(getcwd(real, sizeof real));
    ck_assert_int_eq(proc_hostname(host, NULL), 0);
    ck_assert_int_eq(lease_path(host, real, lpath, NULL), 0);
    memset(&settings, 0, sizeof settings);
    unsetenv("PGPITR_LEASE_TTL");
}

static void teardown(void)
{
    ck_assert_int_eq(chdir(oldcwd), 0);
    fx_repo_free(&fx);
}

static bool read_lease(Lease *l)
{
    PgpErr err = {0};
    int rc = lease_read(fx.st, lpath, FX_SEGSIZE, l, &err);
    ck_assert_msg(rc == 0 || rc == PGP_ERR_NOT_FOUND, "lease_read: %s", err.msg);
    return rc == 0;
}

static void renew(const char *walname, bool fresh)
{
    if (fresh)
        unlink(RECOVERY_LEASE_STAMP);   /* as if the last renewal were a minute ago */
    recovery_lease_renew(cmd_lease_ttl(&settings), fx.repo, walname);
}

/* Makes the lease's renewed time older, so that a renewal is visible. */
static void age_lease(int64_t by)
{
    Lease l;
    ck_assert(read_lease(&l));
    l.since -= by;
    l.renewed -= by;
    l.expires -= by;
    ck_assert_int_eq(lease_write(fx.st, &l, NULL), 0);
}

START_TEST(created_at_the_redo_point_then_throttled)
{
    Lease l;
    ck_assert(!read_lease(&l));
    renew("000000010000000000000008", false);
    ck_assert(read_lease(&l));
    ck_assert_str_eq(l.wal, "000000010000000000000005");     /* where a restart begins */
    ck_assert_str_eq(l.created_by, "archive-get");
    ck_assert_uint_eq(l.system_identifier, FX_SYSID);
    ck_assert_int_eq(l.expires - l.renewed, LEASE_TTL_DEFAULT);
    char real[PATH_MAX];
    ck_assert_str_eq(l.datadir, getcwd(real, sizeof real));
    struct stat sb;
    ck_assert_int_eq(stat(RECOVERY_LEASE_STAMP, &sb), 0);
    /* within the minute: nothing is written, even though pg_control moved on */
    age_lease(120);
    Lease before;
    ck_assert(read_lease(&before));
    put_control(FX_SYSID, 1, 7, false);
    renew("000000010000000000000009", false);
    ck_assert(read_lease(&l));
    ck_assert_int_eq(l.renewed, before.renewed);
    ck_assert_str_eq(l.wal, "000000010000000000000005");
    /* a minute later: moved forward to the new REDO point, since kept */
    setenv("PGPITR_LEASE_TTL", "3600", 1);
    renew("000000010000000000000009", true);
    ck_assert(read_lease(&l));
    ck_assert_str_eq(l.wal, "000000010000000000000007");
    ck_assert_int_gt(l.renewed, before.renewed);
    ck_assert_int_eq(l.since, before.since);
    ck_assert_int_eq(l.expires - l.renewed, 3600);
}
END_TEST

START_TEST(never_past_the_segment_requested)
{
    put_control(FX_SYSID, 1, 9, false);     /* restartpoint ahead of a re-read segment */
    renew("000000010000000000000006", true);
    Lease l;
    ck_assert(read_lease(&l));
    ck_assert_str_eq(l.wal, "000000010000000000000006");
}
END_TEST

START_TEST(backup_label_start_wins_while_present)
{
    /* pg_control copied at the end of the backup may hold a later checkpoint */
    const char *label = "START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\n"
                        "CHECKPOINT LOCATION: 0/3000060\nSTART TIMELINE: 1\n";
    put_file("backup_label", label, strlen(label));
    renew("000000010000000000000008", true);
    Lease l;
    ck_assert(read_lease(&l));
    ck_assert_str_eq(l.wal, "000000010000000000000003");
}
END_TEST

START_TEST(no_trusted_pg_control_never_moves_forward)
{
    renew("000000010000000000000008", true);                  /* at 5 */
    put_control(FX_SYSID, 1, 9, true);                        /* torn: CRC mismatch */
    renew("00000001000000000000000C", true);
    Lease l;
    ck_assert(read_lease(&l));
    ck_assert_str_eq(l.wal, "000000010000000000000005");
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/global/pg_control", data);
    ck_assert_int_eq(unlink(path), 0);
    renew("00000001000000000000000D", true);
    ck_assert(read_lease(&l));
    ck_assert_str_eq(l.wal, "000000010000000000000005");
    /* none yet and no pg_control: the segment requested is all there is */
    ck_assert_int_eq(lease_remove(fx.st, lpath, NULL), 0);
    renew("00000001000000000000000D", true);
    ck_assert(read_lease(&l));
    ck_assert_str_eq(l.wal, "00000001000000000000000D");
}
END_TEST

START_TEST(another_clusters_directory_gets_no_lease)
{
    put_control(FX_SYSID + 1, 1, 5, false);
    renew("000000010000000000000008", true);
    Lease l;
    ck_assert(!read_lease(&l));
}
END_TEST

START_TEST(only_in_archive_recovery)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/recovery.signal", data);
    ck_assert_int_eq(unlink(path), 0);
    renew("000000010000000000000008", true);
    Lease l;
    ck_assert(!read_lease(&l));
    put_file("standby.signal", "", 0);
    renew("000000010000000000000008", true);
    ck_assert(read_lease(&l));
}
END_TEST

START_TEST(restores_lease_stays_restores)
{
    char lp[REPO_PATH_MAX];
    PgpErr err = {0};
    ck_assert_int_eq(recovery_lease_begin(fx.st, data, FX_SYSID, 1, 2, FX_SEGSIZE, 7200, lp, &err),
                     0);
    ck_assert_str_eq(lp, lpath);                             /* the same object */
    Lease l;
    ck_assert(read_lease(&l));
    ck_assert_str_eq(l.wal, "000000010000000000000002");
    ck_assert_int_eq(l.expires - l.renewed, 7200);
    renew("000000010000000000000008", true);
    ck_assert(read_lease(&l));
    ck_assert_str_eq(l.created_by, "restore");
    ck_assert_str_eq(l.wal, "000000010000000000000005");
    /* the end of recovery removes lease and stamp */
    recovery_lease_end(fx.root, l.datadir);
    ck_assert(!read_lease(&l));
    struct stat sb;
    ck_assert_int_ne(stat(RECOVERY_LEASE_STAMP, &sb), 0);
}
END_TEST

START_TEST(ttl_setting_is_checked)
{
    int ttl = 0;
    PgpErr err = {0};
    ck_assert_int_eq(recovery_lease_ttl(cmd_lease_ttl(&settings), &ttl, &err), 0);
    ck_assert_int_eq(ttl, LEASE_TTL_DEFAULT);
    setenv("PGPITR_LEASE_TTL", "299", 1);
    ck_assert_int_eq(recovery_lease_ttl(cmd_lease_ttl(&settings), &ttl, &err), PGP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "lease-ttl"));
    setenv("PGPITR_LEASE_TTL", "1h", 1);
    ck_assert_int_eq(recovery_lease_ttl(cmd_lease_ttl(&settings), &ttl, &err), PGP_ERR_CONFIG);
    setenv("PGPITR_LEASE_TTL", "31622400", 1);
    ck_assert_int_eq(recovery_lease_ttl(cmd_lease_ttl(&settings), &ttl, &err), 0);
    ck_assert_int_eq(ttl, LEASE_TTL_MAX);
    /* an invalid setting costs archive-get a warning, never its fetch, and writes nothing */
    setenv("PGPITR_LEASE_TTL", "0", 1);
    renew("000000010000000000000008", true);
    Lease l;
    ck_assert(!read_lease(&l));
}
END_TEST

Suite *suite_recovery_lease(void)
{
    Suite *s = suite_create("recovery_lease");
    TCase *tc = tcase_create("recovery_lease");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, created_at_the_redo_point_then_throttled);
    tcase_add_test(tc, never_past_the_segment_requested);
    tcase_add_test(tc, backup_label_start_wins_while_present);
    tcase_add_test(tc, no_trusted_pg_control_never_moves_forward);
    tcase_add_test(tc, another_clusters_directory_gets_no_lease);
    tcase_add_test(tc, only_in_archive_recovery);
    tcase_add_test(tc, restores_lease_stays_restores);
    tcase_add_test(tc, ttl_setting_is_checked);
    suite_add_tcase(s, tc);
    return s;
}
