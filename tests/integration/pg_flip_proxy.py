#!/usr/bin/env python3
"""pg_flip_proxy.py - a PostgreSQL protocol proxy that alters one file inside a BASE_BACKUP.

Usage: pg_flip_proxy.py LISTEN_PORT SERVER_SOCKET FILE_NAME [--no-flip]

Listens on 127.0.0.1:LISTEN_PORT and relays every connection to the server's Unix socket.
Messages from the server are parsed (type byte + int32 length); inside the copy stream of
BASE_BACKUP ... TARGET 'client' (CopyData whose payload starts with 'n' new archive, 'd' data,
'p' progress, 'm' manifest) the tar archive is followed header by header, and the first
content byte of the member named FILE_NAME (e.g. "PG_VERSION") is xor'ed with 0x01: the
bytes pgpitr receives then differ from what the server checksummed for its backup_manifest,
which is the check under test. Lengths never change, so the framing stays valid. With
--no-flip it relays unchanged (the control). Clients must connect with sslmode=disable and
gssencmode=disable (no negotiation byte without a length). Prints "flipped NAME" on stderr.
"""
import socket
import struct
import sys
import threading


class TarFollower:
    """Follows a tar stream fed in pieces; flips the first content byte of one member."""

    def __init__(self, target, flip):
        self.target, self.flip = target, flip
        self.hdr = bytearray()
        self.remaining = 0   # content bytes of the current member still to come
        self.pad = 0         # padding after it
        self.hit = False     # the current member is the target
        self.flipped = False

    def feed(self, data, off):
        i = off
        while i < len(data):
            if self.remaining > 0:
                n = min(self.remaining, len(data) - i)
                if self.hit and not self.flipped and self.flip:
                    data[i] ^= 0x01
                    self.flipped = True
                    sys.stderr.write("flipped %s\n" % self.target.decode())
                    sys.stderr.flush()
                i += n
                self.remaining -= n
                continue
            if self.pad > 0:
                n = min(self.pad, len(data) - i)
                i += n
                self.pad -= n
                continue
            n = min(512 - len(self.hdr), len(data) - i)
            self.hdr += data[i:i + n]
            i += n
            if len(self.hdr) < 512:
                continue
            h, self.hdr = bytes(self.hdr), bytearray()
            if h == b"\0" * 512:
                continue
            name = h[0:100].split(b"\0")[0]
            while name.startswith(b"./"):
                name = name[2:]
            size_field = h[124:136].strip(b"\0 ")
            size = int(size_field, 8) if size_field else 0
            self.remaining = size
            self.pad = (512 - size % 512) % 512
            self.hit = name == self.target and h[156:157] in (b"0", b"\0")


def relay_client(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def relay_server(src, dst, target, flip):
    buf = bytearray()
    tar = None
    try:
        while True:
            b = src.recv(262144)
            if not b:
                break
            buf += b
            out = bytearray()
            while len(buf) >= 5:
                length = struct.unpack("!I", buf[1:5])[0]
                if len(buf) < 1 + length:
                    break
                msg = buf[:1 + length]
                del buf[:1 + length]
                if msg[0:1] == b"d" and length > 4:
                    kind = msg[5:6]
                    if kind == b"n":
                        tar = TarFollower(target, flip)
                    elif kind == b"m":
                        tar = None
                    elif kind == b"d" and tar is not None:
                        tar.feed(msg, 6)
                out += msg
            if out:
                dst.sendall(out)
        if buf:
            dst.sendall(buf)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def main():
    port, server_socket, target = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
    flip = "--no-flip" not in sys.argv[4:]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(8)
    while True:
        c, _ = ls.accept()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(server_socket)
        threading.Thread(target=relay_client, args=(c, s), daemon=True).start()
        threading.Thread(target=relay_server, args=(s, c, target, flip), daemon=True).start()


if __name__ == "__main__":
    main()
