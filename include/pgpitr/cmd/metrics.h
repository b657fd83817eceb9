/*
 * metrics.h - `pgpitr metrics`: the info model (info.h: info_load + info_load_settings, so
 * that info, check and metrics always agree) in the Prometheus text exposition format, plus
 * what only the database host knows: pg_stat_archiver (with --pg-conn) and the .ready backlog
 * of pg_wal/archive_status (with --pgdata). Printed, or written atomically into a
 * node_exporter textfile directory (DIR/pgpitr.prom). docs/metrics.md lists every metric.
 *
 * metrics_families is the one list of metric names: the renderer writes every family's
 * # HELP and # TYPE from it on every run (samples only where a value is known), so a run of
 * `pgpitr metrics` on any repository names every metric, and the tests that hold the alert
 * rules and the dashboard to the real names read them from such a run.
 */
#ifndef PGPITR_METRICS_H
#define PGPITR_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/info_model.h"

#define METRICS_TEXTFILE_NAME "pgpitr.prom"

typedef struct MetricsFamily {
    const char *name;          /* pgpitr_..., base units in the name (_seconds, _bytes) */
    const char *type;          /* "gauge" or "counter" */
    const char *help;          /* one line */
} MetricsFamily;

extern const MetricsFamily metrics_families[];
extern const size_t metrics_families_len;

/* pg_stat_archiver, read through --pg-conn. */
typedef struct MetricsPg {
    bool asked;                /* --pg-conn given: pgpitr_pg_up says whether it answered */
    bool up;
    uint64_t archived_count, failed_count;
    bool has_last_archived, has_last_failed;
    int64_t last_archived, last_failed;   /* seconds */
    bool failing;              /* the last attempt failed: no success since (the server
                                  compares the times, to the microsecond) */
} MetricsPg;

/* The .ready files of pg_wal/archive_status, with --pgdata. */
typedef struct MetricsReady {
    bool have;
    uint64_t files, bytes;     /* bytes: of the WAL files they stand for (0 when vanished) */
    bool push_failing;         /* archive-push's state: failing since (push_backlog.h) */
    int64_t push_failing_since;
} MetricsReady;

typedef struct MetricsInput {
    int64_t now;
    bool up;                   /* the repository could be read: info holds it */
    const Info *info;          /* when up; objectives and max ages: info_load_settings */
    MetricsPg pg;
    MetricsReady ready;
} MetricsInput;

/* The exposition text (malloc'd, ends with a newline): every family's HELP and TYPE, the
 * samples known. Only NOMEM fails. */
int metrics_render(const MetricsInput *in, char **out, PgpErr *err);

/* Label value escaping of the text format: backslash, double quote and newline escaped,
 * other control bytes and non-ASCII replaced by '?'; cut to fit. */
void metrics_label_escape(const char *in, char *out, size_t size);

/* Counts DIR/pg_wal/archive_status/ *.ready and sums the sizes of the WAL files they name
 * (a file archived and removed meanwhile counts 0 bytes), and reads since when archive-push
 * fails (an unreadable state is a warning). PGP_ERR_CONFIG when the directory cannot be read
 * (not a data directory). */
int metrics_ready_scan(const char *pgdata, MetricsReady *out, PgpErr *err);

/* pg_stat_archiver through conninfo into *out (out->asked set; up false with a warning when
 * the server cannot be asked: the scrape goes on). Only NOMEM fails. */
int metrics_pg_archiver(const char *conninfo, MetricsPg *out, PgpErr *err);

/* Writes text to dir/pgpitr.prom atomically: a temporary file in dir, mode 0644, fsync,
 * rename over the old file, fsync of dir. On any failure the old file is left as it was and
 * the temporary file is removed. */
int metrics_textfile_write(const char *dir, const char *text, PgpErr *err);

#endif
