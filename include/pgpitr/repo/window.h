/*
 * window.h - the recoverable window of one backup: the one computation behind every
 * "recoverable from ... to ..." that info, verify, expire and restore print.
 *
 * It starts at the backup's end (its stop LSN and stop time: the earliest consistent point)
 * and ends at the newest archived WAL read from it (the end of that segment, and its archive
 * time as the approximate time of the last recoverable point).
 *
 * The two times come from different clocks of events: a backup's stop time is recorded when
 * pgpitr finishes it, after waiting for its last segment to reach the archive, so that
 * segment's archive time is usually a little EARLIER than the backup's end. With nothing
 * archived since, a naive window ends before it starts ("from 00:29:29 to 00:29:28"). It is
 * not inverted but empty past the backup's end: the backup's end is the only point in time
 * known to be recoverable, and the window says so (ends_at_backup). The LSN range is kept as
 * archived (WAL written just after the backup's end can be in those segments), never below
 * the stop LSN.
 */
#ifndef PGPITR_WINDOW_H
#define PGPITR_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

typedef struct RecoveryWindow {
    int64_t from_time;      /* the backup's stop time (unix seconds) */
    uint64_t from_lsn;      /* its stop LSN */
    int64_t to_time;        /* archive time of the newest segment read; never before from_time */
    uint64_t to_lsn;        /* end of that segment; never before from_lsn */
    bool ends_at_backup;    /* nothing archived after the backup ended: to_time == from_time */
} RecoveryWindow;

/* stop_*: the backup's end; wal_time / wal_end_lsn: archive time and end LSN of the newest
 * segment recovery from it reads. Pure; out is always a window with from <= to. */
void recovery_window(int64_t stop_time, uint64_t stop_lsn, int64_t wal_time,
                     uint64_t wal_end_lsn, RecoveryWindow *out);

#endif
