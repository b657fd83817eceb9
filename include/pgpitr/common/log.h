/*
 * log.h - messages to stderr, one line each, prefixed "pgpitr: ". Errors are printed by
 * main.c from PgpErr; modules log only progress (info) and oddities (warn).
 */
#ifndef PGPITR_LOG_H
#define PGPITR_LOG_H

#include <stdbool.h>

#include "pgpitr/common/err.h"

typedef enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG } LogLevel;

void log_set_level(LogLevel level);
LogLevel log_get_level(void);
/* "error" | "warn" | "info" | "debug"; anything else PGP_ERR_CONFIG. */
int log_level_parse(const char *s, LogLevel *out, PgpErr *err);
bool log_enabled(LogLevel level);
void log_msg(LogLevel level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* Where lines go instead of stderr (NULL: back to stderr). The archive module (src/module/)
 * sends its main thread's lines to PostgreSQL's log; the sink is called from any thread that
 * logs, with the level and the whole line ("pgpitr: warn: ...", no newline). */
typedef void (*LogSink)(LogLevel level, const char *line);
void log_set_sink(LogSink sink);

/* Prints "pgpitr: error: <msg>" and, if set, "HINT: <hint>" on stderr. */
void log_error_report(const PgpErr *err);

#endif
