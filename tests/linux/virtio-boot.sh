#!/bin/bash
# virtio-boot.sh - the minimal Linux guest on ksmvmm: virtio devices, ext4 root, SMP,
# free page reporting (make test-linux-min).
#
# Boots build/linux-min/vmlinux (tools/linux/build-kernel.sh) with --cpus 2, the ext4
# root image (tools/linux/rootfs.sh) as a snapshot --disk and the default virtio devices
# (console, rng, balloon), and checks what the kernel prints (tests/linux/expect.sh):
# each virtio-mmio device bound by its driver, the ACPI generation ID and event devices
# bound by theirs, the log on hvc0, /dev/vda mounted as the
# ext4 root, 2 CPUs up, the init started; then that the balloon's free page reports
# reach the VMM (ksmctl devices). The init makes no system call (PVM hosts cannot run
# one); it spins for KSMVMM_LINUX_SPIN seconds and ends the guest with a trapped ud2.
#
# Exit: 0 pass, 1 fail (what was missing is printed), 77 skipped (no /dev/kvm, or PVM's).
# Environment (defaults in brackets):
#   KSMVMM_LINUX_BOOT_TIMEOUT  seconds for all kernel messages [180]
#   KSMVMM_LINUX_REPORT_TIMEOUT seconds more for the first free page report [60]
#   KSMVMM_LINUX_SPIN          init's spin before its ud2, seconds [300: outlives the test]
#   KSMVMM_LINUX_KERNEL, KSMVMM_LINUX_ROOTFS  the guest [build/linux-min/...]
#   KSMVMM_DISK_ARGS           the disk options, @IMG@ = the image
#                              ["--disk @IMG@,snapshot"]
#   KSMVMM_BALLOON_KEY         KIND.COUNTER of `ksmctl devices NAME --json`
#                              [balloon.reported_pages]
set -u
cd "$(dirname "$0")/../.."
source tests/linux/expect.sh

KSMVMM=$PWD/build/ksmvmm
KSMCTL=$PWD/build/ksmctl
KERNEL=${KSMVMM_LINUX_KERNEL:-$PWD/build/linux-min/vmlinux}
ROOTFS=${KSMVMM_LINUX_ROOTFS:-$PWD/build/linux-min/rootfs.ext4}
BOOT_LIMIT=${KSMVMM_LINUX_BOOT_TIMEOUT:-180}
REPORT_LIMIT=${KSMVMM_LINUX_REPORT_TIMEOUT:-60}
SPIN=${KSMVMM_LINUX_SPIN:-300}
DISK_ARGS=${KSMVMM_DISK_ARGS:-"--disk @IMG@,snapshot"}
BALLOON_KEY=${KSMVMM_BALLOON_KEY:-balloon.reported_pages}
CPUS=2
NDEVICES=4 # console, rng, balloon, one disk
GUEST=g0   # --name g (the default) and --count 1

linux_skip_unless_kvm

T=$(mktemp -d /tmp/ksmvmm-linux-min.XXXXXX)
SOCK=$T/control.sock
VMM_PID=
cleanup() {
	if [ -n "$VMM_PID" ] && kill -0 "$VMM_PID" 2>/dev/null; then
		kill -TERM "$VMM_PID" 2>/dev/null
		sleep 1
		kill -KILL "$VMM_PID" 2>/dev/null
		wait "$VMM_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
snapshot() { linux_log "$T/console" >"$T/log"; }

# What was seen, then FAIL with the reason.
fail() {
	snapshot
	echo "--- expectations after $(elapsed)s"
	linux_check "$T/log" "$T/expect"
	echo "--- console files: $(ls "$T/console" 2>/dev/null | tr '\n' ' ')"
	echo "--- console (last 40 lines)"
	tail -n 40 "$T/log"
	echo "--- ksmvmm (last 20 lines)"
	tail -n 20 "$T/vmm.log" 2>/dev/null
	echo "FAIL: linux virtio-boot: $*"
	exit 1
}

for f in "$KSMVMM" "$KSMCTL" "$KERNEL" "$ROOTFS"; do
	[ -r "$f" ] || { echo "FAIL: $f is missing (run make all linux-min)"; exit 1; }
done
linux_expectations "$CPUS" "$NDEVICES" >"$T/expect"
linux_acpi_expectations >>"$T/expect"
read -r -a disk <<<"${DISK_ARGS//@IMG@/$ROOTFS}"
CMDLINE=$(linux_cmdline "$SPIN")

mkdir -p "$T/console"
echo "ksmvmm run --cpus $CPUS --mem 256M --kernel $KERNEL ${disk[*]}"
echo "  --cmdline '$CMDLINE'"
"$KSMVMM" run --count 1 --cpus "$CPUS" --mem 256M --kernel "$KERNEL" "${disk[@]}" \
	--cmdline "$CMDLINE" --control "$SOCK" --console "$T/console" >"$T/vmm.log" 2>&1 &
VMM_PID=$!

# 1. The kernel messages, each within BOOT_LIMIT.
while :; do
	snapshot
	linux_all_met "$T/log" "$T/expect" && break
	grep -aqE "$LINUX_PANIC_RE" "$T/log" && fail "the kernel panicked during boot"
	kill -0 "$VMM_PID" 2>/dev/null || fail "ksmvmm exited after $(elapsed)s"
	[ "$(elapsed)" -lt "$BOOT_LIMIT" ] || fail "timed out after ${BOOT_LIMIT}s"
	sleep 1
done
boot_s=$(elapsed)
echo "--- kernel messages, all seen after ${boot_s}s (Run at $(linux_kernel_time "$T/log" 'Run /sbin/ksmvmm-spin')s kernel time)"
linux_check "$T/log" "$T/expect"

# 2. Free page reports reaching the VMM: the balloon's counter in ksmctl devices.
balloon_reported() { # prints the counter, or fails
	"$KSMCTL" --control "$SOCK" devices "$GUEST" --json >"$T/devices.json" 2>"$T/ksmctl.err" ||
		return 1
	python3 - "$T/devices.json" "$BALLOON_KEY" <<'EOF'
import json, sys
kind, counter = sys.argv[2].split(".")
dev = [d for d in json.load(open(sys.argv[1]))["devices"] if d["kind"] == kind][0]
print(int(dev["counters"][counter]))
EOF
}

deadline=$((boot_s + REPORT_LIMIT))
reported=0
while :; do
	reported=$(balloon_reported 2>>"$T/ksmctl.err") || reported=0
	[ "$reported" -gt 0 ] && break
	snapshot
	grep -aqE "$LINUX_PANIC_RE" "$T/log" && fail "the kernel panicked before a free page report"
	kill -0 "$VMM_PID" 2>/dev/null || fail "ksmvmm exited before a free page report"
	if [ "$(elapsed)" -ge "$deadline" ]; then
		echo "--- ksmctl devices $GUEST --json: $(head -c 600 "$T/devices.json" 2>/dev/null)"
		echo "--- ksmctl stderr: $(tail -n 3 "$T/ksmctl.err")"
		fail "no free page report ($BALLOON_KEY > 0) within ${REPORT_LIMIT}s after boot"
	fi
	sleep 2
done
echo "--- free page reports: $BALLOON_KEY = $reported after $(elapsed)s"

# 3. Still alive: the init spins, the kernel has not died since.
snapshot
grep -aqE "$LINUX_PANIC_RE" "$T/log" && fail "the kernel panicked"
kill -0 "$VMM_PID" 2>/dev/null || fail "ksmvmm exited"
echo "PASS: linux virtio-boot: boot ${boot_s}s, $CPUS CPUs, $NDEVICES virtio devices bound, $reported pages reported"
exit 0
