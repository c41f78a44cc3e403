#!/bin/bash
# snapshot-restore.sh - the minimal Linux guest snapshotted after it reached its init,
# then restored 4 times (make test-linux-min, and CI nested).
#
# Boots build/linux-min/vmlinux with 2 CPUs, the ext4 root as a snapshot --disk and the
# default virtio devices, its init spinning on rdtsc for KSMVMM_LINUX_SPIN seconds
# before a trapped ud2. Once "Run /sbin/ksmvmm-spin" is on the console it takes
# `ksmctl snapshot`, stops the parent and starts `ksmvmm run --restore DIR --count 4`.
# Each restored kernel must go on from where the parent was: its init keeps spinning on
# the restored TSC and traps when its time is up, and each kernel logs that trap on its
# own virtio console (its own console file) -- interrupts, timers, the console driver
# and the init all resumed. The 4 restored guests must cost together less than twice
# the parent's memory (host Pss, after the restore).
#
# Exit: 0 pass, 1 fail, 77 skipped (no /dev/kvm, or PVM's: tests/linux/expect.sh).
# Environment: KSMVMM_LINUX_BOOT_TIMEOUT [180], KSMVMM_LINUX_SPIN [90],
#   KSMVMM_LINUX_KERNEL, KSMVMM_LINUX_ROOTFS [build/linux-min/...]
set -u
cd "$(dirname "$0")/../.."
source tests/linux/expect.sh

KSMVMM=$PWD/build/ksmvmm
KSMCTL=$PWD/build/ksmctl
KERNEL=${KSMVMM_LINUX_KERNEL:-$PWD/build/linux-min/vmlinux}
ROOTFS=${KSMVMM_LINUX_ROOTFS:-$PWD/build/linux-min/rootfs.ext4}
BOOT_LIMIT=${KSMVMM_LINUX_BOOT_TIMEOUT:-180}
SPIN=${KSMVMM_LINUX_SPIN:-90}
TRAP_RE='trap invalid opcode'

linux_skip_unless_kvm
T=$(mktemp -d /tmp/ksmvmm-linux-snap.XXXXXX)
SOCK=$T/control.sock
VMM_PID=
cleanup() {
	if [ -n "$VMM_PID" ] && kill -0 "$VMM_PID" 2>/dev/null; then
		kill -KILL "$VMM_PID" 2>/dev/null
		wait "$VMM_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }
fail() {
	echo "--- ksmvmm (last 20 lines)"
	tail -n 20 "$T/vmm.log" 2>/dev/null
	for f in "$T"/console*/*.log; do
		[ -f "$f" ] && { echo "--- $f (last 8 lines)"; tail -n 8 "$f"; }
	done
	echo "FAIL: linux snapshot-restore: $*"
	exit 1
}
for f in "$KSMVMM" "$KSMCTL" "$KERNEL" "$ROOTFS"; do
	[ -r "$f" ] || { echo "FAIL: $f is missing (run make all linux-min)"; exit 1; }
done

mkdir -p "$T/console"
"$KSMVMM" run --count 1 --cpus 2 --mem 256M --kernel "$KERNEL" --disk "$ROOTFS,snapshot" \
	--cmdline "$(linux_cmdline "$SPIN")" --control "$SOCK" --console "$T/console" \
	>"$T/vmm.log" 2>&1 &
VMM_PID=$!
until linux_log "$T/console" | grep -aq 'Run /sbin/ksmvmm-spin'; do
	kill -0 "$VMM_PID" 2>/dev/null || fail "ksmvmm exited during the boot"
	[ "$(elapsed)" -lt "$BOOT_LIMIT" ] || fail "no init within ${BOOT_LIMIT}s"
	sleep 1
done
t_init=$(elapsed)
echo "--- init reached after ${t_init}s"
linux_log "$T/console" | grep -aq "bound to device 'VMGENCTR:00'" ||
	fail "the parent's kernel did not bind the generation ID device"
sleep 3 # the init spins; the kernel's deferred work after Run settles
parent_pss=$(python3 tests/lib/fleet.py pss "$VMM_PID") || fail "cannot read the parent's Pss"
# A live clone first: it goes on too, under a new generation ID; the parent keeps its own.
"$KSMCTL" --control "$SOCK" clone g0 --count 1 >"$T/clone.out" 2>&1 ||
	fail "ksmctl clone g0 failed: $(cat "$T/clone.out")"
for _ in $(seq 1 90); do
	grep -aq "$LINUX_RESEED_RE" "$T/console/g0-1.log" 2>/dev/null && break
	sleep 1
done
grep -aq "$LINUX_RESEED_RE" "$T/console/g0-1.log" 2>/dev/null ||
	fail "the clone g0-1 did not see a new generation ID"
echo "--- live clone g0-1: $(grep -am1 "$LINUX_RESEED_RE" "$T/console/g0-1.log")"
grep -aq 'Linux version' "$T/console/g0-1.log" && fail "the clone g0-1 booted again"
t_snap=$(elapsed)
"$KSMCTL" --control "$SOCK" snapshot g0 "$T/snap" || fail "snapshot failed"
echo "--- snapshot taken in $(($(elapsed) - t_snap))s (parent Pss $((parent_pss >> 20)) MiB)"
linux_log "$T/console" | grep -aq "$TRAP_RE" && fail "the spin ended before the snapshot"
grep -aq "$LINUX_RESEED_RE" "$T/console/g0.log" && fail "the parent reseeded for a fork"
"$KSMCTL" --control "$SOCK" stop >/dev/null
wait "$VMM_PID"
VMM_PID=

mkdir -p "$T/console2"
"$KSMVMM" run --restore "$T/snap" --count 4 --name c --control "$SOCK" \
	--console "$T/console2" >"$T/vmm.log" 2>&1 &
VMM_PID=$!
for _ in $(seq 1 60); do
	[ "$("$KSMCTL" --control "$SOCK" list 2>/dev/null | grep -c ' running')" -eq 4 ] && break
	kill -0 "$VMM_PID" 2>/dev/null || fail "the restore failed"
	sleep 1
done
sleep 2
pss=$(python3 tests/lib/fleet.py pss "$VMM_PID") || fail "cannot read Pss"
echo "--- 4 restored guests running: Pss $((pss >> 20)) MiB (the parent alone: $((parent_pss >> 20)) MiB)"
[ "$pss" -lt $((2 * parent_pss)) ] || fail "4 restored guests cost more than twice the parent"
deadline=$(($(elapsed) + SPIN + 60))
for i in 0 1 2 3; do
	until grep -aq "$TRAP_RE" "$T/console2/c$i.log" 2>/dev/null; do
		[ "$(elapsed)" -lt "$deadline" ] || fail "c$i's init did not trap on its console"
		sleep 1
	done
	echo "--- c$i: $(grep -am1 "$TRAP_RE" "$T/console2/c$i.log")"
	grep -aq "$LINUX_RESEED_RE" "$T/console2/c$i.log" ||
		fail "c$i's kernel did not see a new generation ID ($LINUX_RESEED_RE)"
	echo "--- c$i: $(grep -am1 "$LINUX_RESEED_RE" "$T/console2/c$i.log")"
done
for i in 0 1 2 3; do
	grep -aq 'Linux version' "$T/console2/c$i.log" && fail "c$i booted again instead of going on"
done
echo "PASS: linux snapshot-restore: init after ${t_init}s, a live clone reseeded, 4 restored kernels went on, reseeded for their new generation IDs and trapped on their own consoles, Pss $((pss >> 20)) MiB for 4 (parent $((parent_pss >> 20)) MiB)"
exit 0
