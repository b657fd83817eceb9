/*
 * secmem.c - locked, undumpable, wiped memory for keys (secmem.h). Each allocation is its own
 * mapping, with a small record of whether mlock succeeded kept in its first bytes: key
 * material is a handful of 32-byte keys per process, so a page each costs nothing and keeps
 * the code free of an allocator of its own.
 *
 * The exception is the per-object key of the object format, derived once for every object
 * read or written and needed only until OpenSSL's cipher context holds its schedule: a
 * mapping per object cost five system calls and, in a process with worker threads, a TLB
 * shootdown on every munmap, which made an encrypted restore of a thousand objects measurably
 * slower than a plain one. It goes to a per-thread scratch page (secmem_scratch) made on the
 * thread's first use and unmapped when the thread ends (or, for the main thread, at exit).
 */
#include "pgpitr/crypto/secmem.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

/* The header before the caller's bytes: alignment kept at 16 for any key struct. */
typedef struct SecHead {
    _Alignas(16) size_t total;
    bool locked;
} SecHead;

static atomic_long live_count;
static atomic_long map_count;   /* mappings made, scratch pages included */

static size_t round_pages(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

static void *sec_map(size_t size, PgpErr *err)
{
    size_t total = round_pages(sizeof(SecHead) + size);
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate memory for key material");
        return NULL;
    }
    atomic_fetch_add(&map_count, 1);
    SecHead *h = p;
    h->total = total;
    /* Why best effort: see secmem.h. MADV_DONTDUMP keeps keys out of core files even when
     * locking fails. */
    h->locked = mlock(p, total) == 0;
#ifdef MADV_DONTDUMP
    (void)madvise(p, total, MADV_DONTDUMP);
#endif
    return (char *)p + sizeof(SecHead);
}

static void sec_unmap(void *p, size_t size)
{
    SecHead *h = (SecHead *)((char *)p - sizeof(SecHead));
    size_t total = h->total;
    bool locked = h->locked;
    OPENSSL_cleanse(p, size);
    OPENSSL_cleanse(h, sizeof *h);
    if (locked)
        munlock(h, total);
    munmap(h, total);
}

void *secmem_alloc(size_t size, PgpErr *err)
{
    void *p = sec_map(size, err);
    if (p != NULL)
        atomic_fetch_add(&live_count, 1);
    return p;
}

void secmem_free(void *p, size_t size)
{
    if (p == NULL)
        return;
    sec_unmap(p, size);
    atomic_fetch_sub(&live_count, 1);
}

/* --- the per-thread scratch --- */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_key_ok;

static void scratch_free(void *p) { sec_unmap(p, SECMEM_SCRATCH_LEN); }

/* The main thread's scratch, at exit (a thread's destructor does not run for it). */
static void scratch_free_main(void)
{
    void *p = pthread_getspecific(scratch_key);
    if (p != NULL) {
        pthread_setspecific(scratch_key, NULL);
        scratch_free(p);
    }
}

static void scratch_key_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0;
    if (scratch_key_ok)
        atexit(scratch_free_main);
}

void *secmem_scratch(PgpErr *err)
{
    pthread_once(&scratch_once, scratch_key_init);
    if (!scratch_key_ok) {
        PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate memory for key material");
        return NULL;
    }
    void *p = pthread_getspecific(scratch_key);
    if (p != NULL)
        return p;
    if ((p = sec_map(SECMEM_SCRATCH_LEN, err)) == NULL)
        return NULL;
    if (pthread_setspecific(scratch_key, p) != 0) {
        sec_unmap(p, SECMEM_SCRATCH_LEN);
        PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate memory for key material");
        return NULL;
    }
    return p;
}

bool secmem_locked(const void *p)
{
    return p != NULL && ((const SecHead *)((const char *)p - sizeof(SecHead)))->locked;
}

long secmem_live(void)
{
    return atomic_load(&live_count);
}

long secmem_mappings(void)
{
    return atomic_load(&map_count);
}
