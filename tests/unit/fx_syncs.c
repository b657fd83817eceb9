/*
 * fx_syncs.c - the counting fsync, fdatasync and syncfs of the unit test program (fx_syncs.h).
 * Each makes the system call itself (syscall(2)), so nothing else changes for the callers;
 * counts are atomic, since batches are flushed from worker threads.
 */
#include "fx_syncs.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

FxSyncs fx_syncs;

void fx_syncs_reset(void)
{
    __atomic_store_n(&fx_syncs.fsyncs, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fx_syncs.fdatasyncs, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&fx_syncs.syncfs, 0, __ATOMIC_SEQ_CST);
    fx_syncs.on_syncfs = NULL;
    fx_syncs.syncfs_enosys = 0;
}

int fsync(int fd)
{
    __atomic_add_fetch(&fx_syncs.fsyncs, 1, __ATOMIC_SEQ_CST);
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    __atomic_add_fetch(&fx_syncs.fdatasyncs, 1, __ATOMIC_SEQ_CST);
    return (int)syscall(SYS_fdatasync, fd);
}

int syncfs(int fd)
{
    int before = __atomic_fetch_add(&fx_syncs.syncfs, 1, __ATOMIC_SEQ_CST);
    if (fx_syncs.on_syncfs != NULL)
        fx_syncs.on_syncfs(before);
    if (fx_syncs.syncfs_enosys) {
        errno = ENOSYS;
        return -1;
    }
    return (int)syscall(SYS_syncfs, fd);
}
