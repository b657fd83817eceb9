/*
 * json_window.c - the sliding window over a JSON document (see json_window.h).
 *
 * Owns: reading blocks, widening for a value larger than the window, line numbers, and
 * telling a cut by the window from a fault of the document. Must not: know any document's
 * fields (its readers do).
 */
#include "pgpitr/common/json_window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_FLAGS (JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)
/* jansson stops where the bytes end: a failure this close to the end of what the window
 * holds may be the window's cut, not the document's fault, so read more and parse again. A
 * value that ends exactly at the window's end is parsed again too: a number may go on. */
#define CUT_SLACK 8

int json_win_open(JsonWin *w, JsonWinReadFn rd, void *rd_ud, size_t size, size_t max_value,
                  const char *prefix, PgpErr *err)
{
    *w = (JsonWin){.rd = rd, .rd_ud = rd_ud, .prefix = prefix, .max_value = max_value,
                   .cap = size > 0 ? size : 1, .line = 1};
    if ((w->buf = malloc(w->cap)) == NULL)
        return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
    return 0;
}

void json_win_text(JsonWin *w, const char *text, size_t len, const char *prefix)
{
    *w = (JsonWin){.buf = (char *)text, .cap = len, .end = len, .eof = true, .line = 1,
                   .prefix = prefix, .max_value = len};
}

void json_win_free(JsonWin *w)
{
    if (w->rd != NULL)
        free(w->buf);
    w->buf = NULL;
}

int json_win_syntax(const JsonWin *w, size_t line, const char *what, PgpErr *err)
{
    char q[PGP_QUOTE_BUF];   /* jansson's text may hold the offending bytes, raw */
    return PGP_FAIL(err, PGP_ERR_CORRUPT, "%s: not valid json at line %zu: %s", w->prefix, line,
                    pgp_quote(what, q));
}

int json_win_expected(JsonWin *w, int c, const char *what, PgpErr *err)
{
    return json_win_syntax(w, w->line, c == EOF ? "premature end of input" : what, err);
}

void json_win_advance(JsonWin *w, size_t n)
{
    const char *p = w->buf + w->start, *e = p + n;
    while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        w->line++;
        p++;
    }
    w->start += n;
}

/* More bytes after end: moves the unread ones to the front, widens a window that one value
 * fills, reads once. Sets eof when the source has no more. */
static int fill(JsonWin *w, PgpErr *err)
{
    if (w->rd == NULL || w->eof) {
        w->eof = true;
        return 0;
    }
    if (w->start > 0) {
        memmove(w->buf, w->buf + w->start, w->end - w->start);
        w->end -= w->start;
        w->start = 0;
    }
    if (w->end == w->cap) {
        if (w->cap >= w->max_value)
            return PGP_FAIL(err, PGP_ERR_CORRUPT, "%s: a value at line %zu is larger than %zu "
                            "bytes", w->prefix, w->line, w->max_value);
        char *n = realloc(w->buf, w->cap * 2);
        if (n == NULL)
            return PGP_FAIL(err, PGP_ERR_NOMEM, "out of memory");
        w->buf = n;
        w->cap *= 2;
    }
    size_t got = 0;
    int rc = w->rd(w->rd_ud, w->buf + w->end, w->cap - w->end, &got, err);
    if (rc != 0)
        return rc;
    if (got > 0 && w->seen != NULL)
        w->seen(w->seen_ud, w->buf + w->end, got);
    w->end += got;
    w->eof = got == 0;
    return 0;
}

int json_win_peek(JsonWin *w, int *c, PgpErr *err)
{
    for (;;) {
        while (w->start < w->end) {
            char ch = w->buf[w->start];
            if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
                *c = (unsigned char)ch;
                return 0;
            }
            json_win_advance(w, 1);
        }
        if (w->eof) {
            *c = EOF;
            return 0;
        }
        int rc = fill(w, err);
        if (rc != 0)
            return rc;
    }
}

int json_win_value(JsonWin *w, json_t **out, PgpErr *err)
{
    *out = NULL;
    for (;;) {
        size_t avail = w->end - w->start;
        json_error_t je;
        json_t *v = avail > 0 ? json_loadb(w->buf + w->start, avail, LOAD_FLAGS, &je) : NULL;
        if (v != NULL && (w->eof || (size_t)je.position < avail)) {
            json_win_advance(w, (size_t)je.position);
            *out = v;
            return 0;
        }
        json_decref(v);
        if (avail > 0 && v == NULL && (w->eof || (size_t)je.position + CUT_SLACK < avail))
            return json_win_syntax(w, w->line + (je.line > 1 ? (size_t)je.line - 1 : 0),
                                   je.text, err);
        if (w->eof)
            return json_win_syntax(w, w->line, "premature end of input", err);
        int rc = fill(w, err);
        if (rc != 0)
            return rc;
    }
}
