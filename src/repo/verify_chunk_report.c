/*
 * verify_chunk_report.c - the problems of files stored as chunks (verify_impl.h), from what
 * verify_chunks_run found: a chunk list that cannot be used (backup_chunk_list: the file is
 * broken in every backup referencing the list), a list that does not describe one entry
 * (backup_chunk_list for that file and backup), and a missing or damaged chunk (backup_chunk:
 * every file using it, with the chunk's number and byte range, and the backups holding it).
 * Each problem also lists every file it breaks (VerifyProblem.files, "files" in JSON).
 * Reads nothing, prints nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgpitr/common/err.h"
#include "verify_impl.h"

/* At most this many files are named in one breaks line; the backups list stays complete. */
#define NAMED_FILES_MAX 16

/* r's entry, unpacked into u (its path and chunk list point into the catalog's pack). */
static const ManifestEntry *entry_of(const VerifyAnalysis *a, const VerifyChunkRef *r,
                                     ManifestUnpacked *u)
{
    return verify_chunk_ref_entry(a->c, r, u);
}

static bool same_file(const ManifestEntry *x, const ManifestEntry *y)
{
    return x->tablespace == y->tablespace && strcmp(x->path, y->path) == 0;
}

static bool skipped(const VerifyChunks *v, size_t r, bool skip_bad)
{
    return skip_bad && v->ref_error != NULL && v->ref_error[r] != NULL;
}

/* One file (refs [i, j) of one list, n of them not skipped): `chunk 3 (bytes a..b) of file
 * "base/5/16396" (tablespace 0) in backups "A", "B"`. */
static void name_file(const VerifyAnalysis *a, const VerifyChunks *v, size_t i, size_t j,
                      size_t n, size_t index, bool skip_bad, FILE *f)
{
    ManifestUnpacked u;
    const ManifestEntry *e = entry_of(a, &v->refs[i], &u);
    char q[PGP_QUOTE_BUF];
    if (index != SIZE_MAX) {
        uint64_t cs = (uint64_t)1 << e->chunk_shift, off = (uint64_t)index * cs;
        uint64_t end = off + cs < e->size ? off + cs : e->size;
        fprintf(f, "chunk %zu (bytes %llu..%llu) of ", index, (unsigned long long)off,
                (unsigned long long)end - 1);
    }
    fprintf(f, "file \"%s\" (tablespace %u) in backup%s", pgp_quote(e->path, q), e->tablespace,
            n == 1 ? "" : "s");
    for (size_t r = i, shown = 0; r < j; r++)
        if (!skipped(v, r, skip_bad))
            fprintf(f, "%s \"%s\"", shown++ == 0 ? "" : ",",
                    a->c->backups[v->refs[r].backup].label);
}

/* Records the file of refs [i, j) (n of them not skipped) in p->files. */
static void record_file(VerifyAnalysis *a, const VerifyChunks *v, size_t i, size_t j, size_t n,
                        size_t index, bool skip_bad, VerifyProblem *p)
{
    ManifestUnpacked u;
    const ManifestEntry *e = entry_of(a, &v->refs[i], &u);
    VerifyProblemFile *nf = realloc(p->files, (p->n_files + 1) * sizeof *nf);
    const char **labels = malloc(n * sizeof *labels);
    if (nf != NULL)
        p->files = nf;
    if (nf == NULL || labels == NULL) {
        free(labels);
        a->nomem = true;
        return;
    }
    VerifyProblemFile *f = &p->files[p->n_files++];
    *f = (VerifyProblemFile){.path = e->path, .tablespace = e->tablespace,
                             .has_chunk = index != SIZE_MAX, .backups = labels};
    if (f->has_chunk) {
        uint64_t cs = (uint64_t)1 << e->chunk_shift;
        f->chunk = index;
        f->offset = (uint64_t)index * cs;
        f->length = f->offset + cs < e->size ? cs : e->size - f->offset;
    }
    for (size_t r = i; r < j; r++)
        if (!skipped(v, r, skip_bad))
            labels[f->n_backups++] = a->c->backups[v->refs[r].backup].label;
}

/* Names the files of refs [from, to) of one list (adjacent refs of one file are the backups
 * holding it) into f, "; " between files, each with chunk `index` unless it is SIZE_MAX;
 * refs whose entry the list does not describe (reported on their own) are skipped when
 * skip_bad. Every backup named is made unrestorable by p. *named counts the files named so
 * far (at most NAMED_FILES_MAX), *more those left out. */
static void name_files(VerifyAnalysis *a, const VerifyChunks *v, size_t from, size_t to,
                       size_t index, bool skip_bad, FILE *f, VerifyProblem *p, size_t *named,
                       size_t *more)
{
    for (size_t i = from; i < to;) {
        ManifestUnpacked u, uj;
        const ManifestEntry *e = entry_of(a, &v->refs[i], &u);
        size_t j = i, n = 0;
        for (; j < to && same_file(entry_of(a, &v->refs[j], &uj), e); j++)
            if (!skipped(v, j, skip_bad)) {
                n++;
                verify_add_backup(a, p, v->refs[j].backup);
            }
        if (n > 0)
            record_file(a, v, i, j, n, index, skip_bad, p);
        if (n > 0 && *named >= NAMED_FILES_MAX)
            ++*more;
        else if (n > 0) {
            fprintf(f, "%s", *named > 0 ? "; " : "");
            name_file(a, v, i, j, n, index, skip_bad, f);
            ++*named;
        }
        i = j;
    }
}

/* Closes f and makes the breaks line of p: "<files> can no longer be restored<tail>". */
static void set_breaks(VerifyAnalysis *a, VerifyProblem *p, FILE *f, char **textp,
                       size_t more, const char *tail)
{
    int closed = fclose(f);   /* sets *textp */
    char *text = *textp;
    if (closed != 0 || text == NULL) {
        a->nomem = true;
        free(text);
        return;
    }
    if (more > 0)
        p->breaks = verify_fmt(a, "%s (and %zu more file%s) can no longer be restored%s", text,
                               more, more == 1 ? "" : "s", tail);
    else
        p->breaks = verify_fmt(a, "%s can no longer be restored%s", text, tail);
    free(text);
}

/* Opens the memory stream the breaks line is written to. */
static FILE *breaks_stream(VerifyAnalysis *a, char **text, size_t *len)
{
    *text = NULL;
    FILE *f = open_memstream(text, len);
    if (f == NULL)
        a->nomem = true;
    return f;
}

static void list_problem(VerifyAnalysis *a, const VerifyChunks *v, size_t k)
{
    size_t from = v->list_first[k], to = v->list_first[k + 1], named = 0, more = 0, len;
    ManifestUnpacked u;
    const char *path = entry_of(a, &v->refs[from], &u)->chunk_list;
    VerifyProblem *p = verify_add(a, true, "backup_chunk_list", verify_fmt(a, "%s", path),
                                  verify_fmt(a, "backup chunk list \"%s\" cannot be used: %s",
                                             path, v->list_error[k]),
                                  NULL, 0);
    char *text;
    FILE *f = p != NULL ? breaks_stream(a, &text, &len) : NULL;
    if (f == NULL)
        return;
    name_files(a, v, from, to, SIZE_MAX, false, f, p, &named, &more);
    set_breaks(a, p, f, &text, more, " (its chunks were not checked)");
}

/* One entry the list (loaded for another file) does not describe. */
static void ref_problem(VerifyAnalysis *a, const VerifyChunks *v, size_t r)
{
    ManifestUnpacked u;
    const ManifestEntry *e = entry_of(a, &v->refs[r], &u);
    const char *label = a->c->backups[v->refs[r].backup].label;
    char q[PGP_QUOTE_BUF];
    pgp_quote(e->path, q);   /* before the calls: their arguments are evaluated in any order */
    VerifyProblem *p = verify_add(
        a, true, "backup_chunk_list", verify_fmt(a, "%s", e->chunk_list),
        verify_fmt(a, "backup \"%s\": file \"%s\": backup chunk list \"%s\" does not describe "
                      "it: %s", label, q, e->chunk_list, v->ref_error[r]),
        verify_fmt(a, "file \"%s\" (tablespace %u) in backup \"%s\" can no longer be restored",
                   q, e->tablespace, label),
        0);
    verify_add_backup(a, p, v->refs[r].backup);
    if (p != NULL)
        record_file(a, v, r, r + 1, 1, SIZE_MAX, false, p);
}

/* Bad chunk b, used as hits[h, end). */
static void chunk_problem(VerifyAnalysis *a, const VerifyChunks *v, const VerifyChunkBad *b,
                          size_t h, size_t end)
{
    char path[REPO_PATH_MAX];
    const VerifyChunk *ch = &b->ch;
    if (verify_chunk_path(ch, v->key, path, NULL) != 0)
        snprintf(path, sizeof path, "(unnamed)");
    size_t named = 0, more = 0, len;
    VerifyProblem *p = verify_add(
        a, true, "backup_chunk", verify_fmt(a, "%s", path),
        verify_fmt(a, "backup chunk object \"%s\" is %s: %s", path,
                   verify_status_name((VerifyStatus)ch->status),
                   b->reason != NULL ? b->reason : ""),
        NULL, 0);
    char *text;
    FILE *f = p != NULL ? breaks_stream(a, &text, &len) : NULL;
    if (f == NULL)
        return;
    for (; h < end; h++) {
        size_t k = v->hits[h].list;
        name_files(a, v, v->list_first[k], v->list_first[k + 1], v->hits[h].index, true, f, p,
                   &named, &more);
    }
    if (named == 0 && more == 0)
        fprintf(f, "the files using it (their lists could not be read again)");
    set_breaks(a, p, f, &text, more, "");
}

void verify_check_chunks(VerifyAnalysis *a)
{
    const VerifyChunks *v = &a->plan->chunks;
    if (!v->ran || v->list_error == NULL)
        return;
    for (size_t k = 0; k < v->n_lists && !a->nomem; k++)
        if (v->list_error[k] != NULL)
            list_problem(a, v, k);
    for (size_t r = 0; r < v->n_refs && !a->nomem; r++)
        if (v->ref_error[r] != NULL)
            ref_problem(a, v, r);
    size_t h = 0;
    for (size_t i = 0; i < v->n_bad && !a->nomem; i++) {
        const VerifyChunkBad *b = &v->bad[i];
        while (h < v->n_hits && v->hits[h].chunk < b->chunk)
            h++;
        size_t end = h;
        while (end < v->n_hits && v->hits[end].chunk == b->chunk)
            end++;
        chunk_problem(a, v, b, h, end);
        h = end;
    }
}
