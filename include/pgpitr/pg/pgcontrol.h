/*
 * pgcontrol.h - what a recovering server's data directory says about where a restart would
 * begin replay: global/pg_control (the REDO point of the last checkpoint or restartpoint) and
 * backup_label (the start of the base backup, while recovery has not consumed it yet). Used
 * to know the oldest WAL a running recovery may still ask for (recovery leases).
 *
 * pg_control is trusted only when its CRC-32C matches and its pg_control_version is one whose
 * layout is known (1300: PostgreSQL 13 to 16); anything else is PGP_ERR_CORRUPT, so a torn or
 * foreign file never moves a lease forward.
 */
#ifndef PGPITR_PGCONTROL_H
#define PGPITR_PGCONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"

#define PG_CONTROL_VERSION_13 1300
#define PG_CONTROL_READ_MAX 8192

typedef struct PgControl {
    uint64_t system_identifier;
    uint32_t version;             /* pg_control_version */
    uint64_t checkpoint_lsn;      /* latest checkpoint (or restartpoint) record */
    uint64_t redo_lsn;            /* its REDO point: where a restart begins replay */
    uint32_t redo_tli;            /* the checkpoint's timeline */
} PgControl;

/* Parses the first len bytes of a pg_control file. PGP_ERR_CORRUPT (message says why) for a
 * short buffer, an unknown version or a CRC mismatch. */
int pg_control_parse(const void *buf, size_t len, PgControl *out, PgpErr *err);
/* Reads datadir/global/pg_control. PGP_ERR_NOT_FOUND when absent, I/O errors, or as above. */
int pg_control_read(const char *datadir, PgControl *out, PgpErr *err);

/* The start of the base backup from backup_label text: "START WAL LOCATION: X/X (file ...)"
 * and "START TIMELINE: N". false when either line is missing or does not parse. */
bool pg_backup_label_start(const char *text, uint64_t *lsn, uint32_t *tli);

/* CRC-32C (Castagnoli), as PostgreSQL computes it for pg_control. */
uint32_t pg_crc32c(const void *buf, size_t len);

#endif
