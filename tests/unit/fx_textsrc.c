/*
 * fx_textsrc.c - a text in memory as a byte source (see fx_textsrc.h).
 */
#include "fx_textsrc.h"

#include <string.h>

int fx_text_read(void *ud, void *buf, size_t len, size_t *got, PgpErr *err)
{
    (void)err;
    FxTextSrc *t = ud;
    size_t n = t->len - t->pos;
    if (n > len)
        n = len;
    if (n > t->chunk)
        n = t->chunk;
    memcpy(buf, t->text + t->pos, n);
    t->pos += n;
    *got = n;
    return 0;
}
