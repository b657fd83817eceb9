/*
 * test_sdnotify.c - the sd_notify datagram (src/common/sdnotify.c) received on a real
 * AF_UNIX datagram socket, as systemd would: by path and in the abstract namespace; nothing
 * sent and no error without $NOTIFY_SOCKET; a malformed one refused.
 */
#include "pgpitr/common/sdnotify.h"

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A datagram socket bound to name (a path, or "@x": abstract). */
static int listen_at(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(sa.sun_path, name, len);
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    if (name[0] == '@') {
        sa.sun_path[0] = '\0';
        sl--;
    }
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sl), 0);
    return fd;
}

static void expect_datagram(int fd, const char *want)
{
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    ck_assert_int_eq(n, (ssize_t)strlen(want));
    buf[n] = '\0';
    ck_assert_str_eq(buf, want);
}

START_TEST(ready_reaches_the_socket)
{
    char dir[] = "/tmp/pgpitr-sdn-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/notify", dir);
    int fd = listen_at(path);
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(sdnotify("READY=1\nSTATUS=listening on 127.0.0.1:1"), 0);
    expect_datagram(fd, "READY=1\nSTATUS=listening on 127.0.0.1:1");
    close(fd);

    char abstract[64];
    snprintf(abstract, sizeof abstract, "@pgpitr-test-%ld", (long)getpid());
    fd = listen_at(abstract);
    setenv("NOTIFY_SOCKET", abstract, 1);
    ck_assert_int_eq(sdnotify("STOPPING=1"), 0);
    expect_datagram(fd, "STOPPING=1");
    close(fd);

    /* no listener any more: the failure is returned (the service logs it and goes on) */
    ck_assert_int_eq(unlink(path), 0);
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(sdnotify("READY=1"), ENOENT);
    ck_assert_int_eq(rmdir(dir), 0);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(without_systemd_nothing_is_sent)
{
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(sdnotify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    ck_assert_int_eq(sdnotify("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "relative/path", 1);   /* never what systemd sets */
    ck_assert_int_eq(sdnotify("READY=1"), EINVAL);
    char longname[200];
    memset(longname, 'x', sizeof longname - 1);
    longname[0] = '/';
    longname[sizeof longname - 1] = '\0';
    setenv("NOTIFY_SOCKET", longname, 1);
    ck_assert_int_eq(sdnotify("READY=1"), EINVAL);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

Suite *suite_sdnotify(void)
{
    Suite *s = suite_create("sdnotify");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ready_reaches_the_socket);
    tcase_add_test(tc, without_systemd_nothing_is_sent);
    suite_add_tcase(s, tc);
    return s;
}
