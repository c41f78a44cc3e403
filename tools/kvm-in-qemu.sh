#!/bin/bash
# kvm-in-qemu.sh - run a command where /dev/kvm exists: inside a Linux VM under QEMU's
# TCG, whose emulated AMD SVM lets the VM's own kvm-amd give it a real /dev/kvm.
#
# Usage: tools/kvm-in-qemu.sh [--mem SIZE] [--cpus N] [--timeout SECONDS] [--cpu MODEL]
#                             [--silence SECONDS] [--verbose] -- COMMAND [ARG...]
#
# The VM runs Debian's stock kernel (apt-get download + dpkg-deb, never installed) and a
# busybox initramfs that loads kvm, kvm-amd and 9p, mounts the host's root read-only and
# this repository read-write at the same path (virtio-9p), chroots into the host root and
# runs COMMAND in the current directory, with output on the serial console (our stdout).
# The VM powers off after COMMAND; we exit with COMMAND's status, 124 if the time limit
# hit first, 123 if the VM printed nothing for --silence SECONDS (the emulated machine
# stalled: its own watchdog below never fired either; 0 = no such limit, the default),
# 125 if the VM never reported a status. /tmp, /run and /dev/shm inside are
# fresh tmpfs (caches go to /tmp/.cache); everything outside the repository is
# read-only. The environment is clean but for the KSMVMM_* variables, which pass in.
# Kernel and initramfs are cached in build/kvm-in-qemu/ and rebuilt only when missing
# or when this script changes. Needs: qemu-system-x86, busybox-static, kmod, cpio, gzip.
set -euo pipefail

MEM=4G
# One CPU by default: with -smp 2 the VM's own kernel panicked ("corrupted stack end
# detected inside scheduler", in our vCPU threads) or hung (RCU stalls) in 5 of about 30
# KVM-suite runs; with one CPU the whole suite passed. Guests keep their own vCPU counts.
CPUS=1
LIMIT=1800
CPU_MODEL=max
VERBOSE=0
SILENCE=0

die() {
	echo "kvm-in-qemu: $*" >&2
	exit 125
}

usage() {
	die "usage: $0 [--mem SIZE] [--cpus N] [--timeout SECONDS] [--cpu MODEL] [--silence SECONDS] [--verbose] -- COMMAND..."
}

# Sets the option variables and ARGS, the command.
parse_args() {
	while [ $# -gt 0 ]; do
		case "$1" in
		--mem) MEM=${2:?}; shift 2 ;;
		--cpus) CPUS=${2:?}; shift 2 ;;
		--timeout) LIMIT=${2:?}; shift 2 ;;
		--cpu) CPU_MODEL=${2:?}; shift 2 ;;
		--silence) SILENCE=${2:?}; shift 2 ;;
		--verbose) VERBOSE=1; shift ;;
		--) shift; break ;;
		*) usage ;;
		esac
	done
	[ $# -gt 0 ] || usage
	[[ $CPUS =~ ^[1-9][0-9]*$ ]] || die "--cpus wants a positive number, not '$CPUS'"
	[[ $LIMIT =~ ^[1-9][0-9]*$ ]] || die "--timeout wants seconds, not '$LIMIT'"
	[[ $SILENCE =~ ^[0-9]+$ ]] || die "--silence wants seconds, not '$SILENCE'"
	ARGS=("$@")
}

SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/.." && pwd -P)
CACHE=$REPO/build/kvm-in-qemu
CWD=$(pwd -P)
# Paths travel on the kernel command line, which splits at whitespace.
case "$REPO$CWD" in *[[:space:]]*) die "paths with whitespace are not supported" ;; esac

for t in qemu-system-x86_64 apt-get apt-cache dpkg-deb modinfo cpio gzip xz od timeout sha256sum flock; do
	command -v "$t" >/dev/null 2>&1 || die "missing tool '$t' (apt-get install qemu-system-x86 kmod cpio)"
done

# The /init of the VM. Kernel command line: kvmq.repo=PATH kvmq.run=DIR; DIR (inside
# the repository) holds cmd, the script to run, and receives status.
read -r -d '' INIT <<'EOF' || true
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	kvmq.repo=*) repo=${arg#kvmq.repo=} ;;
	kvmq.run=*) run=${arg#kvmq.run=} ;;
	kvmq.limit=*) limit=${arg#kvmq.limit=} ;;
	esac
done
halt_vm() {
	echo "KVM-IN-QEMU: $*"
	sync
	poweroff -f
}
while read -r mod; do
	insmod "/lib/modules/$mod" || echo "KVM-IN-QEMU: insmod $mod failed"
done </lib/modules/order
[ -c /dev/kvm ] || { dmesg | grep -i -E 'kvm|svm' | tail -n 5; halt_vm "no /dev/kvm"; }
# Loopback up: tests reach the VMM over TCP on 127.0.0.1 (the HTTP /metrics endpoint).
ip link set lo up || echo "KVM-IN-QEMU: cannot bring up the loopback interface"
o=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$o,ro,cache=loose" hostroot /newroot || halt_vm "cannot mount host root"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
for d in /dev/shm /tmp /run /var/tmp; do
	mount -t tmpfs tmpfs "/newroot$d"
done
# After the tmpfs mounts, so that a repository under /tmp (a CI clone) is not hidden.
mkdir -p "/newroot$repo" 2>/dev/null
mount -t 9p -o "$o,cache=mmap" repo "/newroot$repo" || halt_vm "cannot mount $repo"
# Shortly before the host kills the VM, show what hangs: every task's state and wait
# channel, and the kernel stacks of blocked tasks.
(
	sleep $((limit > 40 ? limit - 20 : limit / 2))
	echo "KVM-IN-QEMU: time limit near; user tasks (pid comm state wchan: command):"
	for p in /proc/[0-9]*; do
		c=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)
		[ -n "$c" ] || continue
		echo "$(cut -d' ' -f1-3 "$p/stat") $(cat "$p/wchan"): $c"
	done 2>/dev/null
	dmesg -n 7
	echo w >/proc/sysrq-trigger
) &
echo "KVM-IN-QEMU: up $(cut -d' ' -f1 /proc/uptime)s, running the command"
chroot /newroot /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
	HOME=/root XDG_CACHE_HOME=/tmp/.cache TERM=dumb LANG=C.UTF-8 /bin/bash "$run/cmd" </dev/null
status=$?
echo "$status" >"/newroot$run/status"
umount "/newroot$repo"
halt_vm "exit $status at $(cut -d' ' -f1 /proc/uptime)s"
EOF

KEY=$(printf '%s' "$INIT" | cat - "$SELF" | sha256sum | cut -c1-16)

# Prints the .ko paths (relative to the module tree $1) of module $2 and everything it
# depends on, dependencies first, each once (the caller deduplicates).
module_closure() {
	local tree=$1 name=$2 file dep
	file=$(find "$tree/kernel" -name "$name.ko" -o -name "${name//-/_}.ko" | head -n 1)
	[ -n "$file" ] || die "module $name not found in $tree"
	for dep in $(modinfo -F depends "$file" | tr ',' ' '); do
		module_closure "$tree" "$dep"
	done
	echo "${file#"$tree"/}"
}

fetch_kernel() {
	local pkg dl=$CACHE/dl
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
	if [ -z "$pkg" ]; then
		apt-get update -qq || die "apt-get update failed"
		pkg=$(apt-cache depends linux-image-amd64 |
			sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
	fi
	[ -n "$pkg" ] || die "cannot resolve linux-image-amd64"
	rm -rf "$dl" && mkdir -p "$dl"
	echo "kvm-in-qemu: downloading $pkg" >&2
	(cd "$dl" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
		{ apt-get update -qq && (cd "$dl" && apt-get download -q "$pkg" >/dev/null); } ||
		die "apt-get download $pkg failed"
	dpkg-deb -x "$dl"/*.deb "$dl/root" || die "dpkg-deb -x failed"
	rm -f "$dl"/*.deb
}

build_initramfs() {
	local trees kernels tree root mod bb=/bin/busybox
	trees=("$CACHE"/dl/root/lib/modules/*)
	kernels=("$CACHE"/dl/root/boot/vmlinuz-*)
	tree=${trees[0]}
	{ [ -d "$tree" ] && [ -f "${kernels[0]}" ]; } || die "no kernel or module tree in $CACHE/dl"
	LC_ALL=C ldd "$bb" >/dev/null 2>&1 && die "$bb is not static (apt-get install busybox-static)"
	root=$CACHE/initramfs.d
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,newroot,lib/modules}
	cp "$bb" "$root/bin/busybox"
	printf '%s\n' "$INIT" >"$root/init"
	chmod 755 "$root/init"
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
	for mod in kvm kvm-amd virtio_pci 9pnet_virtio 9p; do
		module_closure "$tree" "$mod"
	done | awk '!seen[$0]++' | while read -r mod; do
		cp "$tree/$mod" "$root/lib/modules/"
		basename "$mod"
	done >"$root/lib/modules/order"
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -1 >"$CACHE/initramfs.cpio.gz" || die "cpio/gzip failed"
	rm -rf "$root"
	cp "${kernels[0]}" "$CACHE/bzImage"
	extract_vmlinux "$CACHE/bzImage" "$CACHE/vmlinux"
}

# Unpacks the XZ payload of bzImage $1 to the ELF $2. QEMU boots that ELF through its
# PVH entry, which skips the decompressor: under TCG that saves ~20 s of every boot.
# Trailing bytes after the stream make xz fail, so only the ELF magic counts.
extract_vmlinux() {
	local off
	rm -f "$2"
	while read -r off; do
		tail -c +$((off + 1)) "$1" | xz -dc --single-stream >"$2.tmp" 2>/dev/null || true
		if [ "$(od -An -tx1 -N5 "$2.tmp" | tr -d ' \n')" = 7f454c4602 ]; then
			mv "$2.tmp" "$2"
			return 0
		fi
	done < <(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | cut -d: -f1)
	rm -f "$2.tmp"
	echo "kvm-in-qemu: no vmlinux in $1, booting the bzImage (slower)" >&2
}

# Builds the cache unless it is current. Parallel runs share it: one builds, the others
# wait on the lock.
prepare_cache() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/lock"
	flock 9
	if [ "$(cat "$CACHE/key" 2>/dev/null)" != "$KEY" ] || [ ! -s "$CACHE/bzImage" ] ||
		[ ! -s "$CACHE/initramfs.cpio.gz" ]; then
		rm -f "$CACHE/key"
		compgen -G "$CACHE/dl/root/boot/vmlinuz-*" >/dev/null || fetch_kernel
		build_initramfs
		echo "$KEY" >"$CACHE/key"
	fi
	exec 9>&-
}

# The script /init runs in the chroot: cd, the KSMVMM_* variables, the command.
write_cmd() {
	local name
	printf 'cd %q || exit 125\n' "$CWD"
	while IFS='=' read -r name _; do
		printf 'export %s=%q\n' "$name" "${!name}"
	done < <(env | grep -E '^KSMVMM_[A-Za-z0-9_]*=' || true)
	printf '%q ' "$@"
	echo
}

run_vm() {
	local cmdline="console=ttyS0 panic=-1 kvmq.repo=$REPO kvmq.run=$RUN kvmq.limit=$LIMIT"
	local kernel=$CACHE/vmlinux
	[ -s "$kernel" ] || kernel=$CACHE/bzImage
	[ "$VERBOSE" = 1 ] || cmdline="$cmdline quiet loglevel=3"
	${RUN_VM_EXEC:+exec} timeout -k 10 "$LIMIT" qemu-system-x86_64 -accel tcg,thread=multi -cpu "$CPU_MODEL" \
		-smp "$CPUS" -m "$MEM" -nodefaults -no-reboot -display none \
		-chardev stdio,id=con,signal=off -serial chardev:con \
		-kernel "$kernel" -initrd "$CACHE/initramfs.cpio.gz" -append "$cmdline" \
		-fsdev local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap \
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
		-fsdev local,id=repo,path="$REPO",security_model=passthrough,multidevs=remap \
		-device virtio-9p-pci,fsdev=repo,mount_tag=repo </dev/null
}

# run_vm, its output passed on line by line; if no line comes for $SILENCE seconds, the
# VM is killed and this returns 123.
run_vm_watched() {
	local fifo pid line status silent=0
	fifo=$(mktemp -u "${TMPDIR:-/tmp}/kvm-in-qemu-out.XXXXXX")
	mkfifo -m 600 "$fifo"
	RUN_VM_EXEC=1 run_vm >"$fifo" & # the background shell becomes timeout: $! is its pid
	pid=$!
	# read times out with a status above 128; at the end of the output it returns 1.
	while status=0; IFS= read -r -t "$SILENCE" line || status=$?; [ "$status" = 0 ]; do
		printf '%s\n' "$line"
	done <"$fifo"
	printf '%s' "$line" # a last line without its newline
	rm -f "$fifo"
	if [ "$status" -gt 128 ]; then
		silent=1
		echo "kvm-in-qemu: the VM printed nothing for ${SILENCE}s, killed" >&2
		kill "$pid" 2>/dev/null || true
	fi
	status=0
	wait "$pid" || status=$?
	[ "$silent" = 0 ] || return 123
	return "$status"
}

# Everything runs from here, so bash has parsed the whole file before it starts: an edit
# or checkout of this script during a long run cannot change what the run does.
main() {
	local qemu_status=0
	parse_args "$@"
	prepare_cache
	RUN=$(mktemp -d "$CACHE/run.XXXXXX")
	trap 'rm -rf "$RUN"' EXIT
	write_cmd "${ARGS[@]}" >"$RUN/cmd"
	if [ "$SILENCE" -gt 0 ]; then
		run_vm_watched || qemu_status=$?
	else
		run_vm || qemu_status=$?
	fi
	[ "$qemu_status" = 123 ] && exit 123
	if [ "$qemu_status" = 124 ]; then
		echo "kvm-in-qemu: time limit of ${LIMIT}s hit, VM killed" >&2
		exit 124
	fi
	[ -s "$RUN/status" ] || die "the VM reported no status (qemu exit $qemu_status)"
	exit "$(cat "$RUN/status")"
}

main "$@"
