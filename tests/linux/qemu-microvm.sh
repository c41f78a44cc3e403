#!/bin/bash
# qemu-microvm.sh - reference boot of the minimal Linux guest under QEMU (TCG, no KVM
# needed): validates the kernel config and the root image with QEMU's virtio-mmio
# devices, not ksmvmm's (make test-linux-qemu).
#
# QEMU's microvm machine, without ACPI, puts its virtio-mmio devices on the kernel
# command line (auto-kernel-cmdline) and its firmware writes an MP table (the kernel
# has no ACPI either, as on ksmvmm), so the kernel sees what
# ksmvmm will show it: virtio console (hvc0), block (the ext4 root, snapshot), rng,
# balloon with free page reporting, 2 CPUs. Checks the same kernel messages as
# virtio-boot.sh (tests/linux/expect.sh), waits for the init's ud2 trap that ends
# the guest, and prints the times. QEMU here cannot show free page reports reaching
# the host; the ksmvmm test checks those.
#
# Exit: 0 pass, 1 fail. Environment: KSMVMM_QEMU_TIMEOUT (seconds, default 400),
# KSMVMM_LINUX_SPIN (init's spin, default 20), KSMVMM_LINUX_KERNEL (a bzImage, default
# build/linux-min/bzImage), KSMVMM_LINUX_ROOTFS.
set -u
cd "$(dirname "$0")/../.."
source tests/linux/expect.sh

KERNEL=${KSMVMM_LINUX_KERNEL:-$PWD/build/linux-min/bzImage}
ROOTFS=${KSMVMM_LINUX_ROOTFS:-$PWD/build/linux-min/rootfs.ext4}
LIMIT=${KSMVMM_QEMU_TIMEOUT:-400}
SPIN=${KSMVMM_LINUX_SPIN:-20}
CPUS=2
NDEVICES=4
QEMU=qemu-system-x86_64

if ! command -v $QEMU >/dev/null; then
	echo "qemu-microvm.sh: installing qemu-system-x86"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-system-x86 >/dev/null ||
		{ echo "FAIL: cannot install qemu-system-x86"; exit 1; }
fi
linux_need_files "run make linux-min" "$KERNEL" "$ROOTFS"

linux_qemu_scratch qemu-microvm
trap 'exit 1' INT TERM

mkdir -p "$T/console"
linux_expectations "$CPUS" "$NDEVICES" >"$T/expect"
t0=$(date +%s%N)
$QEMU -M microvm,acpi=off,auto-kernel-cmdline=on -accel tcg -smp "$CPUS" -m 256M \
	-nodefaults -no-user-config -display none -no-reboot \
	-kernel "$KERNEL" -append "$(linux_cmdline "$SPIN")" \
	-serial "file:$T/console/ttyS0.log" \
	-chardev "file,id=hvc,path=$T/console/hvc0.log" \
	-device virtio-serial-device -device virtconsole,chardev=hvc \
	-drive "id=root,file=$ROOTFS,format=raw,if=none,snapshot=on" \
	-device virtio-blk-device,drive=root \
	-device virtio-rng-device \
	-device virtio-balloon-device,free-page-reporting=on \
	>"$T/qemu.log" 2>&1 &
QEMU_PID=$!

now() { echo $((($(date +%s%N) - t0) / 1000000000)); }
run_s= trap_s=
while :; do
	linux_log "$T/console" >"$T/log"
	[ -z "$run_s" ] && grep -aq 'Run /sbin/ksmvmm-spin' "$T/log" && run_s=$(now)
	[ -z "$trap_s" ] && grep -aqE "$LINUX_TRAP_RE" "$T/log" && trap_s=$(now)
	kill -0 "$QEMU_PID" 2>/dev/null || break
	[ "$(now)" -lt "$LIMIT" ] || break
	sleep 1
done
alive=no
kill -0 "$QEMU_PID" 2>/dev/null && alive=yes
linux_log "$T/console" >"$T/log"

echo "--- console files: $(cd "$T/console" && wc -l -- * | tr '\n' ' ')"
echo "--- the kernel's virtio-mmio devices: $(grep -o 'virtio_mmio.device=[^ ]*' "$T/log" | sort -u | tr '\n' ' ')"
echo "--- expectations"
ok=0
linux_check "$T/log" "$T/expect" || ok=1
echo "--- times (wall since QEMU started; kernel printk time)"
echo "  Run /sbin/ksmvmm-spin: wall ${run_s:-never}s, kernel $(linux_kernel_time "$T/log" 'Run /sbin/ksmvmm-spin')s"
echo "  init's ud2 trapped:    wall ${trap_s:-never}s, kernel $(linux_kernel_time "$T/log" "$LINUX_TRAP_RE")s (spin ${SPIN}s)"
grep -aE "$LINUX_TRAP_RE|$LINUX_PANIC_RE" "$T/log" | head -n 3 | sed 's/^/  | /'
if [ -z "$trap_s" ]; then
	echo "  (no trap: the init did not finish its spin; QEMU still running: $alive)"
	ok=1
fi
if [ $ok -ne 0 ]; then
	echo "--- console (last 30 lines)"
	tail -n 30 "$T/log"
	echo "--- qemu"
	tail -n 10 "$T/qemu.log"
	echo "FAIL: linux qemu-microvm"
	exit 1
fi
echo "PASS: linux qemu-microvm: Run /init after ${run_s}s under TCG"
