/*
 * libarchive_lazy.c - fills the libarchive function table of libarchive_lazy.h on first use.
 * Owns the soname, the install hint and the once-only load; nothing else of libarchive.
 */
#define PG_LIBARCHIVE_LAZY_IMPL
#include "libarchive_lazy.h"

#include <pthread.h>

#include "pgpitr/common/dynlib.h"

#define LIBARCHIVE_SONAME "libarchive.so.13"

PgLibarchive pg_libarchive;

enum {
#define PG_LIBARCHIVE_INDEX(ret, name, params) LIBARCHIVE_I_##name,
    PG_LIBARCHIVE_FUNCS(PG_LIBARCHIVE_INDEX)
#undef PG_LIBARCHIVE_INDEX
    LIBARCHIVE_N
};

static const char *const libarchive_names[LIBARCHIVE_N] = {
#define PG_LIBARCHIVE_NAME(ret, name, params) #name,
    PG_LIBARCHIVE_FUNCS(PG_LIBARCHIVE_NAME)
#undef PG_LIBARCHIVE_NAME
};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static PgpErr load_err;

static void load(void)
{
    PgpDynFn fns[LIBARCHIVE_N];
    load_rc = pgp_dynlib_open("libarchive", LIBARCHIVE_SONAME, libarchive_names, LIBARCHIVE_N,
                              fns, &load_err);
    if (load_rc != 0) {
        pgp_err_hint(&load_err, "install libarchive (Debian/Ubuntu: apt-get install "
                     "libarchive13; RHEL: dnf install libarchive)");
        return;
    }
#define PG_LIBARCHIVE_FILL(ret, name, params)                                               \
    pg_libarchive.name = (ret (*) params)fns[LIBARCHIVE_I_##name];
    PG_LIBARCHIVE_FUNCS(PG_LIBARCHIVE_FILL)
#undef PG_LIBARCHIVE_FILL
}

int pg_libarchive_load(PgpErr *err)
{
    pthread_once(&load_once, load);
    if (load_rc != 0 && err != NULL)
        *err = load_err;
    return load_rc;
}
