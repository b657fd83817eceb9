/*
 * fx_pgwal.c - a fabricated pg_wal and in-process archive-push (fx_pgwal.h).
 */
#include "fx_pgwal.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fx_dir.h"
#include "pgpitr/cmd/cmd.h"

static void put_le(unsigned char *b, size_t off, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[off + i] = (unsigned char)(v >> (8 * i));
}

void fx_pg_control(uint8_t buf[PG_CONTROL_READ_MAX], uint64_t sysid, uint32_t version,
                   uint64_t checkpoint, uint64_t redo, uint32_t tli)
{
    memset(buf, 0, PG_CONTROL_READ_MAX);
    put_le(buf, 0, sysid, 8);
    put_le(buf, 8, version, 4);
    put_le(buf, 32, checkpoint, 8);   /* checkPoint */
    put_le(buf, 40, redo, 8);         /* checkPointCopy.redo */
    put_le(buf, 48, tli, 4);          /* checkPointCopy.ThisTimeLineID */
    put_le(buf, 288, pg_crc32c(buf, 288), 4);
}

void fx_pgwal_name(uint64_t segno, char out[PG_WALNAME_SEG_LEN + 1])
{
    snprintf(out, PG_WALNAME_SEG_LEN + 1, "%08X%08X%08X", 1u, (unsigned)(segno / 4096),
             (unsigned)(segno % 4096));
}

void fx_pgwal_segment(const char *wal, uint64_t segno, unsigned seed, bool ready)
{
    static unsigned char buf[FX_PGWAL_SEGSIZE];
    memset(buf, 0, sizeof buf);
    put_le(buf, 0, 0xD110, 2);
    put_le(buf, 2, 0x0002, 2);
    put_le(buf, 4, 1, 4);
    put_le(buf, 8, segno * FX_PGWAL_SEGSIZE, 8);
    put_le(buf, 24, FX_PGWAL_SYSID, 8);
    put_le(buf, 32, FX_PGWAL_SEGSIZE, 4);
    put_le(buf, 36, 8192, 4);
    for (size_t i = 64; i < sizeof buf; i += 4096)
        buf[i] = (unsigned char)(seed + i / 4096);
    char name[PG_WALNAME_SEG_LEN + 1], path[4096];
    fx_pgwal_name(segno, name);
    snprintf(path, sizeof path, "%s/%s", wal, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, sizeof buf, f), sizeof buf);
    ck_assert_int_eq(fclose(f), 0);
    if (ready) {
        char status[4096];
        snprintf(status, sizeof status, "%s/archive_status", wal);
        snprintf(path, sizeof path, "%s.ready", name);
        fx_dir_put(status, path, "");
    }
}

void fx_pgwal_done(const char *wal, uint64_t segno)
{
    char name[PG_WALNAME_SEG_LEN + 1], from[4096], to[4096];
    fx_pgwal_name(segno, name);
    snprintf(from, sizeof from, "%s/archive_status/%s.ready", wal, name);
    snprintf(to, sizeof to, "%s/archive_status/%s.done", wal, name);
    ck_assert_int_eq(rename(from, to), 0);
}

int fx_pgwal_push(const char *scratch, const char *repo, const char *wal, uint64_t segno,
                  const char *const *args, const char **log)
{
    char name[PG_WALNAME_SEG_LEN + 1], path[4096], logfile[4096];
    fx_pgwal_name(segno, name);
    snprintf(path, sizeof path, "%s/%s", wal, name);
    snprintf(logfile, sizeof logfile, "%s/stderr.txt", scratch);
    char *argv[16] = {"archive-push"};
    int argc = 1;
    for (size_t i = 0; args != NULL && args[i] != NULL && argc < 14; i++)
        argv[argc++] = (char *)args[i];
    argv[argc++] = path;
    CmdGlobal g = {.repo = repo, .log_level = "info"};
    setenv("PGPITR_CONFIG", "/dev/null", 1);
    fflush(stderr);
    int saved = dup(2), fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
    PgpErr err = {0};
    int rc = cmd_archive_push.run(&g, argc, argv, &err);
    if (rc != 0)
        fprintf(stderr, "pgpitr: error: %s\n", err.msg);   /* as main.c would */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    static char text[16384];
    FILE *f = fopen(logfile, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    *log = text;
    return rc;
}
