/*
 * libpq_lazy.c - fills the libpq function table of libpq_lazy.h on first use. Owns the
 * soname, the install hint and the once-only load; nothing else of libpq.
 */
#define PG_LIBPQ_LAZY_IMPL
#include "libpq_lazy.h"

#include <pthread.h>

#include "pgpitr/common/dynlib.h"

#define LIBPQ_SONAME "libpq.so.5"

PgLibpq pg_libpq;

enum {
#define PG_LIBPQ_INDEX(ret, name, params) LIBPQ_I_##name,
    PG_LIBPQ_FUNCS(PG_LIBPQ_INDEX)
#undef PG_LIBPQ_INDEX
    LIBPQ_N
};

static const char *const libpq_names[LIBPQ_N] = {
#define PG_LIBPQ_NAME(ret, name, params) #name,
    PG_LIBPQ_FUNCS(PG_LIBPQ_NAME)
#undef PG_LIBPQ_NAME
};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static PgpErr load_err;

static void load(void)
{
    PgpDynFn fns[LIBPQ_N];
    load_rc = pgp_dynlib_open("libpq", LIBPQ_SONAME, libpq_names, LIBPQ_N, fns, &load_err);
    if (load_rc != 0) {
        pgp_err_hint(&load_err, "install the PostgreSQL client library (Debian/Ubuntu: apt-get "
                     "install libpq5; RHEL: dnf install libpq)");
        return;
    }
#define PG_LIBPQ_FILL(ret, name, params) pg_libpq.name = (ret (*) params)fns[LIBPQ_I_##name];
    PG_LIBPQ_FUNCS(PG_LIBPQ_FILL)
#undef PG_LIBPQ_FILL
}

int pg_libpq_load(PgpErr *err)
{
    pthread_once(&load_once, load);
    if (load_rc != 0 && err != NULL)
        *err = load_err;
    return load_rc;
}
