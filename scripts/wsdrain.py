#!/usr/bin/env python3
"""A WebSocket client that reads everything `burgut serve` streams and
throws it away (answering pings), for load in scripts/bench-serve.sh.
Standard library only.

    scripts/wsdrain.py ws://127.0.0.1:PORT/api/v1/stream?rate_hz=10 TOKEN

Prints the frames and bytes it read when the server closes or on SIGTERM.
"""
import base64
import os
import signal
import socket
import struct
import sys
import urllib.parse


def main():
    url, token = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port or 80))
    path = u.path + ("?" + u.query if u.query else "")
    key = base64.b64encode(os.urandom(16)).decode()
    req = (f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if token:
        req += f"Authorization: Bearer {token}\r\n"
    s.sendall((req + "\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            sys.exit("wsdrain: connection closed during the handshake")
        buf += d
    head, buf = buf.split(b"\r\n\r\n", 1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        sys.exit("wsdrain: handshake refused: " + head.split(b"\r\n", 1)[0].decode(errors="replace"))
    frames = nbytes = 0
    done = False

    def stop(*_):
        nonlocal done
        done = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    s.settimeout(0.5)
    while not done:
        # Parse every complete frame in buf.
        p = 0
        while len(buf) - p >= 2:
            op, ln = buf[p] & 0x0F, buf[p + 1] & 0x7F
            off = 2
            if ln == 126:
                if len(buf) - p < 4:
                    break
                ln, off = struct.unpack_from(">H", buf, p + 2)[0], 4
            elif ln == 127:
                if len(buf) - p < 10:
                    break
                ln, off = struct.unpack_from(">Q", buf, p + 2)[0], 10
            if len(buf) - p < off + ln:
                break
            payload = buf[p + off:p + off + ln] if op in (0x8, 0x9) else b""
            p += off + ln
            frames += 1
            nbytes += ln
            if op == 0x9:  # ping: answer with a masked pong
                mask = os.urandom(4)
                body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                s.sendall(bytes([0x8A, 0x80 | len(body)]) + mask + body)
            elif op == 0x8:  # close
                done = True
                break
        buf = buf[p:]
        try:
            d = s.recv(1 << 16)
        except socket.timeout:
            continue
        except OSError:
            break
        if not d:
            break
        buf += d
    print(f"wsdrain: {frames} frames, {nbytes} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
