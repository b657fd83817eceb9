/*
 * json_window.h - a sliding window over a JSON document read in blocks, for the readers that
 * walk a document's outer structure themselves and hand each value inside to jansson on its
 * own (json_loadb with JSON_DISABLE_EOF_CHECK decodes one value and reports the bytes it
 * used): pgpitr's manifest.json (src/repo/manifest_stream.c) and PostgreSQL's backup_manifest
 * (src/pg/pgmanifest.c). So neither ever holds the whole text nor a tree of it: only the
 * window, which widens to the largest single value.
 *
 * Errors are PGP_ERR_CORRUPT "<prefix>: not valid json at line N: ..." (prefix given by the
 * reader, e.g. "invalid backup manifest"), the source's own errors as they are, NOMEM.
 */
#ifndef PGPITR_COMMON_JSON_WINDOW_H
#define PGPITR_COMMON_JSON_WINDOW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "pgpitr/common/err.h"

/* A byte source: up to len bytes into buf, *got = 0 at the end (storage_read's contract). */
typedef int (*JsonWinReadFn)(void *ud, void *buf, size_t len, size_t *got, PgpErr *err);
/* Told every block read from the source, in order (a reader that hashes the raw text). */
typedef void (*JsonWinSeenFn)(void *ud, const char *buf, size_t len);

typedef struct JsonWin {
    JsonWinReadFn rd;        /* NULL: the whole text is in buf (json_win_text) */
    void *rd_ud;
    JsonWinSeenFn seen;      /* may be NULL */
    void *seen_ud;
    const char *prefix;      /* of error messages */
    size_t max_value;        /* the window never widens beyond this: an error */
    char *buf;               /* owned when rd != NULL */
    size_t cap, start, end;  /* unread bytes: buf[start .. end) */
    bool eof;                /* rd has no more */
    size_t line;             /* line number at buf[start], from 1 */
} JsonWin;

/* A window of size bytes over rd (json_win_free releases it). */
int json_win_open(JsonWin *w, JsonWinReadFn rd, void *rd_ud, size_t size, size_t max_value,
                  const char *prefix, PgpErr *err);
/* A window over the whole text (not copied, not freed). */
void json_win_text(JsonWin *w, const char *text, size_t len, const char *prefix);
void json_win_free(JsonWin *w);

/* The next byte that is not JSON whitespace, not taken; EOF at the end of the document. */
int json_win_peek(JsonWin *w, int *c, PgpErr *err);
/* Takes n bytes (already in the window: after json_win_peek, n = 1). */
void json_win_advance(JsonWin *w, size_t n);
/* One JSON value (any type) from the window, taken: *out is the caller's. */
int json_win_value(JsonWin *w, json_t **out, PgpErr *err);
/* "not valid json at line <current>": what, or "premature end of input" when c is EOF. */
int json_win_expected(JsonWin *w, int c, const char *what, PgpErr *err);
int json_win_syntax(const JsonWin *w, size_t line, const char *what, PgpErr *err);

#endif
