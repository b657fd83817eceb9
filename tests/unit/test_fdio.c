/*
 * test_fdio.c - fd_write_all (src/common/fdio.c): a large buffer written whole at the file
 * offset, or at a given offset with the file offset left where it was; a full disk (/dev/full)
 * and a bad descriptor give their errno and the bytes written. fd_opendir: two streams of one
 * directory read it each from its start; a symbolic link is not followed. fd_replace_file:
 * the file replaced whole, with its mode, durable or not, no temporary file left, and a
 * failed replacement (a directory in the way, a name too long) leaves the old file and nothing
 * else.
 */
#include "pgpitr/common/fdio.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fx_dir.h"

#define BIG (3u << 20)

START_TEST(writes_whole_buffers_at_the_offset_or_in_place)
{
    char dir[64], path[128];
    fx_dir_make(dir, sizeof dir, "fdio");
    snprintf(path, sizeof path, "%s/f", dir);
    unsigned char *buf = malloc(BIG), *back = malloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = (unsigned char)(i * 31 + i / 7);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    size_t n = 0;
    ck_assert_int_eq(fd_write_all(fd, buf, BIG, -1, &n), 0);
    ck_assert_uint_eq(n, BIG);
    ck_assert_int_eq((int)lseek(fd, 0, SEEK_CUR), (int)BIG);
    /* in place: bytes 1 MiB .. 1 MiB + 10 replaced, the file offset unchanged */
    ck_assert_int_eq(fd_write_all(fd, "0123456789", 10, 1u << 20, &n), 0);
    ck_assert_uint_eq(n, 10);
    ck_assert_int_eq((int)lseek(fd, 0, SEEK_CUR), (int)BIG);
    memcpy(buf + (1u << 20), "0123456789", 10);
    ck_assert_int_eq((int)pread(fd, back, BIG, 0), (int)BIG);
    ck_assert(memcmp(back, buf, BIG) == 0);
    ck_assert_int_eq(fd_write_all(fd, buf, 0, -1, NULL), 0);   /* nothing to write */
    close(fd);
    free(buf);
    free(back);
    fx_dir_remove(dir);
}
END_TEST

START_TEST(a_full_disk_and_a_bad_descriptor_are_errors)
{
    int fd = open("/dev/full", O_WRONLY);
    ck_assert_int_ge(fd, 0);
    size_t n = 99;
    ck_assert_int_eq(fd_write_all(fd, "abc", 3, -1, &n), ENOSPC);
    ck_assert_uint_eq(n, 0);
    close(fd);
    ck_assert_int_eq(fd_write_all(-1, "abc", 3, -1, &n), EBADF);
    ck_assert_int_eq(fd_write_all(-1, "abc", 3, 5, NULL), EBADF);
}
END_TEST

static int count_entries(DIR *d)
{
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(directory_streams_have_their_own_position)
{
    char dir[64];
    fx_dir_make(dir, sizeof dir, "fdio_dir");
    fx_dir_put(dir, "a", "1");
    fx_dir_put(dir, "b", "2");
    char sub[128], link[128];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    ck_assert_int_eq(symlink(sub, link), 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(dfd, 0);
    ck_assert_int_eq(count_entries(fd_opendir(dfd, ".")), 4);   /* a, b, sub, link */
    ck_assert_int_eq(count_entries(fd_opendir(dfd, ".")), 4);   /* again from the start */
    ck_assert_int_eq(count_entries(fd_opendir(dfd, "sub")), 0);
    errno = 0;
    ck_assert_ptr_null(fd_opendir(dfd, "link"));     /* not followed (Linux: ENOTDIR) */
    ck_assert(errno == ELOOP || errno == ENOTDIR);
    ck_assert_ptr_null(fd_opendir(dfd, "a"));
    ck_assert_int_eq(errno, ENOTDIR);
    close(dfd);
    fx_dir_remove(dir);
}
END_TEST

/* The names in dir, sorted and joined by spaces. */
static void names(const char *dir, char *out, size_t size)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort);
    ck_assert_int_ge(n, 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t used = strlen(out);
        if (list[i]->d_name[0] != '.' || strlen(list[i]->d_name) > 2) {
            int w = snprintf(out + used, size - used, "%s ", list[i]->d_name);
            ck_assert(w > 0 && (size_t)w < size - used);
        }
        free(list[i]);
    }
    free(list);
}

START_TEST(replace_file_is_whole_or_nothing)
{
    char dir[64], path[128], got[256];
    fx_dir_make(dir, sizeof dir, "fdio");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(dfd, 0);
    ck_assert_int_eq(fd_replace_file(dfd, "state", "old\n", 4, 0600, true), 0);
    ck_assert_int_eq(fd_replace_file(dfd, "state", "new text\n", 9, 0640, false), 0);
    snprintf(path, sizeof path, "%s/state", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[n] = '\0';
    ck_assert_str_eq(got, "new text\n");
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0640);
    /* a directory in the way: the rename fails, the temporary file is removed */
    ck_assert_int_eq(mkdirat(dfd, "busy", 0700), 0);
    ck_assert_int_eq(mkdirat(dfd, "busy/inside", 0700), 0);
    ck_assert_int_ne(fd_replace_file(dfd, "busy", "x", 1, 0600, true), 0);
    char longname[300];
    memset(longname, 'n', 280);
    longname[280] = '\0';
    ck_assert_int_eq(fd_replace_file(dfd, longname, "x", 1, 0600, true), ENAMETOOLONG);
    names(dir, got, sizeof got);
    ck_assert_str_eq(got, "busy state ");
    close(dfd);
    fx_dir_remove(dir);
}
END_TEST

Suite *suite_fdio(void)
{
    Suite *s = suite_create("fdio");
    TCase *tc = tcase_create("fdio");
    tcase_add_test(tc, writes_whole_buffers_at_the_offset_or_in_place);
    tcase_add_test(tc, a_full_disk_and_a_bad_descriptor_are_errors);
    tcase_add_test(tc, directory_streams_have_their_own_position);
    tcase_add_test(tc, replace_file_is_whole_or_nothing);
    suite_add_tcase(s, tc);
    return s;
}
