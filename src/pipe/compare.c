/*
 * compare.c - a sink that checks incoming bytes against an expected buffer (e.g. an
 * existing archived segment against the one being pushed). It never copies `expect`.
 */
#include "pgpitr/pipe/pipe.h"

#include <stdlib.h>
#include <string.h>

struct PipeCompare {
    const unsigned char *expect;
    size_t len;
    size_t pos;         /* bytes matched so far */
    bool failed;
};

int pipe_compare_new(const void *expect, size_t len, PipeCompare **out, PgpErr *err)
{
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "cannot allocate a compare sink");
    (*out)->expect = expect;
    (*out)->len = len;
    return 0;
}

static int compare_write(void *ud, const void *buf, size_t len, PgpErr *err)
{
    PipeCompare *c = ud;
    if (c->failed)
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "content already differed before byte %zu", c->pos);
    size_t room = c->len - c->pos;
    size_t n = len < room ? len : room;
    if (n > 0 && memcmp(c->expect + c->pos, buf, n) != 0) {
        const unsigned char *b = buf;
        size_t i = 0;
        while (c->expect[c->pos + i] == b[i])   /* only on the failure path */
            i++;
        c->failed = true;
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "content differs at byte %zu", c->pos + i);
    }
    c->pos += n;
    if (n < len) {
        c->failed = true;
        return PGP_FAIL(err, PGP_ERR_CORRUPT, "content is longer than the expected %zu bytes",
                        c->len);
    }
    return 0;
}

PipeSink pipe_compare_sink(PipeCompare *c)
{
    return (PipeSink){ compare_write, c };
}

bool pipe_compare_complete(const PipeCompare *c)
{
    return !c->failed && c->pos == c->len;
}

void pipe_compare_free(PipeCompare *c)
{
    free(c);
}
