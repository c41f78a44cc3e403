"""stall-fake.py - clients that stop in the middle of a packet are dropped after the
stall timeout (made 1.5 s here through LV_FAKE_STALL_MS; 30 s in the VMM), and only
they: a client idle between packets, a slow client that keeps sending, and a libvirt
client connected all along keep being served."""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
os.chdir(os.path.join(os.path.dirname(__file__), "..", ".."))
import lvfake  # noqa: E402
from lvfake import REMOTE, packet  # noqa: E402

try:
    import libvirt
except ImportError:
    libvirt = None

STALL_S = 1.5
fails = 0


def check(what, cond, got=None):
    global fails
    if cond:
        print(f"ok: {what}")
    else:
        fails += 1
        print(f"FAIL: {what}" + (f": got {got!r}" if got is not None else ""))


def served(s, serial):
    """AUTH_LIST on @s is answered with @serial."""
    try:
        s.sendall(packet(REMOTE, 66, 0, serial))
        r = lvfake.recv_packet(s)
    except OSError:
        return False
    return r is not None and r[0][5] == serial and r[0][6] == 0


srv = lvfake.Server(env={"LV_FAKE_STALL_MS": str(int(STALL_S * 1000))})
try:
    keeper = libvirt.open(srv.uri) if libvirt else None
    idle = lvfake.connect(srv.sock)
    check("an idle client is served first", served(idle, 1))

    head = lvfake.connect(srv.sock)  # part of a header
    head.sendall(packet(REMOTE, 66, 0, 2)[:10])
    body = lvfake.connect(srv.sock)  # a header announcing a 200 KiB body, 1 KiB of it
    body.sendall(struct.pack(">I", 28 + 200 * 1024) + packet(REMOTE, 11, 0, 3)[4:28]
                 + b"x" * 1024)
    t0 = time.time()
    slow = lvfake.connect(srv.sock)  # one packet in 7 pieces, 0.5 s apart (3.5 s in all)
    pkt = packet(REMOTE, 66, 0, 4)
    for i in range(0, len(pkt), 4):
        slow.sendall(pkt[i:i + 4])
        if i + 4 < len(pkt):
            time.sleep(0.5)
    r = lvfake.recv_packet(slow)
    check("a slow client that keeps sending is served", r is not None and r[0][5] == 4, r)
    check("it took longer than the stall timeout", time.time() - t0 > STALL_S * 1.5)
    gone = [lvfake.closed_by_peer(s, 5) for s in (head, body)]
    waited = time.time() - t0
    check("a client stuck in a header is dropped", gone[0])
    check("a client stuck in a body is dropped", gone[1])
    check("within the timeout and a margin", waited < STALL_S + 6, waited)

    late = lvfake.connect(srv.sock)  # not dropped before its time
    late.sendall(packet(REMOTE, 66, 0, 5)[:6])
    check("a stuck client is not dropped early", not lvfake.closed_by_peer(late, STALL_S * 0.5))
    t1 = time.time()
    check("but is dropped once the timeout passed", lvfake.closed_by_peer(late, 5))
    check("at about the timeout", time.time() - t1 < STALL_S + 3, time.time() - t1)

    check("the client idle between packets is still served", served(idle, 6))
    if keeper is not None:
        names = sorted(d.name() for d in keeper.listAllDomains())
        check("the libvirt client connected all along still works",
              names == ["fake-alpha", "fake-beta", "fake-gamma"], names)
        keeper.close()
    fresh = lvfake.connect(srv.sock)
    check("a new client is served", served(fresh, 7))
    log = srv.log_text()
    check("the drops are logged", log.count("then nothing for 1500 ms") == 3, log)
    for s in (idle, head, body, slow, late, fresh):
        s.close()
finally:
    alive = srv.alive()
    alive = srv.stop() and alive
check("server survived", alive)
if fails:
    print(f"FAIL: {fails} checks failed")
    sys.exit(1)
print("PASS: clients stuck mid-packet are dropped, the others are served")
