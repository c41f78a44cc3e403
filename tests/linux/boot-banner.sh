#!/bin/bash
# boot-banner.sh - Linux smoke test (make test-linux): boot Debian's kernel on ksmvmm.
#
# PASS when the serial console shows "Linux version" within KSMVMM_LINUX_TIMEOUT seconds
# (default 600). Also reports, without requiring it, whether the initramfs printed
# KSMVMM-LINUX-READY (it waits for that up to KSMVMM_LINUX_READY_TIMEOUT more seconds,
# default 60, never past the overall limit: on hardware KVM the whole boot takes seconds;
# on PVM the kernel reaches /init after minutes and init dies at its first syscall, a PVM
# limit for unmodified kernels). Exit: 0 pass, 1 fail, 77 skipped (no /dev/kvm). The VMM
# is always killed at the end.
set -u
cd "$(dirname "$0")/../.."

KSMVMM=$PWD/build/ksmvmm
KERNEL=${KSMVMM_LINUX_KERNEL:-$PWD/build/linux/vmlinux}
INITRD=${KSMVMM_LINUX_INITRD:-$PWD/build/linux/initramfs.cpio.gz}
LIMIT=${KSMVMM_LINUX_TIMEOUT:-600}
READY_LIMIT=${KSMVMM_LINUX_READY_TIMEOUT:-60}
# Kernel options, chosen on PVM (software KVM, CPL0 code interpreted) and harmless on
# hardware KVM: earlyprintk prints the banner as soon as setup_arch parses the command
# line (~10 s on PVM). PVM shows the guest some CPUID bits whatever KVM_SET_CPUID2 says,
# and its instruction emulator lacks XRSTOR, CLAC, POPCNT and SSSE3+ instructions:
# noxsave (FXSAVE instead) and clearcpuid keep the kernel off them; mitigations=off keeps
# VERW out of kernel exits. The rest skips work that is slow when interpreted
# (crypto self-tests, IPv6, audit, PCI and i8042 probing, TSC checks); panic=-1 reboot=t
# make a dying guest triple-fault (KVM_EXIT_SHUTDOWN) so that ksmvmm ends it.
CLEAR=smap,popcnt,ssse3,sse4_1,sse4_2,pclmulqdq,aes,sha_ni
CMDLINE=${KSMVMM_LINUX_CMDLINE:-"console=ttyS0 earlyprintk=serial,ttyS0,115200 noxsave clearcpuid=$CLEAR mitigations=off nosoftlockup cryptomgr.notests ipv6.disable=1 audit=0 apparmor=0 pci=off i8042.noaux i8042.nokbd tsc=reliable no_timer_check panic=-1 reboot=t"}

T=$(mktemp -d /tmp/ksmvmm-linux.XXXXXX)
CONSOLE=$T/console/g0.log
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

result() { # PASS|FAIL|SKIP, message
	echo "$1: linux boot-banner: $2"
	if [ "$1" = FAIL ]; then
		echo "--- ksmvmm messages (last 20)"
		grep -a '^ksmvmm' "$T/vmm.log" 2>/dev/null | tail -n 20
		echo "--- console (last 30 lines)"
		tail -n 30 "$CONSOLE" 2>/dev/null
	fi
}

if [ ! -c "${KSMVMM_KVM_DEVICE:-/dev/kvm}" ]; then
	result SKIP "/dev/kvm is missing"
	exit 77
fi
for f in "$KSMVMM" "$KERNEL" "$INITRD"; do
	if [ ! -r "$f" ]; then
		result FAIL "$f is missing (run make all build/linux/.done)"
		exit 1
	fi
done

mkdir -p "$T/console"
t0=$(date +%s)
"$KSMVMM" run --count 1 --mem 256M --kernel "$KERNEL" --initrd "$INITRD" \
	--cmdline "$CMDLINE" --console "$T/console" >"$T/vmm.log" 2>&1 &
VMM_PID=$!

elapsed() { echo $(($(date +%s) - t0)); }
seen() { grep -aq "$1" "$CONSOLE" 2>/dev/null; }

# wait_for PATTERN DEADLINE: 0 when PATTERN shows up, 1 on timeout, 2 when ksmvmm exits.
wait_for() {
	while [ "$(elapsed)" -lt "$2" ]; do
		seen "$1" && return 0
		if ! kill -0 "$VMM_PID" 2>/dev/null; then
			seen "$1" && return 0
			return 2
		fi
		sleep 1
	done
	seen "$1"
}

wait_for "Linux version" "$LIMIT"
case $? in
0) ;;
1)
	result FAIL "no \"Linux version\" on the console within ${LIMIT}s"
	exit 1
	;;
*)
	result FAIL "ksmvmm exited after $(elapsed)s before the kernel printed its banner"
	exit 1
	;;
esac
banner_s=$(elapsed)
echo "banner after ${banner_s}s: $(grep -a -m1 -o 'Linux version [^ ]*' "$CONSOLE")"

ready_deadline=$((banner_s + READY_LIMIT))
[ "$ready_deadline" -gt "$LIMIT" ] && ready_deadline=$LIMIT
wait_for KSMVMM-LINUX-READY "$ready_deadline"
case $? in
0) echo "initramfs ready after $(elapsed)s: $(grep -a -m1 KSMVMM-LINUX-READY "$CONSOLE")" ;;
1) echo "note: no KSMVMM-LINUX-READY within $(elapsed)s (not required); console ends with:" ;;
*) echo "note: the guest ended after $(elapsed)s without KSMVMM-LINUX-READY (not required):" ;;
esac
if ! seen KSMVMM-LINUX-READY; then
	tail -n 5 "$CONSOLE" | sed 's/^/  | console: /'
	grep -a '^ksmvmm' "$T/vmm.log" | tail -n 3 | sed 's/^/  | /'
fi
result PASS "banner after ${banner_s}s"
exit 0
