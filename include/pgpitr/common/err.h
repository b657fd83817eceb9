/*
 * err.h - the one error type of pgpitr.
 *
 * A function that can fail returns int (0 = ok, otherwise the PgpErrCode) and takes
 * `PgpErr *err` last. On failure it fills err (code, errno, message, file, line) with
 * PGP_FAIL(); callers may prepend context with pgp_err_context() and return err->code.
 * `err` may be NULL when the caller does not care about the details.
 *
 * The single list PGP_ERR_LIST generates the enum, the stable names (used in JSON
 * output) and the process exit status for each code.
 */
#ifndef PGPITR_ERR_H
#define PGPITR_ERR_H

#include <stddef.h>

/*       name             exit  meaning */
#define PGP_ERR_LIST(X)                                                              \
    X(OK,               0, "ok")                                                     \
    X(NOT_FOUND,        1, "not found")                                              \
    X(USAGE,            2, "invalid usage")                                          \
    X(CONFIG,           3, "invalid configuration")                                  \
    X(INVALID_NAME,     4, "invalid file name")                                      \
    X(IO,               5, "i/o error")                                              \
    X(NO_SPACE,         6, "no space left")                                          \
    X(CORRUPT,          7, "corrupt data")                                           \
    X(CONFLICT,         8, "conflicting content")                                    \
    X(WRONG_CLUSTER,    9, "repository belongs to another cluster")                  \
    X(CODEC,           10, "compression error")                                      \
    X(NOMEM,           11, "out of memory")                                          \
    X(PG,              12, "postgresql error")                                       \
    X(LOCKED,          13, "locked")                                                 \
    X(KEY,             14, "encryption key missing or wrong")                        \
    X(INTERNAL,        70, "internal error")

typedef enum {
#define PGP_ERR_ENUM(name, exitcode, text) PGP_ERR_##name,
    PGP_ERR_LIST(PGP_ERR_ENUM)
#undef PGP_ERR_ENUM
    PGP_ERR__COUNT
} PgpErrCode;

#define PGP_ERR_MSG_MAX 1024
#define PGP_ERR_HINT_MAX 512

typedef struct PgpErr {
    PgpErrCode code;
    int sys_errno;              /* errno at the failure, 0 if none */
    const char *file;
    int line;
    char msg[PGP_ERR_MSG_MAX];  /* lowercase, no final period */
    char hint[PGP_ERR_HINT_MAX];/* optional "what to do", empty if none */
} PgpErr;

/* Fill err (if not NULL) and return code. Format is printf-like. */
int pgp_err_set(PgpErr *err, PgpErrCode code, int sys_errno, const char *file, int line,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Fail with a code and message: `return PGP_FAIL(err, PGP_ERR_IO, "cannot open \"%s\"", p);` */
#define PGP_FAIL(err, code, ...) pgp_err_set((err), (code), 0, __FILE__, __LINE__, __VA_ARGS__)
/* Same, recording errno and appending ": strerror(errno)" to the message. */
#define PGP_FAIL_ERRNO(err, code, e, ...) \
    pgp_err_set((err), (code), (e), __FILE__, __LINE__, __VA_ARGS__)
/* errno-derived code: ENOSPC/EDQUOT -> NO_SPACE, ENOMEM -> NOMEM, else IO. ENOENT is IO too:
 * a system call that finds a path missing is a failure of what the program was doing. "Not
 * found" is an answer (exit 1: "not archived", "no backup reaches the target"), given only by
 * a function that decides absence is the answer, with PGP_FAIL(err, PGP_ERR_NOT_FOUND, ...). */
PgpErrCode pgp_err_code_from_errno(int e);
#define PGP_FAIL_SYS(err, e, ...) \
    pgp_err_set((err), pgp_err_code_from_errno(e), (e), __FILE__, __LINE__, __VA_ARGS__)

/* A permission error names who asked and who owns what refused: when err holds EACCES or
 * EPERM, appends to the message " (running as user \"postgres\"; \"/srv/repo\" belongs to
 * root:root, mode 0700)" about path, or its nearest ancestor that exists (for a file not
 * yet created: the directory refusing it), and sets a HINT unless one is set. Any other
 * errno: nothing. Returns code. Thread-safe (getpwuid_r). */
int pgp_err_path(PgpErr *err, int code, const char *path);
/* PGP_FAIL_SYS + pgp_err_path: `return PGP_FAIL_PATH(err, errno, dir, "cannot open \"%s\"", dir);` */
#define PGP_FAIL_PATH(err, e, path, ...) \
    pgp_err_path((err), PGP_FAIL_SYS((err), (e), __VA_ARGS__), (path))

/* Prepend "context: " to the message; returns err->code (or PGP_ERR_INTERNAL if err NULL). */
int pgp_err_context(PgpErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set the hint line (what the operator should do). */
void pgp_err_hint(PgpErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pgp_err_clear(PgpErr *err);

/* Bytes from outside (file names, paths from a manifest) quoted for a message: printable
 * ASCII stays, '"' and '\\' are backslash-escaped, other bytes become \\xNN, input past
 * PGP_QUOTE_MAX_IN bytes is cut with "...". Returns buf. Keeps every message one bounded
 * line whatever arrives. */
#define PGP_QUOTE_MAX_IN 80
#define PGP_QUOTE_BUF (PGP_QUOTE_MAX_IN * 4 + 4)
const char *pgp_quote(const char *s, char buf[PGP_QUOTE_BUF]);

const char *pgp_err_name(PgpErrCode code);      /* "NOT_FOUND" */
const char *pgp_err_text(PgpErrCode code);      /* "not found" */
int pgp_err_exit_status(PgpErrCode code);

#endif
