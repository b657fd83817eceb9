/*
 * restore_keep_undo.h - the two texts `restore --delta --keep-old DIR` writes into DIR
 * (restore_keep.h): README, for the DBA who finds the directory, and undo.sh, the script that
 * puts the kept copy back. Text only: restore_keep.c writes them (before it copies anything).
 *
 * What undo.sh does, run as `sh DIR/undo.sh`:
 *  - reads the state from DIR/keep-old.json: "copying" (the copy never finished, so the
 *    restore changed nothing) and "undone" have nothing to do (exit 0); "kept" and "done" go
 *    on; anything else is an error (exit 1);
 *  - refuses (exit 1) while postmaster.pid in the data directory names a live process;
 *  - in the data directory: removes every entry that was not there before the restore, then
 *    puts each kept entry back in place of what is there now;
 *  - in each tablespace location: removes the backup's entries that were not there before,
 *    puts each kept entry back; the location's other entries are not touched;
 *  - gives each root its mode back and marks keep-old.json "undone".
 * Putting back is a rename when DIR is on the same file system as the root (the kept entry
 * leaves DIR; pgpitr fsynced it) and otherwise a copy, synced (sync -f) and renamed into
 * place (the kept entry stays): either way an interrupted run can be run again. The
 * directories whose entries changed are synced. Every path and name is a single-quoted sh
 * word.
 */
#ifndef PGPITR_RESTORE_KEEP_UNDO_H
#define PGPITR_RESTORE_KEEP_UNDO_H

#include <stddef.h>
#include <stdint.h>

typedef struct RestoreKeepUndoRoot {
    const char *path;                   /* the data directory (oid 0, first) or a location */
    uint32_t oid;
    const char *saved;                  /* where in DIR: "pgdata", "tablespaces/<oid>" */
    char *const *kept;                  /* names kept in DIR/saved */
    size_t n_kept;
    char *const *absent;                /* tablespace: the backup's names that were not there */
    size_t n_absent;
    unsigned mode;                      /* of the root before the restore */
} RestoreKeepUndoRoot;

/* undo.sh for DIR (absolute), malloc'd; NULL when out of memory. started: when the copy
 * began ("2026-11-22T04:00:00Z"). */
char *restore_keep_undo_text(const char *dir, const char *started,
                             const RestoreKeepUndoRoot *roots, size_t n);
/* README for DIR, malloc'd; NULL when out of memory. */
char *restore_keep_readme_text(const char *dir, const char *started,
                               const RestoreKeepUndoRoot *roots, size_t n);
/* s as one single-quoted sh word ('it'\''s'), malloc'd; NULL when out of memory. */
char *restore_keep_sh_quote(const char *s);

#endif
