#!/bin/bash
# rootfs.sh - build the minimal guest's ext4 root image: busybox-static, the ksmvmm
# spin init, a busybox init configuration. No mounts and no loop devices: the tree is
# assembled in a temporary directory and written with `mke2fs -t ext4 -d`.
#
# Usage: tools/linux/rootfs.sh SPIN_INIT OUT.ext4 [SIZE_MIB (default 32)]
# Image layout: /bin/busybox and its applet links, /sbin/init -> busybox init (with
# /etc/inittab, /etc/init.d/rcS: a shell on the console, for hardware KVM where system
# calls work), /sbin/ksmvmm-spin (SPIN_INIT: boot with init=/sbin/ksmvmm-spin on hosts
# where they do not), empty /dev /proc /sys /tmp /root. Fixed UUID, hash seed and file
# times; the bytes still differ between builds (mke2fs 1.47.0 stamps inode ctimes with
# the build time), which does not matter: a fleet's guests share one image file.
# Installs busybox-static and e2fsprogs (apt-get) if missing.
set -euo pipefail

die() {
	echo "rootfs.sh: $*" >&2
	exit 1
}

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $0 SPIN_INIT OUT.ext4 [SIZE_MIB]"
SPIN=$1
OUT=$2
SIZE_MIB=${3:-32}
HERE=$(cd "$(dirname "$0")" && pwd)
UUID=6b736d76-6d6d-4c69-6e75-78726f6f7466
EPOCH=1700000000

[ -x "$SPIN" ] || die "spin init $SPIN is missing (make build/linux-min/ksmvmm-spin)"
need=()
[ -x /bin/busybox ] || need+=(busybox-static)
command -v mke2fs >/dev/null || need+=(e2fsprogs)
if [ ${#need[@]} -gt 0 ]; then
	echo "rootfs.sh: installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" ||
		die "apt-get install ${need[*]} failed"
fi
BB=/bin/busybox
# Debian's busybox package is dynamic; busybox-static replaces it with a static one.
if LC_ALL=C ldd "$BB" >/dev/null 2>&1; then
	die "$BB is dynamically linked: install busybox-static"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rootfs.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
R=$TMP/root
mkdir -p "$R"/{bin,sbin,etc/init.d,dev,proc,sys,tmp,root}
cp "$BB" "$R/bin/busybox"
for applet in $("$BB" --list); do
	[ "$applet" = busybox ] && continue
	[ -e "$R/bin/$applet" ] || ln -s busybox "$R/bin/$applet"
done
ln -s ../bin/busybox "$R/sbin/init"
cp "$SPIN" "$R/sbin/ksmvmm-spin"
cp "$HERE/inittab" "$R/etc/inittab"
cp "$HERE/rcS" "$R/etc/init.d/rcS"
chmod 755 "$R/bin/busybox" "$R/sbin/ksmvmm-spin" "$R/etc/init.d/rcS"
chmod 1777 "$R/tmp"
# The kernel opens /dev/console on its own initial rootfs before it mounts this one, so
# the node is a convenience (a shell started before devtmpfs is mounted), not a need.
mknod -m 600 "$R/dev/console" c 5 1 2>/dev/null || true
find "$R" -exec touch -h -d "@$EPOCH" {} +

rm -f "$OUT.tmp"
mke2fs -q -F -t ext4 -b 4096 -L ksmvmm-root -U "$UUID" \
	-E root_owner=0:0,hash_seed=$UUID -d "$R" "$OUT.tmp" "${SIZE_MIB}M" ||
	die "mke2fs failed"
mv "$OUT.tmp" "$OUT"
echo "rootfs.sh: $OUT (${SIZE_MIB} MiB ext4, busybox $("$BB" | head -n 1 | cut -d' ' -f2))"
