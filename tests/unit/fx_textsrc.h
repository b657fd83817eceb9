/*
 * fx_textsrc.h - a text in memory as a byte source (the storage_read contract of
 * ManifestReadFn, PgManifestReadFn, JsonWinReadFn), at most `chunk` bytes a read, so the
 * suites that stream a document cut it everywhere.
 */
#ifndef PGPITR_TESTS_FX_TEXTSRC_H
#define PGPITR_TESTS_FX_TEXTSRC_H

#include <stddef.h>

#include "pgpitr/common/err.h"

typedef struct FxTextSrc {
    const char *text;
    size_t len, pos, chunk;
} FxTextSrc;

/* ud: an FxTextSrc. Never fails; *got = 0 at the end. */
int fx_text_read(void *ud, void *buf, size_t len, size_t *got, PgpErr *err);

#endif
