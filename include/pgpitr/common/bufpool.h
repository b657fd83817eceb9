/*
 * bufpool.h - large buffers (a WAL segment's worth) kept for reuse across pushes (bufpool.c).
 */
#ifndef PGPITR_COMMON_BUFPOOL_H
#define PGPITR_COMMON_BUFPOOL_H

#include <stdbool.h>
#include <stddef.h>

/* Buffers kept at most, by the archive module: two a push (the segment read, its compressed
 * form; the verification runs in the encoding thread since src/pipe/mem_codec.c, with no
 * queue) for its own push and each pushing ahead.
 * Nothing is kept until bufpool_set_keep is called: a process that pushes once has nothing to
 * reuse, and there a fresh buffer costs more than what it replaces (wal_push.c maps the file
 * instead). BUFPOOL_KEEP: the module's at pgpitr.jobs 4 (2 x 5). */
#define BUFPOOL_KEEP 10
#define BUFPOOL_KEEP_MAX 51
/* Smaller buffers are not kept (a .history file's): malloc serves those well. */
#define BUFPOOL_MIN (1u << 20)

/* A buffer of at least size bytes, *cap its real size: the smallest kept one that is big
 * enough, else a new one. NULL when out of memory. */
void *bufpool_take(size_t size, size_t *cap);

/* Gives back a buffer from bufpool_take, or one grown from it by realloc (NULL: nothing): kept
 * if cap >= BUFPOOL_MIN, in place of the smallest kept one when the most are kept already
 * and it is smaller; freed otherwise. Its contents are not cleared. */
void bufpool_give(void *buf, size_t cap);

/* Keeps at most n buffers from now on (capped at BUFPOOL_KEEP_MAX); kept ones beyond n are
 * freed. The archive module sets 2 x (its pushes at once). */
void bufpool_set_keep(size_t n);

/* Whether buffers are kept (bufpool_set_keep with n > 0). */
bool bufpool_keeping(void);

/* Frees every kept buffer (the archive module's shutdown; kept ones are reachable, not leaked,
 * until then). */
void bufpool_release(void);

/* Buffers made (not taken from the pool) so far, and kept now: for tests. */
size_t bufpool_made(void);
size_t bufpool_kept(void);

#endif
