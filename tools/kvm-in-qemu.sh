#!/bin/bash
# kvm-in-qemu.sh - run a command where /dev/kvm exists: inside a Linux VM under QEMU's
# TCG, whose emulated AMD SVM lets the VM's own kvm-amd give it a real /dev/kvm.
#
# Usage: tools/kvm-in-qemu.sh [--mem SIZE] [--cpus N] [--timeout SECONDS] [--cpu MODEL]
#                             [--verbose] -- COMMAND [ARG...]
#
# The VM runs Debian's stock kernel (apt-get download + dpkg-deb, never installed) and a
# busybox initramfs that loads kvm, kvm-amd and 9p, mounts the host's root read-only and
# this repository read-write at the same path (virtio-9p), chroots into the host root and
# runs COMMAND in the current directory, with output on the serial console (our stdout).
# The VM powers off after COMMAND; we exit with COMMAND's status, 124 if the time limit
# hit first, 125 if the VM never reported a status. /tmp, /run and /dev/shm inside are
# fresh tmpfs; everything outside the repository is read-only. KSMVMM_* variables pass in.
# Kernel and initramfs are cached in build/kvm-in-qemu/ and rebuilt only when missing
# or when this script changes. Needs: qemu-system-x86, busybox-static, kmod, cpio, gzip.
set -euo pipefail

MEM=4G
CPUS=2
LIMIT=1800
CPU_MODEL=max
VERBOSE=0

die() {
	echo "kvm-in-qemu: $*" >&2
	exit 125
}

usage() {
	die "usage: $0 [--mem SIZE] [--cpus N] [--timeout SECONDS] [--cpu MODEL] [--verbose] -- COMMAND..."
}

while [ $# -gt 0 ]; do
	case "$1" in
	--mem) MEM=${2:?}; shift 2 ;;
	--cpus) CPUS=${2:?}; shift 2 ;;
	--timeout) LIMIT=${2:?}; shift 2 ;;
	--cpu) CPU_MODEL=${2:?}; shift 2 ;;
	--verbose) VERBOSE=1; shift ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
[[ $CPUS =~ ^[1-9][0-9]*$ ]] || die "--cpus wants a positive number, not '$CPUS'"
[[ $LIMIT =~ ^[1-9][0-9]*$ ]] || die "--timeout wants seconds, not '$LIMIT'"

SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/.." && pwd -P)
CACHE=$REPO/build/kvm-in-qemu
CWD=$(pwd -P)
# Paths travel on the kernel command line, which splits at whitespace.
case "$REPO$CWD" in *[[:space:]]*) die "paths with whitespace are not supported" ;; esac

for t in qemu-system-x86_64 apt-get apt-cache dpkg-deb modinfo cpio gzip timeout sha256sum; do
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
o=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o "$o,ro,cache=loose" hostroot /newroot || halt_vm "cannot mount host root"
mount -t 9p -o "$o,cache=mmap" repo "/newroot$repo" || halt_vm "cannot mount $repo"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
for d in /dev/shm /tmp /run /var/tmp; do
	mount -t tmpfs tmpfs "/newroot$d"
done
echo "KVM-IN-QEMU: up $(cut -d' ' -f1 /proc/uptime)s, running the command"
chroot /newroot /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
	HOME=/root TERM=dumb LANG=C.UTF-8 /bin/bash "$run/cmd" </dev/null
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
}

mkdir -p "$CACHE"
if [ "$(cat "$CACHE/key" 2>/dev/null)" != "$KEY" ] || [ ! -s "$CACHE/bzImage" ] ||
	[ ! -s "$CACHE/initramfs.cpio.gz" ]; then
	rm -f "$CACHE/key"
	compgen -G "$CACHE/dl/root/boot/vmlinuz-*" >/dev/null || fetch_kernel
	build_initramfs
	echo "$KEY" >"$CACHE/key"
fi

RUN=$(mktemp -d "$CACHE/run.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
{
	printf 'cd %q || exit 125\n' "$CWD"
	while IFS='=' read -r name _; do
		printf 'export %s=%q\n' "$name" "${!name}"
	done < <(env | grep -E '^KSMVMM_[A-Za-z0-9_]*=' || true)
	printf '%q ' "$@"
	echo
} >"$RUN/cmd"

CMDLINE="console=ttyS0 panic=-1 kvmq.repo=$REPO kvmq.run=$RUN"
[ "$VERBOSE" = 1 ] || CMDLINE="$CMDLINE quiet loglevel=3"
set +e
timeout -k 10 "$LIMIT" qemu-system-x86_64 -accel tcg,thread=multi -cpu "$CPU_MODEL" \
	-smp "$CPUS" -m "$MEM" -nodefaults -no-reboot -display none \
	-chardev stdio,id=con,signal=off -serial chardev:con \
	-kernel "$CACHE/bzImage" -initrd "$CACHE/initramfs.cpio.gz" -append "$CMDLINE" \
	-fsdev local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	-fsdev local,id=repo,path="$REPO",security_model=passthrough,multidevs=remap \
	-device virtio-9p-pci,fsdev=repo,mount_tag=repo </dev/null
qemu_status=$?
set -e
if [ "$qemu_status" = 124 ]; then
	echo "kvm-in-qemu: time limit of ${LIMIT}s hit, VM killed" >&2
	exit 124
fi
[ -s "$RUN/status" ] || die "the VM reported no status (qemu exit $qemu_status)"
exit "$(cat "$RUN/status")"
