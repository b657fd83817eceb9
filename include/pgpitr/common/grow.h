/*
 * grow.h - the one growable array: make room for more elements in an array that keeps a
 * capacity beside its count, doubling, so that n appends cost O(n) copies in all.
 *
 *     if (GROW(l->v, l->n, l->cap, 16, "backup labels", err) != 0)
 *         return err->code;      (or the return value: it is the error code)
 *     l->v[l->n++] = x;
 *
 * On failure the array, its count and its capacity are untouched (still valid, still owned
 * by the caller), and err (may be NULL) says "out of memory for <capacity> <what>", or just
 * "out of memory" when what is NULL: the caller names the things, so each message stays as
 * the caller wrote it. A capacity whose size in bytes would overflow size_t is refused the
 * same way, before realloc is called.
 */
#ifndef PGPITR_GROW_H
#define PGPITR_GROW_H

#include <stddef.h>

#include "pgpitr/common/err.h"

/*
 * Makes *arrp (a pointer to the array pointer, any element type) hold at least n + need
 * elements of elem bytes. Nothing happens when n + need <= *cap. Otherwise the capacity
 * becomes twice *cap (first when *cap is 0), or n + need if that is still short, and the
 * array is reallocated. Returns 0 or PGP_ERR_NOMEM. Use the macros: they pass the element
 * size of the array itself, so callers write no sizeof and no cast.
 */
int grow_room(void *arrp, size_t *cap, size_t n, size_t need, size_t elem, size_t first,
              const char *what, PgpErr *err);

/* Room for one more element: arr is the array lvalue (T *), n its count, cap its capacity
 * (a size_t lvalue). */
#define GROW(arr, n, cap, first, what, err) \
    grow_room(&(arr), &(cap), (n), 1, sizeof *(arr), (first), (what), (err))
/* Room for need more elements. */
#define GROW_N(arr, n, need, cap, first, what, err) \
    grow_room(&(arr), &(cap), (n), (need), sizeof *(arr), (first), (what), (err))

#endif
