/*
 * secmem.h - memory for key material: page-aligned, locked in RAM where the system allows
 * (mlock: never written to swap), left out of core dumps (MADV_DONTDUMP), and wiped
 * (OPENSSL_cleanse) before it is given back. Every key of src/crypto lives in such memory.
 * Locking is best effort: an RLIMIT_MEMLOCK too small leaves the memory usable but unlocked
 * (secmem_locked() says which), because refusing to run would lose WAL, which is worse.
 */
#ifndef PGPITR_CRYPTO_SECMEM_H
#define PGPITR_CRYPTO_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

#include "pgpitr/common/err.h"

/* size zeroed bytes (rounded up to whole pages); PGP_ERR_NOMEM when mmap fails. */
void *secmem_alloc(size_t size, PgpErr *err);
/* Wipes, unlocks and unmaps p (from secmem_alloc with the same size); NULL is a no-op. */
void secmem_free(void *p, size_t size);
/* Whether the allocation at p is locked in RAM. */
bool secmem_locked(const void *p);
/* Allocations not yet freed (the unit tests check that none leak: mmap is invisible to ASan).
 * Scratch pages (below) are not counted. */
long secmem_live(void);
/* Mappings made so far, scratch pages included (tests: objects sealed and opened one after
 * another on one thread make none of their own). */
long secmem_mappings(void);

/* This thread's scratch: SECMEM_SCRATCH_LEN bytes of such memory, made on first use and kept
 * until the thread ends, for a key needed only for a moment (the per-object key of
 * src/crypto/stream.c). The caller wipes what it put there (OPENSSL_cleanse) before it
 * returns, and never holds it across a call that may use the scratch too. */
#define SECMEM_SCRATCH_LEN 64
void *secmem_scratch(PgpErr *err);

#endif
