/*
 * posix_internal.h - what the files of the posix driver share (posix.c: files, writers, the
 * driver; posix_temp.c: temp names and their cleanup; posix_batch.c: batched commits). Not
 * part of the storage seam: nothing outside src/storage includes it.
 */
#ifndef PGPITR_STORAGE_POSIX_INTERNAL_H
#define PGPITR_STORAGE_POSIX_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pgpitr/storage/storage.h"

#define TMP_PREFIX ".tmp."
#define DIR_MODE 0750
#define FILE_MODE 0640

typedef struct PosixBatch PosixBatch;

typedef struct PosixDrv {
    char *root;                 /* absolute, no trailing '/' (except "/" itself) */
    char host[256];             /* sanitized hostname, part of temp names */
} PosixDrv;

typedef struct PosixWriter {
    StorageWriter base;
    PosixDrv *d;
    PosixBatch *batch;          /* non-NULL: commit hands the temp file to this batch */
    int fd;                     /* temp file; -1 once closed */
    int dfd;                    /* the directory holding the temp file */
    int final_dfd;              /* the final name's directory: dfd, unless commit_as moved it
                                   (-1 for a batch's writer: opened when the batch commits) */
    unsigned flags;
    bool failed;                /* a write failed: the temp is gone, commit must fail */
    uint64_t written;           /* bytes written so far */
    char *rel_path;             /* as given to open_write */
    char *final_path;           /* full paths, for messages */
    char *tmp_path;
    const char *final_name;     /* basenames, pointing into the paths above */
    const char *tmp_name;
} PosixWriter;

/* posix.c */
char *posix_join(const char *root, const char *rel);
int posix_nomem(PgpErr *err);
int posix_fsync(int fd);        /* fsync, retried on EINTR */
/* Opens (creating it and its parents durably if missing) the directory of the full path
 * `full`, whose last '/' is `slash`. */
int posix_open_parent(PosixDrv *d, char *full, char *slash, int *dfd, PgpErr *err);
/* The same; directories created are made durable only if `durable` (else the caller's job). */
int posix_open_parent_as(PosixDrv *d, char *full, char *slash, bool durable, int *dfd,
                         PgpErr *err);
/* A writer's vtable and defaults (fds -1); the caller fills paths and fds. */
void posix_writer_init(PosixWriter *w, PosixDrv *d, unsigned flags);
void posix_writer_free(PosixWriter *w);

/* posix_temp.c */
/* The pid in "<host>.<pid>.<hex>" when host is this host's, else -1. */
pid_t posix_tmp_owner(const char *rest, const char *host);
/* Removes ".tmp.<base>.<host>.<pid>.*" files in dfd whose process is gone (best effort). */
void posix_remove_stale_temps(PosixDrv *d, int dfd, const char *base);
unsigned long long posix_random_u64(void);
void posix_host_for_temp(char *out, size_t size);

/* posix_batch.c: the driver's batch hooks (storage.h) and a batch writer's commit. */
int posix_batch_new(void *drv, const char *dir, const StorageBatchLimits *lim, void **out,
                    PgpErr *err);
int posix_batch_open_write(void *batch, const char *path, unsigned flags, StorageWriter **out,
                           PgpErr *err);
int posix_batch_flush(void *batch, PgpErr *err);
void posix_batch_free(void *batch);
bool posix_batch_holds(void *batch, const char *path, uint64_t *size);
/* Closes w's temp file (without fsync) and hands it to its batch; frees w, also on error. */
int posix_batch_commit_writer(PosixWriter *w, PgpErr *err);

#endif
