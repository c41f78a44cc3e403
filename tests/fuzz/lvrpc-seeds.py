"""lvrpc-seeds.py - record what virsh sends to the libvirt endpoint, as a fuzz_lvrpc seed.

Usage: lvrpc-seeds.py SERVER_SOCKET PROXY_SOCKET OUT VIRSH_ARGS...
A proxy at PROXY_SOCKET forwards to SERVER_SOCKET (e.g. build/tests/lv-fake-server's)
and keeps the client's bytes; they are written in fuzz_lvrpc's raw mode: a mode byte 0,
then for every framer step a chunk-size byte (size - 1) and the chunk. The seeds in
tests/fuzz/seeds/fuzz_lvrpc/ were made this way from virsh 9.0.0.
"""
import os, socket, struct, subprocess, sys, threading, time
srv, prox, out = sys.argv[1], sys.argv[2], sys.argv[3]
cmd = sys.argv[4:]
ls = socket.socket(socket.AF_UNIX); ls.bind(prox); ls.listen(4)
rec = bytearray()
def pump(a, b, keep):
    while True:
        d = a.recv(65536)
        if not d:
            try: b.shutdown(socket.SHUT_WR)
            except OSError: pass
            return
        if keep: rec.extend(d)
        b.sendall(d)
def serve():
    c, _ = ls.accept()
    s = socket.socket(socket.AF_UNIX); s.connect(srv)
    threading.Thread(target=pump, args=(s, c, False), daemon=True).start()
    pump(c, s, True)
t = threading.Thread(target=serve, daemon=True); t.start()
subprocess.run(["virsh", "-c", f"ksmvmm+unix:///system?socket={prox}"] + cmd, capture_output=True, timeout=20)
t.join(5)
seed = bytearray([0]); off = 0
while off < len(rec):
    ln = struct.unpack(">I", rec[off:off+4])[0]
    for want in (4, ln - 4):
        done = 0
        while done < want:
            n = min(64, want - done)
            seed.append(n - 1); seed.extend(rec[off:off+n]); off += n; done += n
open(out, "wb").write(seed)
print(out, len(rec), len(seed))
