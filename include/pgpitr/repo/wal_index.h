/*
 * wal_index.h - the archive as a list of named objects: the one parser of archived object
 * names "<walname>-<sha256><ext>" and the one lister of archive/wal and archive/history
 * (layout in repo_layout.h). Used by archive-push/get (repo_archive_find, repo.h), the
 * catalog (info, verify, expire), restore's WAL index and the drill.
 *
 * Read-only. A listing reports every entry it sees, an archived object with its parsed name
 * and anything else as foreign (name NULL): what a foreign entry means is the caller's call
 * (the catalog reports it, restore ignores it). A missing directory is an empty listing.
 */
#ifndef PGPITR_WAL_INDEX_H
#define PGPITR_WAL_INDEX_H

#include <stdbool.h>

#include "pgpitr/common/err.h"
#include "pgpitr/pg/walname.h"
#include "pgpitr/pipe/pipe.h"
#include "pgpitr/repo/repo_layout.h"
#include "pgpitr/storage/storage.h"

/* The parts of an archived object's name. */
typedef struct WalIndexName {
    char wal[PG_WALNAME_MAX + 1];              /* the WAL file name */
    PgWalName parsed;                          /* pg_walname_parse of wal */
    char sha256_hex[PIPE_SHA256_HEX_LEN + 1];  /* of the original bytes */
    PipeCodec codec;                           /* from the extension */
} WalIndexName;

/* true and out filled if entry is "<WAL file name>-<64 lowercase hex><codec extension>" with
 * a WAL file name pg_walname_parse accepts; false (out unspecified) for anything else. WAL
 * file names contain no '-', so the checksum is what follows the first one. */
bool wal_index_parse_name(const char *entry, WalIndexName *out);

/* true if name is an archive directory's name: REPO_LAYOUT_WAL_DIR_LEN uppercase hex digits
 * (the timeline and log of the WAL names it holds). */
bool wal_index_dir_name_valid(const char *name);

/* One entry of a listing. */
typedef struct WalIndexEntry {
    const char *dir;            /* "archive/wal", "archive/wal/<16>" or "archive/history" */
    const char *entry;          /* the basename as listed */
    const StorageInfo *info;
    /* Archived object: its parsed name, which belongs in dir (a history file in
     * archive/history, another WAL file in the archive/wal/<16> of its first 16 characters).
     * NULL: a foreign entry (or, in "archive/wal" itself, see wal_index_list_dirs). */
    const WalIndexName *name;
} WalIndexEntry;

/* Called per entry; returns 0 to go on. A non-zero return stops the listing and is returned;
 * the callback then sets err itself (the lister adds nothing to it). */
typedef int (*WalIndexFn)(void *ud, const WalIndexEntry *e, PgpErr *err);

/* Lists archive/wal itself: fn gets each entry with name NULL; e->info->is_dir and
 * wal_index_dir_name_valid(e->entry) tell an archive directory from a foreign entry. */
int wal_index_list_dirs(Storage *s, WalIndexFn fn, void *ud, PgpErr *err);
/* Lists one archive directory (a full path: repo_archive_wal_dir, or REPO_LAYOUT_HISTORY_DIR). */
int wal_index_list_dir(Storage *s, const char *dir, WalIndexFn fn, void *ud, PgpErr *err);
/* Only the entries of walname's archive directory (or archive/history) whose names begin with
 * "<walname>-": its archived objects, and foreign entries named alike. One S3 request however
 * many segments the directory holds. */
int wal_index_list_wal(Storage *s, const char *walname, WalIndexFn fn, void *ud, PgpErr *err);
/* The whole archive: archive/wal (its own entries with name NULL, as wal_index_list_dirs),
 * then every archive directory, then archive/history. */
int wal_index_list_all(Storage *s, WalIndexFn fn, void *ud, PgpErr *err);

#endif
