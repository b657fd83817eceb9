/*
 * log.c - leveled one-line messages on stderr. Each message is formatted into one buffer and
 * written with a single write() so lines from concurrent processes (PostgreSQL may run
 * several restore/archive commands' outputs into one log) do not interleave mid-line, nor
 * with the status line of progress.c on a terminal.
 */
#include "pgpitr/common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pgpitr/common/progress.h"

static LogLevel current_level = LOG_WARN;
static LogSink sink_fn;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(LogLevel level) { current_level = level; }
void log_set_sink(LogSink sink) { sink_fn = sink; }
LogLevel log_get_level(void) { return current_level; }
bool log_enabled(LogLevel level) { return level <= current_level; }

int log_level_parse(const char *s, LogLevel *out, PgpErr *err)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (LogLevel)i;
            return 0;
        }
    }
    PGP_FAIL(err, PGP_ERR_CONFIG, "invalid log level \"%s\"", s);
    pgp_err_hint(err, "use error, warn, info or debug");
    return PGP_ERR_CONFIG;
}

/* A status line on the terminal (progress.c) is cleared first and not drawn again until the
 * line is out: the message gets a line of its own. */
static void write_line(const char *line)
{
    size_t len = strlen(line);
    progress_log_begin();
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, line, len);
        if (n <= 0)
            break; /* nowhere left to report a failing stderr */
        line += n;
        len -= (size_t)n;
    }
    progress_log_end();
}

void log_msg(LogLevel level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[2048];
    int used = snprintf(line, sizeof line, "pgpitr: %s: ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + used, sizeof line - (size_t)used - 1, fmt, ap);
    va_end(ap);
    if (sink_fn != NULL) {
        sink_fn(level, line);
        return;
    }
    strcat(line, "\n");
    write_line(line);
}

void log_error_report(const PgpErr *err)
{
    char line[PGP_ERR_MSG_MAX + PGP_ERR_HINT_MAX + 64];
    if (err->hint[0] != '\0')
        snprintf(line, sizeof line, "pgpitr: error: %s\nHINT: %s\n", err->msg, err->hint);
    else
        snprintf(line, sizeof line, "pgpitr: error: %s\n", err->msg);
    write_line(line);
}
