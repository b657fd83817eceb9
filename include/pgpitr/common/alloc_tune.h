/*
 * alloc_tune.h - the allocator settings of the command-line process (alloc_tune.c).
 */
#ifndef PGPITR_COMMON_ALLOC_TUNE_H
#define PGPITR_COMMON_ALLOC_TUNE_H

#include <stdbool.h>

/* Keeps freed buffers of up to 32 MiB in the process for reuse instead of handing them back
 * to the kernel. Returns false where the allocator does not take the settings (a sanitizer's
 * or valgrind's allocator); nothing else changes then. Called once, early, by the
 * CLI's backup command before it allocates; never in the archive module, which
 * lives in PostgreSQL's archiver process. */
bool alloc_keep_buffers(void);

#endif
