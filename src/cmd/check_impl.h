/*
 * check_impl.h - private to `pgpitr check` (src/cmd/check*.c): gathering the server's facts
 * (check_server.c) for the pure judge (check_judge.h).
 */
#ifndef PGPITR_CHECK_IMPL_H
#define PGPITR_CHECK_IMPL_H

#include <stdbool.h>
#include <string.h>

#include "pgpitr/repo/check_judge.h"
#include "pgpitr/repo/repo.h"

/* src into dst, cut to fit (a reason is one line: messages are). */
static inline void check_copy(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

typedef struct CheckServerRequest {
    const char *conninfo;     /* NULL: the server checks are skipped */
    Repo *repo;               /* NULL: the repository could not be read */
    bool no_archive_test;
    int archive_timeout_s;
} CheckServerRequest;

/* Connects, reads the identity, archive settings and pg_stat_archiver, follows
 * archive_command (script, --config file) to the repository it names, and runs the archive
 * test. Everything that goes wrong lands in f as a reason; only NOMEM would matter and none
 * is allocated here beyond libpq's. */
void check_gather_server(const CheckServerRequest *req, CheckFacts *f);

#endif
