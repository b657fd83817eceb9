/*
 * sdnotify.h - telling systemd how a long-running service is doing (sd_notify(3)'s protocol:
 * one datagram of "KEY=value" lines to the AF_UNIX socket named in $NOTIFY_SOCKET), so that
 * pgpitr-serve.service can be Type=notify: `systemctl start` returns once the API listens,
 * and a reload or a stop shows as such. The protocol is small and stable, and systemd
 * documents it for reimplementation; this avoids a dependency on libsystemd for one call.
 */
#ifndef PGPITR_SDNOTIFY_H
#define PGPITR_SDNOTIFY_H

/* Sends state (e.g. "READY=1\nSTATUS=listening on :8080") when $NOTIFY_SOCKET is set: a path,
 * or "@name" for an abstract socket. Returns 0 when sent or when there is no socket to send
 * to, else the errno of the failure (the caller logs it; a service goes on without systemd's
 * view of it). */
int sdnotify(const char *state);

#endif
