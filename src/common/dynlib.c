/*
 * dynlib.c - dlopen + dlsym for the lazily loaded libraries (see dynlib.h). Owns no library
 * knowledge: the symbol lists, their types and the install hints live with their users.
 */
#include "pgpitr/common/dynlib.h"

#include <dlfcn.h>
#include <string.h>

/* POSIX guarantees that a void * from dlsym converts to a function pointer; ISO C does not
 * define the conversion, so copy the representation instead of casting. */
_Static_assert(sizeof(void *) == sizeof(PgpDynFn), "function and object pointers differ in size");

static const char *dl_reason(void)
{
    const char *e = dlerror();
    return e != NULL ? e : "unknown error";
}

int pgp_dynlib_open(const char *label, const char *soname, const char *const *names, size_t n,
                    PgpDynFn *fns, PgpErr *err)
{
    dlerror();      /* clear a stale message */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        return PGP_FAIL(err, PGP_ERR_CONFIG, "cannot load %s (%s): %s", label, soname,
                        dl_reason());
    for (size_t i = 0; i < n; i++) {
        dlerror();
        void *sym = dlsym(h, names[i]);
        if (sym == NULL) {
            int rc = PGP_FAIL(err, PGP_ERR_CONFIG, "cannot load %s (%s): function %s not "
                              "found: %s", label, soname, names[i], dl_reason());
            dlclose(h);
            return rc;
        }
        memcpy(&fns[i], &sym, sizeof sym);
    }
    return 0;
}
