/*
 * secmem.c - locked, undumpable, wiped memory for keys (secmem.h). Each allocation is its own
 * mapping, with a small record of whether mlock succeeded kept in its first bytes: key
 * material is a handful of 32-byte keys per process, so a page each costs nothing and keeps
 * the code free of an allocator of its own.
 */
#include "pgpitr/crypto/secmem.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* The header before the caller's bytes: alignment kept at 16 for any key struct. */
typedef struct SecHead {
    _Alignas(16) size_t total;
    bool locked;
} SecHead;

static atomic_long live_count;

static size_t round_pages(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

void *secmem_alloc(size_t size, PgpErr *err)
{
    size_t total = round_pages(sizeof(SecHead) + size);
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate memory for key material");
        return NULL;
    }
    SecHead *h = p;
    h->total = total;
    /* Why best effort: see secmem.h. MADV_DONTDUMP keeps keys out of core files even when
     * locking fails. */
    h->locked = mlock(p, total) == 0;
#ifdef MADV_DONTDUMP
    (void)madvise(p, total, MADV_DONTDUMP);
#endif
    atomic_fetch_add(&live_count, 1);
    return (char *)p + sizeof(SecHead);
}

void secmem_free(void *p, size_t size)
{
    if (p == NULL)
        return;
    SecHead *h = (SecHead *)((char *)p - sizeof(SecHead));
    size_t total = h->total;
    bool locked = h->locked;
    OPENSSL_cleanse(p, size);
    OPENSSL_cleanse(h, sizeof *h);
    if (locked)
        munlock(h, total);
    munmap(h, total);
    atomic_fetch_sub(&live_count, 1);
}

bool secmem_locked(const void *p)
{
    return p != NULL && ((const SecHead *)((const char *)p - sizeof(SecHead)))->locked;
}

long secmem_live(void)
{
    return atomic_load(&live_count);
}
