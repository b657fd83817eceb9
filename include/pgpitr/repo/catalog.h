/*
 * catalog.h - everything the repository holds, read once, for the commands that look at the
 * repository as a whole (info, verify, expire): every backup with its manifest, every
 * archived WAL file (segments, .partial, .backup) and every timeline history file, plus the
 * analysis they share: which segments each timeline has and where its gaps are, and from
 * which backup which range of WAL positions is recoverable.
 *
 * Read-only on the repository. Loading lists directories and reads manifests and history
 * files; it never reads WAL or backup file objects (that is verify's job).
 *
 * Entries the catalog does not understand (a file in archive/wal/ whose name does not parse,
 * a backup directory with a label manifest_label_valid() refuses) are counted in
 * `n_foreign` and named in `foreign` (at most CATALOG_FOREIGN_MAX), never silently used.
 */
#ifndef PGPITR_CATALOG_H
#define PGPITR_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpitr/common/err.h"
#include "pgpitr/repo/manifest.h"
#include "pgpitr/repo/manifest_pack.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/repo.h"
#include "pgpitr/pg/timeline.h"
#include "pgpitr/repo/tl_production.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/repo/window.h"

#define CATALOG_FOREIGN_MAX 16
#define CATALOG_ERROR_MAX PGP_ERR_MSG_MAX

typedef enum {
    CATALOG_BACKUP_COMPLETE,    /* manifest.json present and valid */
    CATALOG_BACKUP_INCOMPLETE,  /* no manifest.json: running, failed or interrupted */
    CATALOG_BACKUP_CORRUPT,     /* manifest.json present but does not load (error says why) */
} CatalogBackupStatus;

typedef struct CatalogBackup {
    char label[MANIFEST_LABEL_MAX + 1];
    CatalogBackupStatus status;
    BackupManifest *manifest;           /* COMPLETE only (owned): the header only (entries
                                           NULL, n_listed their number) until
                                           catalog_load_entries */
    ManifestPack *files;                /* COMPLETE only (owned): the entries, compactly,
                                           after catalog_load_files; NULL before */
    char error[CATALOG_ERROR_MAX];      /* CORRUPT only */
    int64_t dir_mtime;                  /* of backup/<label>; where directories have no time
                                           (S3), incomplete and corrupt ones take their newest
                                           object's (incomplete ones have no other times) */
} CatalogBackup;

/* One archived WAL file object (segment, .partial, .backup or .history). */
typedef struct CatalogWal {
    char name[PG_WALNAME_MAX + 1];      /* the WAL file name, without checksum and extension */
    PgWalFileKind kind;
    uint32_t tli;
    uint64_t segno;                     /* not for history files */
    char path[REPO_PATH_MAX];           /* object path in the repository */
    char sha256[PIPE_SHA256_HEX_LEN + 1];
    PipeCodec codec;
    uint64_t stored_size;
    int64_t mtime;                      /* when it was archived (seconds) */
    bool conflict;                      /* another object claims the same name with a
                                           different checksum (archive-get refuses both) */
} CatalogWal;

/* A segment archive-push dropped on purpose (push_backlog.h: archive-push-queue-full = drop),
 * from its record archive/dropped/<segment>.json (the name only: the record is not read). */
typedef struct CatalogDropped {
    char name[PG_WALNAME_SEG_LEN + 1];
    uint32_t tli;
    uint64_t segno;
    int64_t mtime;                      /* when the record reached the repository */
} CatalogDropped;

/* A timeline's history as read from its .history file (or assumed: the timeline alone). */
typedef struct CatalogTimeline {
    uint32_t tli;
    bool history_found;                 /* tli 1 never has one */
    bool history_bad;                   /* the file exists but does not verify or parse */
    char error[CATALOG_ERROR_MAX];      /* when history_bad */
    PgTimelineHistory history;          /* owned; the timeline alone when !found or bad */
    /* this timeline's WAL files: Catalog.wal[first_wal .. first_wal + n_wal - 1] (all kinds) */
    size_t first_wal, n_wal;
    uint64_t n_segments;                /* distinct segments among them */
    uint64_t stored_size;               /* bytes of all of them */
} CatalogTimeline;

typedef struct Catalog {
    bool bound;
    RepoIdentity id;                    /* when bound */
    CatalogBackup *backups;             /* ascending by stop time, then label; incomplete and
                                           corrupt ones (no times) first, by label */
    size_t n_backups;
    CatalogWal *wal;                    /* segments, partials and .backup files, ascending by
                                           (tli, segno, name) */
    size_t n_wal;
    CatalogDropped *dropped;            /* ascending (tli, segno) */
    size_t n_dropped;
    CatalogWal *histories;              /* ascending tli */
    size_t n_histories;
    CatalogTimeline *timelines;         /* every timeline that has segments, a history file,
                                           or a backup, ascending tli */
    size_t n_timelines;
    size_t n_foreign;
    char *foreign[CATALOG_FOREIGN_MAX]; /* repository paths (owned) */
} Catalog;

enum {
    CATALOG_LOAD_BACKUPS = 1u << 0,     /* list backups and load their manifests' headers
                                           (each manifest is read and checked whole, as a
                                           stream; no backup's entries are kept) */
    CATALOG_LOAD_WAL = 1u << 1,         /* list archived WAL and dropped segments, read
                                           history files */
};

/* Loads what flags ask for. An unbound repository (no repo.json) is an empty catalog.
 * Errors are storage errors (and NOMEM); a bad manifest or history file is recorded in the
 * catalog, not returned. out is zeroed first and must be freed with catalog_free. */
int catalog_load(Repo *repo, unsigned flags, Catalog *out, PgpErr *err);
void catalog_free(Catalog *c);          /* zeroed catalogs are fine */

/* Reads b's manifest again, keeping its entries (b->manifest is replaced; pointers into the
 * old one die). For the commands that need one backup's files: load them one backup at a
 * time where possible, memory grows with the entries kept. b must be COMPLETE. Errors as
 * manifest_load (a manifest removed since the catalog was loaded is PGP_ERR_NOT_FOUND). */
int catalog_load_entries(Repo *repo, CatalogBackup *b, PgpErr *err);
/* The same, keeping the entries in b->files (manifest_pack.h: about 100 bytes a file instead
 * of 128 plus strings); b->manifest becomes the header of the manifest read. For commands
 * that hold every file of the backups they check (verify: issue #14's 300 bytes a file). */
int catalog_load_files(Repo *repo, CatalogBackup *b, PgpErr *err);
/* Frees the entries catalog_load_entries or catalog_load_files kept (the header stays). */
void catalog_drop_entries(CatalogBackup *b);

/* The timeline entry of tli, NULL if none. */
const CatalogTimeline *catalog_timeline(const Catalog *c, uint32_t tli);
/* The archived segment (kind SEGMENT) of (tli, segno), NULL if none. Binary search. */
const CatalogWal *catalog_segment(const Catalog *c, uint32_t tli, uint64_t segno);
/* The record of segment (tli, segno) dropped by archive-push, NULL if none. */
const CatalogDropped *catalog_dropped(const Catalog *c, uint32_t tli, uint64_t segno);
/* What is wrong with segment (tli, segno) that recovery cannot read: "missing" (with why,
 * when archive-push dropped it), "ambiguous" (objects of different content claim it) or
 * "damaged" (it is there: its object failed a check). */
const char *catalog_segment_word(const Catalog *c, uint32_t tli, uint64_t segno);
/* The newest complete backup (latest stop time, then highest stop LSN), NULL if none. Time
 * first: after a PITR into the past, a dead timeline's backups can end at higher LSNs. */
const CatalogBackup *catalog_newest_complete(const Catalog *c);

/* A hole in one timeline's segments: [from, to] missing, with segments on both sides. */
typedef struct CatalogGap {
    uint32_t tli;
    uint64_t from_segno, to_segno;
    uint64_t n_dropped;         /* of them, dropped on purpose by archive-push (recorded) */
    int64_t dropped_at;         /* the first such record's time, 0 when none */
} CatalogGap;

/* Every gap of every timeline, ascending; *out malloc'd (NULL when none). */
int catalog_gaps(const Catalog *c, CatalogGap **out, size_t *n, PgpErr *err);

/*
 * What can be recovered from backup b following timeline tli's history: WAL is read from b's
 * start segment along the history (pg_timeline_of_segno: at a switch, the new timeline's
 * file); the range ends at the first segment that is not archived.
 */
typedef struct CatalogReach {
    bool on_history;            /* b's timeline (up to its stop LSN) is on tli's history */
    bool consistent;            /* every segment from start to stop is archived: the backup
                                   restores at all */
    uint64_t start_segno;       /* b's start segment */
    uint64_t end_segno;         /* last contiguous archived segment (valid if consistent) */
    /* when consistent, the window (recovery_window, window.h: never inverted) */
    uint64_t earliest_lsn;      /* b's stop LSN: the earliest consistent point */
    uint64_t latest_lsn;        /* end of end_segno (segment boundary) on the history */
    int64_t earliest_time;      /* b's stop time */
    int64_t latest_time;        /* archive time (mtime) of end_segno's object, or b's stop time
                                   when that is later (ends_at_backup) */
    bool ends_at_backup;        /* nothing archived after b ended: its end is the latest point */
    bool gap;                   /* a later segment of the history is archived behind the first
                                   missing one: the archive goes on past a hole */
    uint64_t missing_segno;     /* the first segment not archived (when !complete) */
    uint32_t missing_tli;       /* and the timeline it is read from */
} CatalogReach;

void catalog_reach(const Catalog *c, const CatalogBackup *b, uint32_t tli, CatalogReach *out);

/* What every timeline received (tl_production.h), from the catalog's segments, history files
 * and parsed histories: the same facts wal_history_activity gathers for restore and drill.
 * *out is zeroed first; free it with tl_activity_free. PGP_ERR_NOMEM only. */
int catalog_activity(const Catalog *c, TlActivityList *out, PgpErr *err);

/* "2026-11-22T03:00:00Z" (UTC); "-" for 0. */
void catalog_format_time(int64_t t, char out[32]);

#endif
