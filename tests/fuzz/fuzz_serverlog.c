/*
 * fuzz_serverlog.c - the PostgreSQL server log reader of drill (src/pg/serverlog.c): the log
 * of a server replaying WAL, which restore_command's stderr (and so anything archived) also
 * reaches. Input: the log file's bytes.
 * Properties: feeding the lines one by one, reading the file in one pg_server_log_poll, and
 * reading it in two polls split anywhere (a line half written at the first) all give the same
 * result; every text kept is NUL-terminated printable text; pg_server_log_tail returns the
 * last lines, cut and cleaned; pg_server_log_excerpt returns at most as many, each one of the
 * tail's lines when the file has no more lines than asked for.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <unistd.h>

#include "pgpitr/pg/pgserverlog.h"
#include "pgpitr/pg/walname.h"

static char log_path[80];

static void write_file(const uint8_t *data, size_t size, bool append)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0600);
    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size) || close(fd) != 0)
        abort();
}

static void check_text(const char *s, size_t size, const char *what)
{
    FUZZ_ASSERT(memchr(s, '\0', size) != NULL, "%s not terminated", what);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f, "control byte 0x%02x in %s", *p, what);
}

static void check_log(const PgServerLog *l)
{
    check_text(l->last_xact_text, sizeof l->last_xact_text, "last_xact_text");
    check_text(l->stop_text, sizeof l->stop_text, "stop_text");
    check_text(l->last_fatal, sizeof l->last_fatal, "last_fatal");
    check_text(l->last_tool_error, sizeof l->last_tool_error, "last_tool_error");
    check_text(l->last_error, sizeof l->last_error, "last_error");
    FUZZ_ASSERT(l->last_segment[0] == '\0' ||
                    (strlen(l->last_segment) == PG_WALNAME_SEG_LEN &&
                     pg_walname_parse(l->last_segment, NULL, NULL) == 0),
                "last segment \"%.30s\"", l->last_segment);
    FUZZ_ASSERT(l->segments_restored <= l->segments_fetched, "restored > fetched");
    FUZZ_ASSERT((l->segments_fetched == 0) == (l->last_segment[0] == '\0'), "segment counts");
}

static void check_same(const PgServerLog *a, const PgServerLog *b, const char *how)
{
    /* Field by field: the struct has padding. */
    FUZZ_ASSERT(a->segments_fetched == b->segments_fetched &&
                    a->segments_restored == b->segments_restored &&
                    a->history_restored == b->history_restored &&
                    strcmp(a->last_segment, b->last_segment) == 0 &&
                    a->has_redo_start == b->has_redo_start &&
                    a->redo_start_lsn == b->redo_start_lsn &&
                    a->has_redo_done == b->has_redo_done && a->redo_done_lsn == b->redo_done_lsn &&
                    a->has_last_xact == b->has_last_xact &&
                    (!a->has_last_xact || a->last_xact_us == b->last_xact_us) &&
                    strcmp(a->last_xact_text, b->last_xact_text) == 0 &&
                    strcmp(a->stop_text, b->stop_text) == 0 &&
                    a->new_timeline == b->new_timeline &&
                    a->archive_recovery_complete == b->archive_recovery_complete &&
                    a->ready == b->ready && strcmp(a->last_fatal, b->last_fatal) == 0 &&
                    strcmp(a->last_tool_error, b->last_tool_error) == 0 &&
                    strcmp(a->last_error, b->last_error) == 0 && a->lines == b->lines,
                "%s reads the log differently than feeding its lines", how);
}

static void check_tail(size_t lines_in_file)
{
    char **lines = NULL;
    size_t n = 0;
    PgpErr err;
    int rc = pg_server_log_tail(log_path, 3, &lines, &n, &err);
    FUZZ_ASSERT(rc == 0, "tail: %s", err.msg);
    FUZZ_ASSERT(n == (lines_in_file < 3 ? lines_in_file : 3), "tail gave %zu of %zu lines", n,
                lines_in_file);
    for (size_t i = 0; i < n; i++) {
        FUZZ_ASSERT(strlen(lines[i]) < PG_SERVER_LOG_TEXT_MAX, "tail line %zu too long", i);
        check_text(lines[i], strlen(lines[i]) + 1, "a tail line");
    }
    char **ex = NULL;
    size_t n_ex = 0;
    rc = pg_server_log_excerpt(log_path, 3, &ex, &n_ex, &err);
    FUZZ_ASSERT(rc == 0, "excerpt: %s", err.msg);
    FUZZ_ASSERT(n_ex <= n, "excerpt gave %zu lines, the tail %zu", n_ex, n);
    for (size_t i = 0; i < n_ex; i++) {
        check_text(ex[i], strlen(ex[i]) + 1, "an excerpt line");
        bool in_tail = false;
        for (size_t j = 0; j < n && lines_in_file <= 3; j++)
            in_tail = in_tail || strcmp(ex[i], lines[j]) == 0;
        FUZZ_ASSERT(in_tail || lines_in_file > 3, "excerpt line %zu is not in the file", i);
    }
    pg_server_log_tail_free(ex, n_ex);
    pg_server_log_tail_free(lines, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (log_path[0] == '\0')   /* tmpfs when there is one: a file per input is the slow part */
        snprintf(log_path, sizeof log_path, "%s/pgpitr-fuzz-serverlog.%ld",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
    PgServerLog fed, once, twice;
    pg_server_log_init(&fed);
    size_t start = 0, lines = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size && i == start)
            break;
        if (i == size || data[i] == '\n') {
            pg_server_log_feed(&fed, (const char *)data + start, i - start);
            lines++;
            start = i + 1;
        }
    }
    check_log(&fed);

    PgpErr err;
    write_file(data, size, false);
    pg_server_log_init(&once);
    FUZZ_ASSERT(pg_server_log_poll(&once, log_path, true, &err) == 0, "poll: %s", err.msg);
    check_same(&fed, &once, "one poll");
    FUZZ_ASSERT(once.offset == size, "offset %llu of %zu", (unsigned long long)once.offset, size);
    check_tail(lines);

    size_t cut = size > 0 ? (size_t)data[0] * size / 256 : 0;
    write_file(data, cut, false);
    pg_server_log_init(&twice);
    FUZZ_ASSERT(pg_server_log_poll(&twice, log_path, false, &err) == 0, "poll: %s", err.msg);
    write_file(data + cut, size - cut, true);
    FUZZ_ASSERT(pg_server_log_poll(&twice, log_path, true, &err) == 0, "poll: %s", err.msg);
    check_same(&fed, &twice, "two polls");
    unlink(log_path);
    return 0;
}
