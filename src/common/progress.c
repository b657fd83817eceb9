/*
 * progress.c - the status line of a phase on a terminal and its final line (progress.h).
 *
 * One mutex guards the terminal: a draw and a log line (log.c) never interleave, and
 * `shown` says whether a status line is on the screen to be cleared. Drawing is rate limited
 * by the caller's thread (progress_tick), so workers pay an atomic add and nothing else.
 * Everything goes to stderr with write(): stdout is the command's output.
 */
#include "pgpitr/common/progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pgpitr/common/log.h"

#define MIB 1048576.0
#define CLEAR "\r\033[K"

static pthread_mutex_t term_lock = PTHREAD_MUTEX_INITIALIZER;
static bool shown;   /* a status line is on the terminal (under term_lock) */

/* ---- formatting (pure) --------------------------------------------------------------------- */

typedef struct Line {
    char *out;
    size_t size, len;
    int parts;
} Line;

static void add(Line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(Line *l, const char *fmt, ...)
{
    if (l->len + 1 >= l->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->out + l->len, l->size - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len = l->len + (size_t)n < l->size ? l->len + (size_t)n : l->size - 1;
}

/* A part of the line after "cmd: phase: ", separated by ", ". */
static void part(Line *l)
{
    add(l, "%s", l->parts++ == 0 ? ": " : ", ");
}

static void line_start(Line *l, const ProgressView *v, char *out, size_t size)
{
    *l = (Line){.out = out, .size = size};
    if (size > 0)
        out[0] = '\0';
    add(l, "%s: %s", v->cmd != NULL ? v->cmd : "", v->phase != NULL ? v->phase : "");
}

static double rate(const ProgressView *v)
{
    return v->seconds > 0 ? (double)v->bytes / v->seconds : 0;
}

/* "42s", "3m07s", "2h05m". */
static void add_eta(Line *l, double s)
{
    unsigned long t = (unsigned long)(s + 0.5);
    if (t < 60)
        add(l, "ETA %lus", t);
    else if (t < 3600)
        add(l, "ETA %lum%02lus", t / 60, t % 60);
    else
        add(l, "ETA %luh%02lum", t / 3600, t / 60 % 60);
}

void progress_format_status(const ProgressView *v, char *out, size_t size)
{
    Line l;
    line_start(&l, v, out, size);
    if (v->unit != NULL) {
        part(&l);
        if (v->items_total > 0)
            add(&l, "%llu/%llu %s", (unsigned long long)v->items,
                (unsigned long long)v->items_total, v->unit);
        else
            add(&l, "%llu %s", (unsigned long long)v->items, v->unit);
    }
    if (v->bytes > 0 || v->bytes_total > 0) {
        part(&l);
        if (v->bytes_total > 0)
            add(&l, "%.1f/%.1f MiB (%d%%)", (double)v->bytes / MIB, (double)v->bytes_total / MIB,
                v->bytes >= v->bytes_total ? 100
                                           : (int)(100.0 * (double)v->bytes / (double)v->bytes_total));
        else
            add(&l, "%.1f MiB", (double)v->bytes / MIB);
        part(&l);
        add(&l, "%.1f MiB/s", rate(v) / MIB);
        if (v->bytes_total > v->bytes && rate(v) > 0) {
            part(&l);
            add_eta(&l, (double)(v->bytes_total - v->bytes) / rate(v));
        }
    } else if (v->unit == NULL) {
        part(&l);
        add(&l, "%.0f s", v->seconds);
    }
    if (v->extra != NULL && v->extra[0] != '\0') {
        part(&l);
        add(&l, "%s", v->extra);
    }
}

void progress_format_done(const ProgressView *v, char *out, size_t size)
{
    Line l;
    line_start(&l, v, out, size);
    if (v->unit != NULL) {
        part(&l);
        add(&l, "%llu %s", (unsigned long long)v->items, v->unit);
    }
    if (v->bytes > 0) {
        part(&l);
        add(&l, "%.1f MiB in %.1f s", (double)v->bytes / MIB, v->seconds);
        part(&l);
        add(&l, "%.1f MiB/s", rate(v) / MIB);
    } else {
        part(&l);
        add(&l, "%.1f s", v->seconds);
    }
    if (v->extra != NULL && v->extra[0] != '\0') {
        part(&l);
        add(&l, "%s", v->extra);
    }
}

bool progress_due(double last, double now)
{
    return last == 0 || now - last >= PROGRESS_INTERVAL || now < last;
}

bool progress_wanted(ProgressMode mode, bool quiet)
{
    if (mode != PROGRESS_AUTO)
        return mode == PROGRESS_ON;
    return !quiet && isatty(STDERR_FILENO) == 1;
}

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the terminal -------------------------------------------------------------------------- */

static void write_all(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, s, len);
        if (n <= 0)
            return;   /* a status line is not worth failing for */
        s += n;
        len -= (size_t)n;
    }
}

static void view(Progress *p, ProgressView *v, double now)
{
    *v = (ProgressView){.cmd = p->cmd, .phase = p->phase, .unit = p->unit,
                        .bytes = atomic_load_explicit(&p->bytes, memory_order_relaxed),
                        .bytes_total = p->bytes_total,
                        .items = atomic_load_explicit(&p->items, memory_order_relaxed),
                        .items_total = p->items_total, .seconds = now - p->started,
                        .extra = p->extra};
}

static void draw(Progress *p, double now)
{
    ProgressView v;
    char text[PROGRESS_LINE_MAX], line[PROGRESS_LINE_MAX + 8];
    view(p, &v, now);
    progress_format_status(&v, text, sizeof text);
    int n = snprintf(line, sizeof line, CLEAR "%s", text);
    pthread_mutex_lock(&term_lock);
    write_all(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    shown = true;
    pthread_mutex_unlock(&term_lock);
    p->last_draw = now;
}

void progress_begin(Progress *p, bool tty, const char *cmd, const char *phase, const char *unit,
                    uint64_t bytes_total, uint64_t items_total)
{
    p->tty = tty;
    p->cmd = cmd;
    p->phase = phase;
    p->unit = unit;
    p->bytes_total = bytes_total;
    p->items_total = items_total;
    atomic_store(&p->bytes, 0);
    atomic_store(&p->items, 0);
    p->extra[0] = '\0';
    p->started = progress_now();
    p->last_draw = 0;   /* the first tick draws */
}

void progress_add(Progress *p, uint64_t bytes, uint64_t items)
{
    atomic_fetch_add_explicit(&p->bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->items, items, memory_order_relaxed);
}

void progress_set(Progress *p, uint64_t bytes, uint64_t items)
{
    atomic_store_explicit(&p->bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&p->items, items, memory_order_relaxed);
}

void progress_note(Progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->extra, sizeof p->extra, fmt, ap);
    va_end(ap);
}

void progress_tick(Progress *p)
{
    if (!p->tty || p->cmd == NULL)
        return;
    double now = progress_now();
    if (progress_due(p->last_draw, now))
        draw(p, now);
}

void progress_end(Progress *p)
{
    if (p->cmd == NULL)
        return;
    ProgressView v;
    char text[PROGRESS_LINE_MAX], line[PROGRESS_LINE_MAX + 8];
    view(p, &v, progress_now());
    progress_format_done(&v, text, sizeof text);
    if (p->tty) {
        int n = snprintf(line, sizeof line, CLEAR "%s\n", text);
        pthread_mutex_lock(&term_lock);
        write_all(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        shown = false;
        pthread_mutex_unlock(&term_lock);
    } else {
        log_info("%s", text);
    }
    p->cmd = NULL;
}

void progress_log_begin(void)
{
    pthread_mutex_lock(&term_lock);
    if (shown)
        write_all(CLEAR, sizeof CLEAR - 1);
    shown = false;
}

void progress_log_end(void)
{
    pthread_mutex_unlock(&term_lock);
}
