"""garbage-fake.py - hostile raw clients of the libvirt endpoint: garbage, a truncated
packet, an oversized length, a stream packet, a client that vanishes mid-packet. Each
loses its own connection (or gets an error reply) while a libvirt client connected
all along keeps working; keepalive PING gets PONG; an unknown procedure gets
VIR_ERR_NO_SUPPORT on the wire."""
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.chdir(os.path.join(os.path.dirname(__file__), "..", ".."))
import lvfake  # noqa: E402
from lvfake import KEEPALIVE, REMOTE, packet  # noqa: E402

try:
    import libvirt
except ImportError:
    libvirt = None

fails = 0


def check(what, cond, got=None):
    global fails
    if cond:
        print(f"ok: {what}")
    else:
        fails += 1
        print(f"FAIL: {what}" + (f": got {got!r}" if got is not None else ""))


def raw_open(srv):
    """A raw connection that did CONNECT_OPEN."""
    s = lvfake.connect(srv.sock)
    s.sendall(packet(REMOTE, 1, 0, 1, struct.pack(">II", 0, 0)))  # name absent, flags 0
    r = lvfake.recv_packet(s)
    assert r and r[0][6] == 0, r
    return s


def names_of(conn):
    return sorted(d.name() for d in conn.listAllDomains())


def still_works(srv, keeper, what):
    """The long-lived client and a fresh raw one both still get answers."""
    if keeper is not None:
        try:
            ok = names_of(keeper) == ["fake-alpha", "fake-beta", "fake-gamma"]
        except libvirt.libvirtError as e:
            ok = False
            print(f"  keeper failed: {e}")
        check(f"after {what}: the other client still works", ok)
    s = lvfake.connect(srv.sock)
    s.sendall(packet(REMOTE, 66, 0, 77))  # AUTH_LIST
    r = lvfake.recv_packet(s)
    check(f"after {what}: a new client is served", r is not None and r[0][5] == 77 and r[0][6] == 0)
    s.close()
    check(f"after {what}: the server runs", srv.alive())


def wait_served(srv, timeout=10):
    """Wait until a new client is served again (closed ones take a moment to go)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = lvfake.connect(srv.sock)
        try:
            s.sendall(packet(REMOTE, 66, 0, 1))
            if lvfake.recv_packet(s):
                return
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(0.1)


srv = lvfake.Server()
try:
    keeper = libvirt.open(srv.uri) if libvirt else None
    if keeper is None:
        print("note: python3-libvirt missing, checking with raw clients only")

    rnd = random.Random(11)
    s = lvfake.connect(srv.sock)
    s.sendall(bytes(rnd.randrange(256) for _ in range(4096)))
    check("garbage closes that connection", lvfake.closed_by_peer(s))
    still_works(srv, keeper, "garbage")

    s = lvfake.connect(srv.sock)
    s.sendall(packet(REMOTE, 66, 0, 5, b"\0" * 64)[:40])
    s.shutdown(socket.SHUT_WR)
    check("a truncated packet closes that connection", lvfake.closed_by_peer(s))
    still_works(srv, keeper, "a truncated packet")

    s = lvfake.connect(srv.sock)
    s.sendall(struct.pack(">I", 0x7FFFFFFF) + b"\0" * 24)
    check("an oversized length closes that connection at once", lvfake.closed_by_peer(s))
    still_works(srv, keeper, "an oversized length")

    s = lvfake.connect(srv.sock)
    s.sendall(struct.pack(">I", 4 * 1024 * 1024 + 28 + 4) + b"\0" * 24)
    check("one byte over 4 MiB + header is refused", lvfake.closed_by_peer(s))

    s = lvfake.connect(srv.sock)
    s.sendall(struct.pack(">I", 12) + b"\0" * 8)
    check("a length shorter than the header is refused", lvfake.closed_by_peer(s))

    s = lvfake.connect(srv.sock)
    s.sendall(packet(REMOTE, 1, 3, 9))  # type STREAM: we never opened one
    check("a stream packet closes that connection", lvfake.closed_by_peer(s))
    still_works(srv, keeper, "a stream packet")

    for i in range(20):  # vanish mid-packet, with and without a reset
        s = lvfake.connect(srv.sock)
        s.sendall(packet(REMOTE, 23, 0, 3, struct.pack(">I", 200) + b"x" * 200)[: 10 + i * 7])
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    still_works(srv, keeper, "20 clients vanishing mid-packet")

    s = raw_open(srv)  # a call answered after the client left: nothing but its connection
    s.sendall(packet(REMOTE, 273, 0, 4, struct.pack(">iI", 1, 0)))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    still_works(srv, keeper, "a client vanishing mid-call")

    many = [lvfake.connect(srv.sock) for _ in range(70)]  # 64 at most are served
    closed = set()
    deadline = time.time() + 10  # the server accepts at its own pace (a loaded machine)
    while len(closed) < 70 + 1 - 64 and time.time() < deadline:
        closed |= {i for i, m in enumerate(many) if i not in closed
                   and lvfake.closed_by_peer(m, 0.01)}
    time.sleep(0.2)
    closed |= {i for i, m in enumerate(many) if i not in closed and lvfake.closed_by_peer(m, 0.01)}
    # Exactly 7 but for connections of earlier checks the server may not have seen go.
    check("clients over the limit are refused", 70 + 1 - 64 <= len(closed) <= 70 + 1 - 64 + 3,
          len(closed))
    for m in many:
        m.close()
    wait_served(srv)
    still_works(srv, keeper, "too many clients")

    s = lvfake.connect(srv.sock)
    s.sendall(packet(KEEPALIVE, 1, 2, 0))  # PING
    r = lvfake.recv_packet(s)
    check("PING gets PONG", r is not None and r[0][1] == KEEPALIVE and r[0][3] == 2, r)
    s.close()

    s = raw_open(srv)
    s.sendall(packet(REMOTE, 9999, 0, 31))
    r = lvfake.recv_packet(s)
    code = struct.unpack(">i", r[1][:4])[0] if r else None
    check("an unknown procedure gets VIR_ERR_NO_SUPPORT", r is not None and r[0][5] == 31
          and r[0][6] == 1 and code == 3, r)
    s.sendall(packet(REMOTE, 51, 0, 32, b"", vers=7))
    r = lvfake.recv_packet(s)
    check("a wrong version gets an error reply", r is not None and r[0][6] == 1, r)
    s.sendall(packet(REMOTE, 23, 0, 33, struct.pack(">I", 0xFFFFFFF0)))
    r = lvfake.recv_packet(s)
    check("a hostile string length gets an error reply", r is not None and r[0][6] == 1, r)
    s.sendall(packet(REMOTE, 51, 0, 34))
    r = lvfake.recv_packet(s)
    check("and the connection goes on", r is not None and r[0][5] == 34 and r[0][6] == 0
          and struct.unpack(">i", r[1])[0] == 2, r)
    s.close()
    still_works(srv, keeper, "error replies")
    if keeper is not None:
        keeper.close()
finally:
    alive = srv.alive()
    alive = srv.stop() and alive
check("server survived", alive)
if fails:
    print(f"FAIL: {fails} checks failed")
    sys.exit(1)
print("PASS: hostile clients lose only their own connection")
