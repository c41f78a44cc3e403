#!/usr/bin/env python3
"""garbage.py SOCKET - send hostile lines to a ksmvmm control socket; every line must get
one JSON reply with ok=false and an error string, and the server must stay up."""
import json
import os
import socket
import sys

LINES = [
    b"hello\n",
    b"{\n",
    b"[1,2,3]\n",
    b'"just a string"\n',
    b"{}\n",
    b'{"cmd":42}\n',
    b'{"cmd":"explode"}\n',
    b'{"cmd":"stop","name":17}\n',
    b'{"cmd":"stop","name":"' + b"x" * 5000 + b'"}\n',
    b'{"cmd":"verify","name":"nosuchguest"}\n',
    b'{"cmd":"fault"}\n',
    b"[" * 10000 + b"\n",
    b'{"cmd":"list","extra":' + b"9" * 400 + b"}\n",
    bytes(range(1, 256)).replace(b"\n", b"") + b"\n",
    b'{"cmd":"li\x00st"}\n',
    b"\xff\xfe\xfd\n",
]

def reply(f):
    line = f.readline()
    if not line:
        sys.exit("server closed the connection")
    return json.loads(line)

def main():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    f = s.makefile("rb")
    for raw in LINES:
        s.sendall(raw)
        r = reply(f)
        if r.get("ok") is not False or not isinstance(r.get("error"), str):
            sys.exit(f"bad reply to {raw[:40]!r}: {r}")
        print(f"{raw[:30]!r} -> {r['error']}")
    s.sendall(b'{"cmd":"ping"}\n')
    if reply(f).get("ok") is not True:
        sys.exit("ping after garbage failed")
    s.close()
    # A client that sends half a line and vanishes, and one that floods without reading.
    for payload in (b'{"cmd":"li', os.urandom(1 << 20)):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(sys.argv[1])
        try:
            c.sendall(payload)
        except OSError:
            pass
        c.close()
    print("garbage ok")

main()
