/*
 * fx_dir.c - scratch directories for unit suites (fx_dir.h).
 */
#include "fx_dir.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

void fx_dir_make(char *dir, size_t size, const char *tag)
{
    snprintf(dir, size, "/tmp/pgpitr_%s.XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

void fx_dir_remove(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

void fx_dir_put(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}
