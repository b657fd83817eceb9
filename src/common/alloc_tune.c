/*
 * alloc_tune.c - the allocator settings of the command-line process (alloc_tune.h).
 *
 * A backup allocates and frees a buffer of 1 MiB (a chunk) to 8 MiB (a small file)
 * thousands of times. glibc's defaults hand such a buffer back to the kernel on free (mmap
 * above the dynamic mmap threshold, a trim of the heap's top above twice that), so the next
 * one is fresh zeroed pages: a page fault every 4 KiB on first touch, in the thread that
 * copies the stream into it. That was 6% of a full backup's CPU samples (perf, 979 MiB pgbench
 * database) and its wall time fell from ~2.2 s to ~1.95 s without it. Fixing both thresholds
 * turns off glibc's dynamic adjustment: buffers up to 32 MiB (glibc's largest mmap threshold
 * on 64-bit) come from the heap and stay there once freed; the process keeps its high water
 * mark until it exits, which for a command is soon. The cost: an array grown by realloc in the
 * heap leaves its smaller blocks behind where mremap grew it in place (info on a million-file
 * manifest peaked at 71 MiB instead of 55), so only the command that moves data through such
 * buffers (backup, cmd/backup.c) asks for it; what it holds in flight is bounded by its
 * pool's budget either way.
 */
#include "pgpitr/common/alloc_tune.h"

#include <stdlib.h>   /* defines __GLIBC__ on glibc */
#if defined(__GLIBC__)
#include <malloc.h>
#endif

bool alloc_keep_buffers(void)
{
#if defined(__GLIBC__) && defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    /* mallopt's result is 1 on success; ASan's interceptor returns 0 and valgrind's
     * replacement ignores the call, so neither is an error: the process just runs as before. */
    return mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
#else
    return false;
#endif
}
