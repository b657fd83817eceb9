/*
 * fuzz.h - what the libFuzzer harnesses under tests/fuzz share (header only, so that a
 * harness stays one file): a failed property is a crash with a message, the rules every
 * parser error must follow, and a reader taking typed values from the front of the input.
 *
 * A harness is tests/fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput; it must never
 * crash, leak, hang or trip ASan/UBSan on any input, and FUZZ_ASSERT the properties of its
 * parser (parse(write(x)) == x where a writer exists). See tests/fuzz/README.md.
 */
#ifndef PGPITR_FUZZ_H
#define PGPITR_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/err.h"
#include "pgpitr/common/log.h"

/* A broken property: print why and abort, which libFuzzer reports as a crash and saves the
 * input as the reproducer. */
#define FUZZ_ASSERT(cond, ...)                                                               \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "fuzz property failed at %s:%d: %s: ", __FILE__, __LINE__,       \
                    #cond);                                                                  \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

/* Every harness calls this from LLVMFuzzerInitialize (or its first input): warnings about
 * hostile input are expected by the million and would only slow the run down. */
static inline void fuzz_quiet(void)
{
    log_set_level(LOG_ERROR);
}

/* A failure must be reported the project's way: the returned code is the one in err (and
 * `code`, unless that is -1), and the message is one non-empty line of printable text (bytes
 * from the input are quoted, never copied raw into a message or a terminal). */
static inline void fuzz_check_err(int rc, const PgpErr *err, int code)
{
    FUZZ_ASSERT(rc != 0, "no error");
    FUZZ_ASSERT(code < 0 || rc == code, "code %d, expected %d: %s", rc, code, err->msg);
    FUZZ_ASSERT(rc == (int)err->code, "returned %d but err holds %d (%s)", rc, (int)err->code,
                err->msg);
    FUZZ_ASSERT(err->msg[0] != '\0', "empty message for code %d", rc);
    for (const unsigned char *p = (const unsigned char *)err->msg; *p != '\0'; p++)
        FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in the message \"%s\"", *p,
                    err->msg);
    for (const unsigned char *p = (const unsigned char *)err->hint; *p != '\0'; p++)
        FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in the hint \"%s\"", *p,
                    err->hint);
}

/* The input in an allocation of exactly its size (no NUL after it), for parsers that take a
 * length: ASan then sees any read past the end. */
static inline void *fuzz_copy(const uint8_t *data, size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        abort();
    memcpy(p, data, size);
    return p;
}

/* The input as a NUL-terminated string (cut at its first NUL byte, as a C parser sees it). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* The input as a byte source (the storage_read contract of the streaming readers), at most
 * chunk bytes a read, so every value is cut somewhere. */
typedef struct FuzzSrc {
    const void *data;
    size_t size, pos, chunk;
} FuzzSrc;

static inline int fuzz_src_read(void *ud, void *buf, size_t len, size_t *got, PgpErr *err)
{
    (void)err;
    FuzzSrc *s = ud;
    size_t n = s->size - s->pos;
    n = n < len ? n : len;
    n = n < s->chunk ? n : s->chunk;
    memcpy(buf, (const char *)s->data + s->pos, n);
    s->pos += n;
    *got = n;
    return 0;
}

/* Typed values taken from the front of the input; past its end every value is 0. */
typedef struct FuzzIn {
    const uint8_t *p;
    size_t n;
} FuzzIn;

static inline uint64_t fuzz_take(FuzzIn *in, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; i++) {
        v <<= 8;
        if (in->n > 0) {
            v |= *in->p++;
            in->n--;
        }
    }
    return v;
}

static inline uint8_t fuzz_u8(FuzzIn *in) { return (uint8_t)fuzz_take(in, 1); }
static inline uint16_t fuzz_u16(FuzzIn *in) { return (uint16_t)fuzz_take(in, 2); }
static inline uint32_t fuzz_u32(FuzzIn *in) { return (uint32_t)fuzz_take(in, 4); }
static inline uint64_t fuzz_u64(FuzzIn *in) { return fuzz_take(in, 8); }

/* The next string of at most max bytes up to a NUL (or the end), malloc'd. */
static inline char *fuzz_str(FuzzIn *in, size_t max)
{
    size_t n = 0;
    while (n < in->n && n < max && in->p[n] != '\0')
        n++;
    char *s = fuzz_cstr(in->p, n);
    size_t used = n < in->n && in->p[n] == '\0' ? n + 1 : n;   /* skip the NUL */
    in->p += used;
    in->n -= used;
    return s;
}

#endif
