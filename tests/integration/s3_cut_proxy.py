#!/usr/bin/env python3
"""s3_cut_proxy.py - a TCP proxy on loopback for test_s3_archive.sh that resets every
connection once it has forwarded CUT bytes from the server to the client, so that a GET of
a larger object breaks mid-body (what a flaky network does to a long download).

usage: s3_cut_proxy.py LISTEN_PORT TARGET_PORT CUT_BYTES   (prints "ready" when listening)
"""
import socket
import struct
import sys
import threading


def pump(src, dst, limit):
    sent = 0
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if limit is not None and sent + len(data) >= limit:
                dst.sendall(data[: max(0, limit - sent)])
                # RST (linger 0): the client sees a reset mid-body; shutdown first, so that
                # the other direction's thread, blocked in recv, lets go of its socket
                for s in (src, dst):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                break
            dst.sendall(data)
            sent += len(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.close()
        except OSError:
            pass


def main():
    listen_port, target_port, cut = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", listen_port))
    srv.listen(16)
    print("ready", flush=True)
    while True:
        client, _ = srv.accept()
        upstream = socket.create_connection(("127.0.0.1", target_port))
        threading.Thread(target=pump, args=(client, upstream, None), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, cut), daemon=True).start()


if __name__ == "__main__":
    main()
