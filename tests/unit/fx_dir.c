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

void fx_flip_bit(const char *dir, const char *name, long off)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    long at = off == FX_FLIP_MIDDLE ? size / 2 : off < 0 ? size + off : off;
    ck_assert_msg(at >= 0 && at < size, "%s: byte %ld is past its %ld bytes", path, at, size);
    ck_assert_int_eq(fseek(f, at, SEEK_SET), 0);
    int c = fgetc(f);
    ck_assert_int_ne(c, EOF);
    ck_assert_int_eq(fseek(f, at, SEEK_SET), 0);
    ck_assert_int_ne(fputc(c ^ FX_FLIP_MASK, f), EOF);
    ck_assert_int_eq(fclose(f), 0);
}
