/*
 * fx_pgwal.h - a fabricated pg_wal for the archive-push suites: segments of timeline 1 with
 * valid long page headers (FX_PGWAL_SEGSIZE bytes, content varying with a seed), their .ready
 * marks, `pgpitr archive-push` run in-process with its stderr captured, and a pg_control with
 * a valid CRC. Every helper asserts with Check.
 */
#ifndef PGPITR_FX_PGWAL_H
#define PGPITR_FX_PGWAL_H

#include <stdbool.h>
#include <stdint.h>

#include "pgpitr/pg/pgcontrol.h"
#include "pgpitr/pg/walname.h"

#define FX_PGWAL_SEGSIZE (1u << 20)
#define FX_PGWAL_SYSID 7300000000000000042ULL

/* The name of segment segno of timeline 1. */
void fx_pgwal_name(uint64_t segno, char out[PG_WALNAME_SEG_LEN + 1]);
/* Writes wal/<segment segno> (content varies with seed); marks it ready in
 * wal/archive_status when ready. */
void fx_pgwal_segment(const char *wal, uint64_t segno, unsigned seed, bool ready);
/* PostgreSQL marks segno done (its .ready renamed .done). */
void fx_pgwal_done(const char *wal, uint64_t segno);
/* `pgpitr --repo REPO archive-push [args...] WAL/<segno>` at log level info, settings from
 * the environment only (PGPITR_CONFIG=/dev/null); its stderr in *log (static, valid until the
 * next call; stored under scratch). Returns the run's status. args is NULL-terminated. */
int fx_pgwal_push(const char *scratch, const char *repo, const char *wal, uint64_t segno,
                  const char *const *args, const char **log);

/* A pg_control (PostgreSQL 13-16 layout, pg_control_version `version`) of sysid whose latest
 * checkpoint record is at checkpoint, its REDO point at redo, on timeline tli; CRC-32C set. */
void fx_pg_control(uint8_t buf[PG_CONTROL_READ_MAX], uint64_t sysid, uint32_t version,
                   uint64_t checkpoint, uint64_t redo, uint32_t tli);

#endif
