#!/bin/bash
# qemu-mptable.sh - a real Linux kernel reads ksmvmm's MP table (no KVM needed).
#
# Boots the minimal guest under QEMU/TCG's microvm machine, stopped by gdb at the kernel
# entry (0x100000) after QEMU's firmware wrote its own MP table at 0x9fc00, and writes
# ours (build/linux-min/mptable-dump 2) over it. The kernel must then report our table
# (OEM ID KSMVMM), 2 processors and the IOAPIC from it, bring up 2 CPUs, and its virtio
# devices must work (their IRQs 9-12 go through our I/O interrupt entries): the same
# expectations as qemu-microvm.sh.
# One change for QEMU: KVM's default GSI routing (what ksmvmm uses) sends the in-kernel
# PIT to IOAPIC pin 0, so our table maps ISA IRQ 0 to pin 0; QEMU wires its PIT to pin 2.
# The copy given to QEMU swaps the pins of ISA IRQs 0 and 2 (checksum recomputed).
# Exit: 0 pass, 1 fail. Needs qemu-system-x86 and gdb (installed if missing).
set -u
cd "$(dirname "$0")/../.."
source tests/linux/expect.sh

KERNEL=$PWD/build/linux-min/bzImage
ROOTFS=$PWD/build/linux-min/rootfs.ext4
DUMP=$PWD/build/linux-min/mptable-dump
LIMIT=${KSMVMM_QEMU_TIMEOUT:-300}
CPUS=2

for p in qemu-system-x86_64:qemu-system-x86 gdb:gdb; do
	command -v "${p%%:*}" >/dev/null && continue
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${p#*:}" >/dev/null ||
		{ echo "FAIL: cannot install ${p#*:}"; exit 1; }
done
linux_need_files "make linux-min build/linux-min/mptable-dump" "$KERNEL" "$ROOTFS" "$DUMP"

linux_qemu_scratch qemu-mptable

"$DUMP" "$CPUS" >"$T/ours.bin" || { echo "FAIL: mptable-dump failed"; exit 1; }
python3 - "$T/ours.bin" "$T/qemu.bin" <<'EOF' || { echo "FAIL: cannot adapt the table"; exit 1; }
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
mpc = struct.unpack_from("<I", b, 4)[0] - 0x9fc00
length = struct.unpack_from("<H", b, mpc + 4)[0]
p = mpc + 44
while p < mpc + length:
    if b[p] == 0:
        p += 20
        continue
    if b[p] == 3 and b[p + 5] in (0, 2):  # I/O interrupt of ISA IRQ 0 or 2
        b[p + 7] = 2 - b[p + 5]
    p += 8
b[mpc + 7] = 0
b[mpc + 7] = -sum(b[mpc:mpc + length]) & 0xff
open(sys.argv[2], "wb").write(b)
EOF

mkdir -p "$T/console"
linux_expectations "$CPUS" 4 >"$T/expect"
cat >>"$T/expect" <<EOF
our-table|1|MPTABLE: OEM ID: KSMVMM
our-product|1|MPTABLE: Product ID: ksmvmm
processor-1|1|Processor #1$
our-ioapic|1|IOAPIC\[0\]: apic_id $CPUS, version [0-9]+, address 0xfec00000, GSI 0-23
EOF
PORT=$((40000 + RANDOM % 10000))
qemu-system-x86_64 -M microvm,acpi=off,auto-kernel-cmdline=on -accel tcg -smp "$CPUS" -m 256M \
	-nodefaults -no-user-config -display none -no-reboot \
	-kernel "$KERNEL" -append "$(linux_cmdline 5)" \
	-serial "file:$T/console/ttyS0.log" \
	-chardev "file,id=hvc,path=$T/console/hvc0.log" \
	-device virtio-serial-device -device virtconsole,chardev=hvc \
	-drive "id=root,file=$ROOTFS,format=raw,if=none,snapshot=on" \
	-device virtio-blk-device,drive=root -device virtio-rng-device \
	-device virtio-balloon-device,free-page-reporting=on \
	-gdb "tcp:127.0.0.1:$PORT" -S >"$T/qemu.log" 2>&1 &
QEMU_PID=$!
sleep 1
timeout 60 gdb -q -batch -ex "target remote 127.0.0.1:$PORT" -ex "hbreak *0x100000" \
	-ex continue -ex "restore $T/qemu.bin binary 0x9fc00" -ex delete -ex detach \
	>"$T/gdb.log" 2>&1 || { cat "$T/gdb.log"; echo "FAIL: gdb could not place the table"; exit 1; }

t0=$(date +%s)
while kill -0 "$QEMU_PID" 2>/dev/null && [ $(($(date +%s) - t0)) -lt "$LIMIT" ]; do
	linux_log "$T/console" | grep -aqE "$LINUX_TRAP_RE" && break
	sleep 1
done
linux_log "$T/console" >"$T/log"
echo "--- expectations (kernel reading ksmvmm's MP table)"
if ! linux_check "$T/log" "$T/expect"; then
	tail -n 30 "$T/log"
	echo "FAIL: linux qemu-mptable"
	exit 1
fi
grep -aE -m1 'TIMER: vector' "$T/log" | sed 's/^/  | /'
echo "PASS: linux qemu-mptable: Linux took $CPUS CPUs, the IOAPIC and the IRQ routing from our table"
