/*
 * restore_keep_undo.c - the README and the undo.sh of a --keep-old directory
 * (restore_keep_undo.h). Builds text only; restore_keep.c writes it.
 *
 * Why a script and not a pgpitr command: the DBA who needs it may read every line of it
 * before running it, it needs nothing but POSIX sh and coreutils, and it is written, with
 * every path in it, before the restore changes anything: it is there even when pgpitr was
 * killed. Every path and name goes in as one single-quoted word, so no byte of it (quotes,
 * spaces, newlines, $) is ever interpreted by the shell.
 */
#include "pgpitr/restore/restore_keep_undo.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fixed part: the helpers and the state check. No path in it: they come after. */
static const char undo_functions[] =
    "there() { [ -e \"$1\" ] || [ -L \"$1\" ]; }\n"
    "\n"
    "# stopped DIR: refuses while postmaster.pid in DIR names a live process.\n"
    "stopped() {\n"
    "    pid=\n"
    "    if [ -f \"$1/postmaster.pid\" ]; then pid=$(head -n 1 \"$1/postmaster.pid\"); fi\n"
    "    case $pid in '' | *[!0-9]*) return 0 ;; esac\n"
    "    if [ -d \"/proc/$pid\" ]; then\n"
    "        echo \"undo.sh: a server is running in $1 (pid $pid): stop it first: pg_ctl -D $1 "
    "stop\" >&2\n"
    "        exit 1\n"
    "    fi\n"
    "}\n"
    "\n"
    "# clear_others ROOT NAME...: removes the entries of ROOT named none of NAME...\n"
    "clear_others() {\n"
    "    root=$1\n"
    "    shift\n"
    "    for e in \"$root\"/* \"$root\"/.[!.]* \"$root\"/..?*; do\n"
    "        there \"$e\" || continue\n"
    "        b=${e##*/}\n"
    "        listed=no\n"
    "        for n in \"$@\"; do\n"
    "            if [ \"$b\" = \"$n\" ]; then listed=yes; fi\n"
    "        done\n"
    "        if [ \"$listed\" = no ]; then rm -rf -- \"$e\"; fi\n"
    "    done\n"
    "}\n"
    "\n"
    "# remove_new ROOT NAME...: removes ROOT/NAME..., written by the restore where nothing was.\n"
    "remove_new() {\n"
    "    root=$1\n"
    "    shift\n"
    "    for n in \"$@\"; do rm -rf -- \"$root/$n\"; done\n"
    "}\n"
    "\n"
    "# put_back ROOT SAVED NAME...: each NAME still in SAVED replaces ROOT/NAME: renamed within\n"
    "# one file system (pgpitr fsynced the copies), else copied next to it, synced and renamed\n"
    "# into place (SAVED keeps its copy); then both directories are synced.\n"
    "put_back() {\n"
    "    root=$1\n"
    "    saved=$2\n"
    "    shift 2\n"
    "    mkdir -p -- \"$root\"\n"
    "    same=no\n"
    "    if [ \"$(stat -c %d -- \"$root\")\" = \"$(stat -c %d -- \"$saved\")\" ]; then same=yes; fi\n"
    "    for n in \"$@\"; do\n"
    "        there \"$saved/$n\" || continue\n"
    "        rm -rf -- \"$root/$n\" \"$root/.pgpitr-undo\"\n"
    "        if [ \"$same\" = yes ]; then\n"
    "            mv -- \"$saved/$n\" \"$root/$n\"\n"
    "        else\n"
    "            cp -a -- \"$saved/$n\" \"$root/.pgpitr-undo\"\n"
    "            sync -f -- \"$root\"\n"
    "            mv -- \"$root/.pgpitr-undo\" \"$root/$n\"\n"
    "        fi\n"
    "    done\n"
    "    sync -- \"$root\" \"$saved\"\n"
    "}\n"
    "\n"
    "# A restore holds these locks (flock) while it works: never undo under it, and no restore\n"
    "# starts while this runs.\n"
    "if command -v flock >/dev/null 2>&1; then\n"
    "    exec 9<\"$keep\"\n"
    "    if ! flock -n 9; then\n"
    "        echo \"undo.sh: a pgpitr restore is using $keep: let it end first\" >&2\n"
    "        exit 1\n"
    "    fi\n"
    "    if [ -d \"$pgdata\" ]; then\n"
    "        exec 8<\"$pgdata\"\n"
    "        if ! flock -n 8; then\n"
    "            echo \"undo.sh: a pgpitr restore is working in $pgdata: let it end first\" >&2\n"
    "            exit 1\n"
    "        fi\n"
    "    fi\n"
    "fi\n"
    "state=$(sed -n 's/^ *\"state\": *\"\\([a-z]*\\)\".*/\\1/p' \"$keep/keep-old.json\")\n"
    "case $state in\n"
    "kept | done) ;;\n"
    "copying)\n"
    "    echo \"undo.sh: the copy into $keep was never finished, so the restore changed nothing: nothing to undo\"\n"
    "    exit 0 ;;\n"
    "undone)\n"
    "    echo \"undo.sh: already done: the kept copy was put back\"\n"
    "    exit 0 ;;\n"
    "*)\n"
    "    echo \"undo.sh: cannot read the state from $keep/keep-old.json\" >&2\n"
    "    exit 1 ;;\n"
    "esac\n"
    "stopped \"$pgdata\"\n"
    "\n";

static const char undo_tail[] =
    "\n"
    "sed 's/^\\( *\"state\": *\\)\"[a-z]*\"/\\1\"undone\"/' \"$keep/keep-old.json\" "
    ">\"$keep/.keep-old.json.tmp\"\n"
    "mv -- \"$keep/.keep-old.json.tmp\" \"$keep/keep-old.json\"\n"
    "sync -- \"$keep\"\n"
    "echo \"undo.sh: $pgdata is back as it was before the restore (copied at $started)\"\n"
    "echo \"undo.sh: start the server: pg_ctl -D $pgdata start; remove $keep when no longer needed\"\n";

char *restore_keep_sh_quote(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\'';
    *o = '\0';
    return out;
}

/* s as one sh word on f (false when out of memory). */
static bool put_word(FILE *f, const char *s)
{
    char *q = restore_keep_sh_quote(s);
    if (q != NULL)
        fputs(q, f);
    free(q);
    return q != NULL;
}

/* " 'a' 'b' ..." */
static bool put_words(FILE *f, char *const *v, size_t n)
{
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        fputc(' ', f);
        ok = put_word(f, v[i]);
    }
    return ok;
}

static bool undo_root(FILE *f, const RestoreKeepUndoRoot *r)
{
    bool ok = true;
    const char *root = "\"$pgdata\"";
    if (r->oid != 0) {
        fprintf(f, "\n# tablespace %u: only the backup's entries; the location's others stay\n",
                (unsigned)r->oid);
        fputs("root=", f);
        ok = put_word(f, r->path);
        fputc('\n', f);
        root = "\"$root\"";
        if (r->n_absent > 0) {
            fprintf(f, "remove_new %s", root);
            ok = ok && put_words(f, r->absent, r->n_absent);
            fputc('\n', f);
        }
    } else {
        fputs("# the data directory: what the restore wrote goes, what was there comes back\n", f);
        fprintf(f, "clear_others %s", root);
        ok = put_words(f, r->kept, r->n_kept);
        fputc('\n', f);
    }
    fprintf(f, "put_back %s \"$keep\"/%s", root, r->saved);
    ok = ok && put_words(f, r->kept, r->n_kept);
    fprintf(f, "\nchmod %04o %s\n", r->mode & 07777, root);
    return ok;
}

/* Closes f, the memstream of *text (only then is *text final): *text, or NULL. */
static char *finish(FILE *f, char **text, bool ok)
{
    if (fclose(f) != 0 || !ok) {
        free(*text);
        return NULL;
    }
    return *text;
}

char *restore_keep_undo_text(const char *dir, const char *started,
                             const RestoreKeepUndoRoot *roots, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL || n == 0)
        return f != NULL ? finish(f, &text, false) : NULL;
    fputs("#!/bin/sh\n"
          "# undo.sh - written by `pgpitr restore --delta --keep-old` before that restore changed\n"
          "# anything. Puts the data directory and the tablespace entries kept beside this script\n"
          "# back as they were, and removes what the restore wrote in their place. Run it with the\n"
          "# restored server stopped, as the server's OS user (or root):\n"
          "#     sh ", f);
    char *undo = NULL;
    bool ok = asprintf(&undo, "%s/undo.sh", dir) >= 0 && put_word(f, undo);
    free(undo);
    fputs("\n# An interrupted run can be run again. Nothing but the paths below is touched.\n"
          "set -eu\nkeep=", f);
    ok = ok && put_word(f, dir);
    fputs("\nstarted=", f);
    ok = ok && put_word(f, started);
    fputs("\npgdata=", f);
    ok = ok && put_word(f, roots[0].path);
    fputs("\n\n", f);
    fputs(undo_functions, f);
    for (size_t i = 0; i < n && ok; i++)
        ok = undo_root(f, &roots[i]);
    fputs(undo_tail, f);
    return finish(f, &text, ok);
}

char *restore_keep_readme_text(const char *dir, const char *started,
                               const RestoreKeepUndoRoot *roots, size_t n)
{
    char *text = NULL, *d = restore_keep_sh_quote(dir), *p = NULL;
    size_t len = 0;
    FILE *f = d != NULL && n > 0 ? open_memstream(&text, &len) : NULL;
    bool ok = f != NULL && (p = restore_keep_sh_quote(roots[0].path)) != NULL;
    if (f == NULL || !ok) {
        free(d);
        return f != NULL ? finish(f, &text, false) : NULL;
    }
    fprintf(f, "pgpitr restore --delta --keep-old\n\n"
            "A copy of what `pgpitr restore --delta` could change or remove, made before it\n"
            "changed anything (the copy began at %s):\n\n"
            "  pgdata/              the data directory %s\n", started, p);
    for (size_t i = 1; i < n && ok; i++) {
        char saved[48];
        snprintf(saved, sizeof saved, "%s/", roots[i].saved);
        fprintf(f, "  %-20s", saved);
        ok = put_words(f, roots[i].kept, roots[i].n_kept);
        fprintf(f, "%s in tablespace %u's location ", roots[i].n_kept > 0 ? "" : " (nothing)",
                (unsigned)roots[i].oid);
        ok = ok && put_word(f, roots[i].path);
        fputc('\n', f);
    }
    fprintf(f, "  undo.sh              puts the copy back\n"
            "  keep-old.json        the state: \"copying\" (the copy was not finished and the\n"
            "                       restore changed nothing), \"kept\" (complete), \"done\" (the\n"
            "                       restore finished), \"undone\" (undo.sh put it back)\n\n"
            "To go back to the data directory as it was before the restore:\n\n"
            "  pg_ctl -D %s stop        # the restored server, if it runs\n"
            "  sh %s/undo.sh\n"
            "  pg_ctl -D %s start\n\n"
            "undo.sh removes what the restore wrote there and puts the kept entries back: moved\n"
            "when this directory is on the same file system (it is then left empty), copied\n"
            "otherwise. An interrupted undo.sh can be run again. pgpitr never removes this\n"
            "directory: remove it once you no longer need it. Details: pgpitr's docs/pitr.md.\n",
            p, d, p);
    free(d);
    free(p);
    return finish(f, &text, ok);
}
