/*
 * fx_syncs.h - counts the durability system calls of the code under test, for suites that
 * assert what making objects durable costs (a batch's flush: test_storage_batch,
 * test_backup_chunks). fsync, fdatasync and syncfs are defined in the unit test program
 * (fx_syncs.c): libpgpitr is linked statically, so its calls bind to these, which count and
 * then make the system call. Every suite's calls go through them; only the counts are new.
 */
#ifndef PGPITR_FX_SYNCS_H
#define PGPITR_FX_SYNCS_H

typedef struct FxSyncs {
    int fsyncs, fdatasyncs, syncfs;     /* calls since fx_syncs_reset */
    /* Called (if set) before each syncfs, with the number of syncfs calls before it. */
    void (*on_syncfs)(int before);
    int syncfs_enosys;                  /* non-zero: syncfs fails with ENOSYS (old kernels) */
} FxSyncs;

extern FxSyncs fx_syncs;

/* Counts to zero, no hook, syncfs works. */
void fx_syncs_reset(void);

#endif
