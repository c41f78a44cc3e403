"""qemu.py - Linux guests under QEMU with TCG: start, READY on the serial log, QMP, probes, quit.

Scenario 5 boots a few identical Debian guests (build/linux: bzImage and the busybox
initramfs whose /init prints KSMVMM-LINUX-READY) in QEMU, no disk and no network, each
with a serial log file and a QMP socket. QEMU marks guest RAM MADV_MERGEABLE by default
(mem-merge=on), so the host kernel's KSM can merge the live guests: that is the
reference a QEMU user gets today. QMP (JSON over a Unix socket) stops a guest and saves
its RAM to a file (pmemsave, or dump-guest-memory when pmemsave is unavailable).
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import time

import fleet as fleetmod

QEMU = "qemu-system-x86_64"
QEMU_PACKAGE = "qemu-system-x86"
READY_MARK = b"KSMVMM-LINUX-READY"
QMP_TIMEOUT_S = 120
POLL_S = 0.2


class QemuError(Exception):
    """QEMU is missing, did not start, died, or refused a QMP command."""


def _installed(package):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                       capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == "install ok installed"


def ensure_installed():
    """Install Debian's QEMU (apt-get) unless it is there; returns the binary's path."""
    if shutil.which(QEMU):
        return shutil.which(QEMU)
    if shutil.which("dpkg-query") and not _installed(QEMU_PACKAGE):
        print(f"   installing {QEMU_PACKAGE} (apt-get install -y)", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", QEMU_PACKAGE]
        if subprocess.run(cmd, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env)  # stale package lists
            if subprocess.run(cmd, env=env).returncode != 0:
                raise QemuError(f"apt-get install {QEMU_PACKAGE} failed")
    path = shutil.which(QEMU)
    if not path:
        raise QemuError(f"{QEMU} not found (Debian package {QEMU_PACKAGE})")
    return path


def elf_to_flat(elf_path, out_path, size):
    """Turn an ELF core of guest memory (dump-guest-memory, paging=false) into a flat
    file of @size bytes: each PT_LOAD segment at its guest-physical address."""
    with open(elf_path, "rb") as src, open(out_path, "wb") as dst:
        head = src.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            raise QemuError(f"{elf_path} is not an ELF64 core")
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        dst.truncate(size)
        for i in range(phnum):
            src.seek(phoff + i * phentsize)
            ptype, _, offset, _, paddr, filesz = struct.unpack("<IIQQQQ", src.read(40))
            if ptype != 1 or paddr >= size:  # PT_LOAD inside the RAM we keep
                continue
            src.seek(offset)
            dst.seek(paddr)
            left = min(filesz, size - paddr)
            while left:
                chunk = src.read(min(left, 1 << 20))
                if not chunk:
                    raise QemuError(f"{elf_path}: segment at 0x{paddr:x} is truncated")
                dst.write(chunk)
                left -= len(chunk)


class Qmp:
    """A QMP connection: greeting, qmp_capabilities, then one command at a time."""

    def __init__(self, path, timeout_s=QMP_TIMEOUT_S):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        self.sock.connect(path)
        self.file = self.sock.makefile("rw", encoding="utf-8", newline="\n")
        self.events = []
        greeting = self._read()
        if "QMP" not in greeting:
            raise QemuError(f"no QMP greeting on {path}: {greeting}")
        self.command("qmp_capabilities")

    def _read(self):
        try:
            line = self.file.readline()
        except socket.timeout as e:
            raise QemuError("QMP: no answer in time") from e
        if not line:
            raise QemuError("QMP: QEMU closed the connection")
        return json.loads(line)

    def command(self, name, **arguments):
        """Run one command; returns its "return" value, raises QemuError on "error"."""
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.file.write(json.dumps(msg) + "\n")
        self.file.flush()
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                err = reply["error"]
                raise QemuError(f"QMP {name}: {err.get('class')}: {err.get('desc')}")
            return reply.get("return")

    def close(self):
        self.file.close()
        self.sock.close()


class LinuxGuest:
    """One QEMU process running the Linux test guest."""

    def __init__(self, rundir, name, mem_mib, kernel, initrd, cmdline, binary=QEMU):
        self.name = name
        self.mem_mib = mem_mib
        self.serial = os.path.join(rundir, f"{name}.serial.log")
        self.qmp_path = os.path.join(rundir, f"{name}.qmp")
        self.log_path = os.path.join(rundir, f"{name}.qemu.log")
        self.argv = [binary, "-accel", "tcg", "-m", f"{mem_mib}M", "-smp", "1",
                     "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
                     "-nographic", "-monitor", "none", "-nodefaults", "-no-user-config",
                     "-serial", f"file:{self.serial}",
                     "-qmp", f"unix:{self.qmp_path},server=on,wait=off", "-no-reboot"]
        self.proc = None
        self.t_start = None
        self.t_ready = None
        self.qmp = None
        self._log = None

    def start(self):
        for path in (self.serial, self.qmp_path):
            if os.path.exists(path):
                os.unlink(path)
        if len(self.qmp_path) > 100:
            raise QemuError(f"QMP socket path too long for AF_UNIX: {self.qmp_path}")
        self._log = open(self.log_path, "w")
        self._log.write(" ".join(self.argv) + "\n")
        self._log.flush()
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=fleetmod._die_with_parent)

    def check_alive(self):
        if self.proc.poll() is not None:
            raise QemuError(f"{self.name}: QEMU exited with status {self.proc.returncode}; "
                            f"see {self.log_path} and {self.serial}:\n{self.serial_tail()}")

    def serial_tail(self, n=10):
        try:
            with open(self.serial, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return "(no serial output)"
        return "\n".join(lines[-n:])

    def poll_ready(self):
        """True once the serial log shows READY (stamps t_ready the first time)."""
        if self.t_ready is None:
            self.check_alive()
            try:
                with open(self.serial, "rb") as f:
                    if READY_MARK in f.read():
                        self.t_ready = time.monotonic()
            except FileNotFoundError:
                pass  # QEMU has not created it yet
        return self.t_ready is not None

    def connect(self, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        while not os.path.exists(self.qmp_path):
            self.check_alive()
            if time.monotonic() > deadline:
                raise QemuError(f"{self.name}: no QMP socket {self.qmp_path}")
            time.sleep(POLL_S)
        self.qmp = Qmp(self.qmp_path)
        return self.qmp

    # --- probes -------------------------------------------------------------------

    def rollup(self):
        """smaps_rollup of the QEMU process, {key: KiB}."""
        return fleetmod.smaps_rollup(self.proc.pid)

    def pss_kib(self):
        pss = self.rollup().get("Pss")
        if pss is None:
            raise QemuError(f"no Pss line in /proc/{self.proc.pid}/smaps_rollup")
        return pss

    def cpu(self):
        return fleetmod.proc_cpu_seconds(f"/proc/{self.proc.pid}/stat")

    def ksm_stat(self):
        return fleetmod.ksm_stat(self.proc.pid)

    # --- RAM dump and end ---------------------------------------------------------

    def dump_ram(self, path):
        """Stop the guest and write its RAM (guest-physical 0..mem) to @path."""
        qmp = self.qmp or self.connect()
        qmp.command("stop")
        tmp = path + ".tmp"
        size = self.mem_mib << 20
        try:
            qmp.command("pmemsave", val=0, size=size, filename=tmp)
            how = "pmemsave"
        except QemuError as e:
            if "CommandNotFound" not in str(e):
                raise
            elf = tmp + ".elf"
            qmp.command("dump-guest-memory", paging=False, protocol=f"file:{elf}")
            elf_to_flat(elf, tmp, size)
            os.unlink(elf)
            how = "dump-guest-memory"
        got = os.path.getsize(tmp)
        if got < size:
            raise QemuError(f"{self.name}: {how} wrote {got} bytes, expected {size}")
        os.replace(tmp, path)
        return how

    def quit(self):
        """End QEMU: QMP quit, then SIGTERM, then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                (self.qmp or self.connect(timeout_s=5)).command("quit")
            except (QemuError, OSError, ValueError):
                pass  # signals follow
        fleetmod.end_process(self.proc, 10)
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        if self._log:
            self._log.close()
            self._log = None
