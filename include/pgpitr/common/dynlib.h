/*
 * dynlib.h - opening a shared library at run time (dlopen by soname) and resolving a list of
 * its functions, for the big libraries only some commands use (libpq, libarchive).
 *
 * Why: archive-push and archive-get run once per WAL segment. Linking libpq and libarchive
 * makes every process start load them and what they pull in (Kerberos, LDAP, GnuTLS,
 * libxml2, ICU, libstdc++): about 8 ms of CPU per call, a quarter of the per-segment budget,
 * for code those commands never run. So the modules that need such a library keep a typed
 * table of function pointers (src/pg/libpq_lazy.h, src/pg/libarchive_lazy.h) and fill it
 * through this helper the first time they are used. The headers are still the library's own;
 * only the link-time dependency goes.
 */
#ifndef PGPITR_DYNLIB_H
#define PGPITR_DYNLIB_H

#include <stddef.h>

#include "pgpitr/common/err.h"

/* A function pointer of no particular type: what a table slot is stored as until the
 * caller converts it back to the function's real type (a conversion C allows between
 * function pointer types, and the only one -Wcast-function-type accepts silently). */
typedef void (*PgpDynFn)(void);

/* dlopen(soname, RTLD_NOW | RTLD_LOCAL), then dlsym of names[0..n-1] into fns[0..n-1].
 * On failure nothing stays open and err is PGP_ERR_CONFIG
 * "cannot load <label> (<soname>): <dlerror text>" (or "...: function <name> not found");
 * the caller adds the HINT naming the package to install. The handle is never closed on
 * success: the library stays loaded for the life of the process. Not thread-safe by itself:
 * callers run it once (pthread_once). */
int pgp_dynlib_open(const char *label, const char *soname, const char *const *names, size_t n,
                    PgpDynFn *fns, PgpErr *err);

#endif
