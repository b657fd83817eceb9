/*
 * sdnotify.c - sd_notify(3)'s datagram to $NOTIFY_SOCKET (sdnotify.h).
 */
#include "pgpitr/common/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sdnotify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path)
        return EINVAL;   /* systemd gives one of these; anything else was not set by it */
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';   /* abstract namespace: the name is not NUL-terminated */
    socklen_t sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                   (path[0] == '@' ? 0 : 1));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, sa_len);
    int e = n < 0 ? errno : (size_t)n != strlen(state) ? EMSGSIZE : 0;
    close(fd);
    return e;
}
