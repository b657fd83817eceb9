/*
 * test_docs.c - the documentation's references resolve: every relative markdown link of
 * README.md and of the files in docs/ names a file that exists (and, with "#anchor", a
 * heading of it, as GitHub makes anchors), and every `docs/...` path written in backticks
 * exists. README once sent newcomers to a `docs/design.md` that was not there. Run from the
 * top directory (make check-unit does), like test_exit_status.c.
 */
#include <check.h>
#include <ctype.h>
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s (run from the top directory)", path);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int c;
    while ((c = fgetc(f)) != EOF)
        fputc(c, m);
    fclose(f);
    fclose(m);
    return buf;
}

/* GitHub's anchor of a heading: lowercase, letters, digits, '-' and '_' kept, spaces to '-',
 * everything else dropped. */
static void slug(const char *h, size_t len, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        unsigned char c = (unsigned char)h[i];
        if (isalnum(c) || c == '-' || c == '_')
            out[o++] = (char)tolower(c);
        else if (c == ' ')
            out[o++] = '-';
    }
    out[o] = '\0';
}

/* Whether the markdown file path has a heading (outside code fences) whose anchor is a. */
static bool has_anchor(const char *path, const char *a)
{
    char *text = slurp(path), s[256];
    bool found = false, fenced = false;
    for (char *line = text; line != NULL && *line != '\0' && !found;) {
        char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (strncmp(line, "```", 3) == 0)
            fenced = !fenced;
        else if (!fenced && line[0] == '#') {
            const char *h = line + strspn(line, "#");
            h += strspn(h, " ");
            slug(h, len - (size_t)(h - line), s, sizeof s);
            found = strcmp(s, a) == 0;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    free(text);
    return found;
}

static void check_target(const char *file, const char *target, size_t len)
{
    char ref[512], path[1024];
    ck_assert_uint_lt(len, sizeof ref);
    memcpy(ref, target, len);
    ref[len] = '\0';
    if (strchr(ref, ':') != NULL)       /* https:, mailto: */
        return;
    char *hash = strchr(ref, '#');
    if (hash != NULL)
        *hash++ = '\0';
    const char *slash = strrchr(file, '/');
    if (ref[0] == '\0')
        snprintf(path, sizeof path, "%s", file);
    else if (slash != NULL)
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - file), file, ref);
    else
        snprintf(path, sizeof path, "%s", ref);
    ck_assert_msg(access(path, F_OK) == 0, "%s links to \"%.*s\": %s does not exist", file,
                  (int)len, target, path);
    size_t pl = strlen(path);
    if (hash != NULL && pl > 3 && strcmp(path + pl - 3, ".md") == 0)
        ck_assert_msg(has_anchor(path, hash), "%s links to \"%.*s\": %s has no heading #%s",
                      file, (int)len, target, path, hash);
}

static void check_file(const char *file)
{
    char *text = slurp(file);
    for (const char *p = text; (p = strstr(p, "](")) != NULL;) {
        p += 2;
        size_t len = strcspn(p, ") \n");
        if (p[len] == ')')
            check_target(file, p, len);
    }
    /* `docs/x.md` written as a path in prose (top-level paths, relative to the top) */
    for (const char *p = text; (p = strstr(p, "`docs/")) != NULL;) {
        p++;
        size_t len = strcspn(p, "` \n");
        if (p[len] == '`')
            ck_assert_msg(len < 512 && access(strndupa(p, len), F_OK) == 0,
                          "%s names \"%.*s\", which does not exist", file, (int)len, p);
    }
    free(text);
}

START_TEST(references_resolve)
{
    check_file("README.md");
    glob_t g;
    ck_assert_int_eq(glob("docs/*.md", 0, NULL, &g), 0);
    ck_assert_uint_gt(g.gl_pathc, 5);
    for (size_t i = 0; i < g.gl_pathc; i++)
        check_file(g.gl_pathv[i]);
    globfree(&g);
}
END_TEST

Suite *suite_docs(void)
{
    Suite *s = suite_create("docs");
    TCase *tc = tcase_create("docs");
    tcase_add_test(tc, references_resolve);
    suite_add_tcase(s, tc);
    return s;
}
