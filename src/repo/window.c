/*
 * window.c - the recoverable window of a backup (window.h). Pure arithmetic: no I/O.
 */
#include "pgpitr/repo/window.h"

void recovery_window(int64_t stop_time, uint64_t stop_lsn, int64_t wal_time,
                     uint64_t wal_end_lsn, RecoveryWindow *out)
{
    out->from_time = stop_time;
    out->from_lsn = stop_lsn;
    /* archived at or before the moment the backup was recorded as ended: nothing newer in
     * time than the backup's end itself (see window.h for why this is the common case) */
    out->ends_at_backup = wal_time <= stop_time;
    out->to_time = out->ends_at_backup ? stop_time : wal_time;
    out->to_lsn = wal_end_lsn > stop_lsn ? wal_end_lsn : stop_lsn;
}
