"""lvfake.py - start build/tests/lv-fake-server on a fresh socket for the Python tests
of the libvirt endpoint, and the raw packet helpers they share."""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

SERVER = os.environ.get("LV_FAKE_SERVER", "build/tests/lv-fake-server")
REMOTE = 0x20008086
KEEPALIVE = 0x6B656570


class Server:
    def __init__(self, env=None):
        """@env: extra environment of the server (e.g. LV_FAKE_STALL_MS)."""
        if not os.access(SERVER, os.X_OK):
            print(f"FAIL: {SERVER} is missing (make unit)")
            sys.exit(1)
        self.dir = tempfile.mkdtemp(prefix="lv-fake.")
        self.sock = os.path.join(self.dir, "sock")
        self.uri = f"ksmvmm+unix:///system?socket={self.sock}"
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([SERVER, self.sock], stderr=self.log,
                                     env=dict(os.environ, **(env or {})))
        for _ in range(50):
            if os.path.exists(self.sock):
                return
            time.sleep(0.1)
        self.stop()
        print("FAIL: the fake server did not start")
        sys.exit(1)

    def log_text(self):
        self.log.flush()
        with open(os.path.join(self.dir, "server.log")) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """Stop the server; False when it did not exit cleanly (its log is printed)."""
        if self.alive():
            self.proc.terminate()
        rc = self.proc.wait(10)
        self.log.close()
        clean = rc == 0
        if not clean:
            with open(os.path.join(self.dir, "server.log")) as f:
                print(f"server exited with {rc}:\n" + f.read())
        shutil.rmtree(self.dir, ignore_errors=True)
        return clean


def packet(prog, proc, type_, serial, body=b"", status=0, vers=1):
    """One libvirt RPC packet: length (counting itself), header, body."""
    return struct.pack(">IIIiIII", 28 + len(body), prog, vers, proc, type_, serial, status) + body


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)  # blocking, as libvirt's client connects: a full backlog waits
    s.settimeout(5)
    return s


def recv_packet(s):
    """The next packet as (header tuple, body), or None at EOF."""
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    head = exact(28)
    if head is None:
        return None
    h = struct.unpack(">IIIiIII", head)
    body = exact(h[0] - 28) if h[0] > 28 else b""
    return h, body


def closed_by_peer(s, timeout=5):
    """True when the server closes @s (EOF or reset) within @timeout seconds."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
