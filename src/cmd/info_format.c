/*
 * info_format.c - the text formatting `pgpitr info` shares (info.h, info_text_impl.h): sizes,
 * durations, ages, lines wrapped at INFO_WIDTH, segment names. Pure; unit tested.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pgpitr/cmd/info.h"
#include "info_text_impl.h"

#define LINE_MAX_BYTES 2048

/* ---- helpers ------------------------------------------------------------------------------- */

void info_format_size(uint64_t bytes, char out[INFO_SIZE_MAX])
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(out, INFO_SIZE_MAX, "%" PRIu64 " B", bytes);
        return;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    /* move up when the rounded value would print as 1024.0 */
    while (u + 1 < sizeof units / sizeof units[0] && v >= 1023.95) {
        v /= 1024.0;
        u++;
    }
    snprintf(out, INFO_SIZE_MAX, "%.1f %s", v, units[u]);
}

void info_format_duration(int64_t secs, char out[INFO_DURATION_MAX])
{
    if (secs < 0)
        snprintf(out, INFO_DURATION_MAX, "-");
    else if (secs < 60)
        snprintf(out, INFO_DURATION_MAX, "%" PRId64 "s", secs);
    else if (secs < 3600)
        snprintf(out, INFO_DURATION_MAX, "%" PRId64 "m %02" PRId64 "s", secs / 60, secs % 60);
    else if (secs < 86400)
        snprintf(out, INFO_DURATION_MAX, "%" PRId64 "h %02" PRId64 "m", secs / 3600,
                 secs % 3600 / 60);
    else
        snprintf(out, INFO_DURATION_MAX, "%" PRId64 "d %02" PRId64 "h", secs / 86400,
                 secs % 86400 / 3600);
}

void info_format_age(int64_t now, int64_t then, char out[INFO_DURATION_MAX + 16])
{
    char d[INFO_DURATION_MAX];
    if (now == then) {
        snprintf(out, INFO_DURATION_MAX + 16, "just now");
        return;
    }
    info_format_duration(now > then ? now - then : then - now, d);
    snprintf(out, INFO_DURATION_MAX + 16, "%s %s", d, now > then ? "ago" : "in the future");
}

void info_print_wrapped(FILE *out, size_t width, size_t indent, const char *text)
{
    size_t col, lead = 0;
    if (indent + 8 >= width)   /* programmer error: keep the loop finite anyway */
        indent = 0;
    while (text[lead] == ' ')
        lead++;
    fwrite(text, 1, lead, out);         /* the first line keeps its own indentation */
    col = lead;
    const char *p = text + lead;
    bool first_word = true;
    while (*p != '\0') {
        size_t gap = strspn(p, " ");     /* spaces inside a line are kept (alignment) */
        p += gap;
        if (*p == '\0')
            break;
        size_t n = strcspn(p, " ");
        const char *word = p;
        p += n;
        while (n > 0) {
            size_t sep = first_word ? 0 : gap;
            size_t avail = width > col + sep ? width - col - sep : 0;
            if ((!first_word && n > avail) || avail == 0) {   /* go on on the next line */
                fprintf(out, "\n%*s", (int)indent, "");
                col = indent;
                first_word = true;
                continue;
            }
            size_t take = n < avail ? n : avail;   /* a word longer than a line is cut */
            fprintf(out, "%*s", (int)sep, "");
            fwrite(word, 1, take, out);
            col += sep + take;
            word += take;
            n -= take;
            first_word = false;
        }
    }
    fputc('\n', out);
}

void info_line(FILE *out, size_t indent, const char *fmt, ...)
{
    char buf[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    info_print_wrapped(out, INFO_WIDTH, indent, buf);
}

void info_segname(const Info *info, uint32_t tli, uint64_t segno, char out[PG_WALNAME_SEG_LEN + 1])
{
    pg_walname_format(tli, segno, info->cat.id.wal_segsize, out);
}
