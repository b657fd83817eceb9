/*
 * drill_next.h - what the DBA does after a drill: where its report is, and the next step that
 * works for the way it ended, as commands to copy (docs/drill.md, "When a drill fails"):
 *   - files kept (--keep) and the server recovered: start the kept server, connect to it with
 *     psql through its private socket, stop it, remove the work directory;
 *   - files kept, recovery did not finish: the server log, and how to remove the directory;
 *   - files removed, the server recovered and a check failed: the same drill again with --keep;
 *   - files removed, recovery did not finish: the failure's own HINT, `pgpitr verify` when
 *     restore_command failed, the same drill again with --keep to keep the whole server log.
 * Pure formatting: no file, no process, no repository.
 */
#ifndef PGPITR_DRILL_NEXT_H
#define PGPITR_DRILL_NEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pgpitr/drill/drill_report.h"

typedef struct DrillNext {
    const char *exe;             /* this pgpitr as a command ("/usr/bin/pgpitr") */
    const char *const *globals;  /* the global options as given ("--repo", "/var/lib/pgpitr") */
    size_t n_globals;
    char *const *args;           /* the drill's own arguments, after "drill" */
    size_t n_args;
    const char *repo_path;       /* the repository, for the report's path; NULL: unknown */
    bool stored;                 /* the report is in the repository */
    const char *report_file;     /* --report FILE, NULL if none */
    const char *bin_dir;         /* PostgreSQL binaries of the drill server */
    const char *port, *db;       /* its port (private socket) and maintenance database */
    const char *db_user;         /* --db-user, NULL if none */
    const char *os_user;         /* the OS user who owns the kept files; NULL: unknown */
    const char *label;           /* the backup restored; NULL or "" if none */
    bool server_ran;             /* the drill server was started (its log exists) */
    bool tool_error;             /* restore_command (pgpitr archive-get) reported an error */
    bool corrupt;                /* the restore stopped at a damaged object of the backup */
    const char *hint;            /* the first error's HINT, NULL or "" if none */
} DrillNext;

/* The "report:" line and, when there is one, the "next:" lines, for the text summary. */
void drill_next_print(const DrillNext *n, const DrillReport *r, FILE *out);

/* The failed drill's HINT: its next step in one line, then where the report is. */
void drill_next_hint(const DrillNext *n, const DrillReport *r, char *out, size_t size);

/* s as one POSIX shell word (unchanged when it needs no quoting, else in single quotes),
 * appended to out. */
void drill_shell_word(FILE *out, const char *s);

#endif
