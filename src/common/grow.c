/*
 * grow.c - the growable array (grow.h): one doubling realloc with its overflow check and
 * its out-of-memory message, instead of one open-coded copy per list.
 */
#include "pgpitr/common/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int grow_fail(size_t ncap, const char *what, PgpErr *err)
{
    if (what == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory for %zu %s", ncap, what);
}

int grow_room(void *arrp, size_t *cap, size_t n, size_t need, size_t elem, size_t first,
              const char *what, PgpErr *err)
{
    if (n > SIZE_MAX - need)
        return grow_fail(SIZE_MAX, what, err);
    size_t want = n + need;
    if (want <= *cap)
        return 0;
    size_t ncap = *cap == 0 ? first : *cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2;
    if (ncap < want)
        ncap = want;
    if (elem != 0 && ncap > SIZE_MAX / elem)
        return grow_fail(ncap, what, err);
    /* The array pointer is read and written through memcpy: arrp points to a T *, and
     * storing through a void ** would break the aliasing rules. */
    void *old;
    memcpy(&old, arrp, sizeof old);
    void *p = realloc(old, ncap * elem);
    if (p == NULL)
        return grow_fail(ncap, what, err);
    memcpy(arrp, &p, sizeof p);
    *cap = ncap;
    return 0;
}
