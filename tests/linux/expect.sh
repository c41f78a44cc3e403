# expect.sh - what the minimal Linux guest's kernel must print, shared by the ksmvmm
# test (virtio-boot.sh) and the QEMU reference runs (qemu-microvm.sh, qemu-mptable.sh). Source it.
#
# The guest's init makes no system call (tools/linux/init-spin.c), so the kernel log is
# the whole proof. The kernel is built with DEBUG_DRIVER and booted with loglevel=8 so
# that the driver core logs every binding ("driver: 'virtio_rng': driver_bound: bound to
# device 'virtio1'"): virtio drivers print nothing of their own on probe.
#
# Each expectation: NAME|COUNT|EXTENDED REGEX (matched per line with grep -aE, COUNT the
# number of matching lines needed). Every file the guest's console output went to is
# searched (the log moves from the UART to hvc0 when the virtio console binds).

# Is /dev/kvm here PVM's (software virtualization)? There a Linux guest never brings up
# its second CPU: measured 2026-12-08, the kernel stopped after "x86: Booting SMP
# configuration:" for minutes, with our ACPI tables and with acpi=off (the MP table)
# alike. The Linux tests need 2 CPUs, so they run on real KVM nested in QEMU there
# (tools/kvm-in-qemu.sh, as .ci/run does). KSMVMM_LINUX_ON_PVM=1 runs them anyway.
linux_on_pvm() {
	[ -d /sys/module/kvm_pvm ] && [ "${KSMVMM_LINUX_ON_PVM:-0}" != 1 ]
}

# Exit 77 with the reason when this host cannot run the Linux tests.
linux_skip_unless_kvm() {
	if [ ! -c "${KSMVMM_KVM_DEVICE:-/dev/kvm}" ]; then
		echo "SKIPPED: /dev/kvm is missing, this test boots a Linux guest on ksmvmm"
		exit 77
	fi
	if linux_on_pvm; then
		echo "SKIPPED: /dev/kvm here is PVM's, where a Linux guest never brings up its"
		echo "         second CPU: run this test nested, e.g."
		echo "         tools/kvm-in-qemu.sh -- bash $0 (as .ci/run does)"
		exit 77
	fi
}

# The guest's command line, without the device entries (the VMM or QEMU adds those).
# init=: the no-syscall init; ksmvmm_spin: how long it spins before its ud2 (seconds).
# earlyprintk: the boot up to the virtio console, on COM1; after "bootconsole
# [earlyser0] disabled" only hvc0 carries the log. The PVM options (see
# tests/linux/boot-banner.sh) are harmless elsewhere.
linux_cmdline() { # SPIN_SECONDS
	echo "console=hvc0 earlyprintk=serial,ttyS0,115200 loglevel=8" \
		"root=/dev/vda rootfstype=ext4 ro init=/sbin/ksmvmm-spin ksmvmm_spin=$1" \
		"noxsave clearcpuid=smap,popcnt,ssse3,sse4_1,sse4_2,pclmulqdq,aes,sha_ni" \
		"mitigations=off nosoftlockup tsc=reliable no_timer_check panic=-1 reboot=t"
}

# linux_expectations NCPUS NDEVICES: print the expectation lines.
linux_expectations() {
	cat <<EOF
banner|1|Linux version [0-9]
mmio-devices|$2|virtio-mmio: Registering device virtio-mmio\.[0-9]+ at
mmio-bound|$2|driver: 'virtio-mmio': driver_bound: bound to device 'virtio-mmio\.[0-9]+'
cpus|1|smp: Brought up 1 node, $1 CPUs
console-bound|1|driver: 'virtio_console': driver_bound: bound to device 'virtio[0-9]+'
hvc0-console|1|printk: console \[hvc0\] enabled
serial-handover|1|printk: bootconsole \[earlyser0\] disabled
rng-bound|1|driver: 'virtio_rng': driver_bound: bound to device 'virtio[0-9]+'
balloon-bound|1|driver: 'virtio_balloon': driver_bound: bound to device 'virtio[0-9]+'
blk-bound|1|driver: 'virtio_blk': driver_bound: bound to device 'virtio[0-9]+'
vda|1|virtio_blk virtio[0-9]+: \[vda\] [0-9]+ 512-byte logical blocks
ext4-mounted|1|EXT4-fs \(vda\): mounted filesystem
root-mounted|1|VFS: Mounted root \(ext4 filesystem\) readonly on device [0-9]+:[0-9]+
init-run|1|Run /sbin/ksmvmm-spin as init process
EOF
}

# linux_acpi_expectations: what ksmvmm's ACPI tables (vmm/acpi.h) give the kernel: the
# MADT as its SMP source, the generic event device and the generation ID bound by their
# drivers. (Not in linux_expectations: the QEMU checks boot the kernel on other tables.)
linux_acpi_expectations() {
	cat <<EOF
acpi-madt|1|Using ACPI \(MADT\) for SMP configuration information
ged-bound|1|driver: 'acpi-ged': driver_bound: bound to device 'ACPI0013:00'
vmgenid-bound|1|driver: 'vmgenid': driver_bound: bound to device 'VMGENCTR:00'
EOF
}

# What a kernel prints once vmgenid saw a new generation ID (a restored or cloned guest).
LINUX_RESEED_RE="crng reseeded due to virtual machine fork"

# The init's end: its ud2 trapped by the kernel, then the panic it causes. Not an
# expectation (it comes ksmvmm_spin seconds after init-run), reported when seen.
LINUX_TRAP_RE="ksmvmm-spin\[1\] trap invalid opcode"
LINUX_PANIC_RE="Kernel panic - not syncing"

# linux_log DIR...: every console file under the directories (or files) given.
linux_log() {
	local d
	for d in "$@"; do
		if [ -d "$d" ]; then
			cat "$d"/* 2>/dev/null
		else
			cat "$d" 2>/dev/null
		fi
	done | tr -d '\r'
}

# linux_check LOGFILE EXPECTATIONS_FILE: 0 if all are met. Prints, per expectation,
# "ok" or "MISSING" with the count and the first matching line.
linux_check() {
	local log=$1 name count re n first bad=0
	while IFS='|' read -r name count re; do
		[ -n "$name" ] || continue
		n=$(grep -acE -- "$re" "$log")
		first=$(grep -aE -m1 -- "$re" "$log" | cut -c1-110)
		if [ "$n" -ge "$count" ]; then
			printf '  ok       %-16s %s\n' "$name" "$first"
		else
			printf '  MISSING  %-16s %s of %s lines /%s/\n' "$name" "$n" "$count" "$re"
			bad=1
		fi
	done <"$2"
	return $bad
}

# linux_all_met LOGFILE EXPECTATIONS_FILE: quiet linux_check.
linux_all_met() {
	linux_check "$1" "$2" >/dev/null
}

# linux_kernel_time LOGFILE REGEX: the printk timestamp (seconds) of the first line
# matching REGEX, or nothing.
linux_kernel_time() {
	grep -aE -m1 -- "$2" "$1" | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'
}

# linux_need_files HINT FILE...: fail (exit 1) unless every FILE is readable; HINT says
# how to make them.
linux_need_files() {
	local hint=$1 f
	shift
	for f in "$@"; do
		[ -r "$f" ] || { echo "FAIL: $f is missing ($hint)"; exit 1; }
	done
}

# linux_qemu_scratch NAME: T, a fresh directory /tmp/ksmvmm-NAME.*, and QEMU_PID (empty:
# the caller sets it when QEMU starts); at exit the QEMU is killed and T removed.
linux_qemu_scratch() {
	T=$(mktemp -d "/tmp/ksmvmm-$1.XXXXXX")
	QEMU_PID=
	trap linux_qemu_cleanup EXIT
}

linux_qemu_cleanup() {
	[ -n "$QEMU_PID" ] && kill -KILL "$QEMU_PID" 2>/dev/null && wait "$QEMU_PID" 2>/dev/null
	rm -rf "$T"
}
