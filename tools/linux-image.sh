#!/bin/sh
# linux-image.sh - build the Linux smoke-test guest: Debian's kernel (bzImage and an
# uncompressed vmlinux ELF) plus a busybox initramfs.
#
# Usage: tools/linux-image.sh OUTDIR
# Writes OUTDIR/bzImage, OUTDIR/vmlinux, OUTDIR/initramfs.cpio.gz, OUTDIR/kernel-package
# (the package it came from), then touches OUTDIR/.done. The kernel package is
# downloaded with apt-get download and unpacked with dpkg-deb, never installed.
# Needs: apt, dpkg, xz-utils, zstd, cpio, gzip, busybox-static. Idempotent: a kernel
# already extracted from the current package is kept.
set -eu

die() {
	echo "linux-image.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
INIT=$HERE/initramfs-init

for t in apt-get apt-cache dpkg-deb xz zstd cpio gzip grep od; do
	command -v "$t" >/dev/null 2>&1 || die "missing tool '$t' (run tools/setup.sh)"
done
[ -r "$INIT" ] || die "missing $INIT"
mkdir -p "$OUT" || die "cannot create $OUT"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/linux-image.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

# The versioned package linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64.
resolve_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

# Sets PKG, VER and STAMP from the package lists; returns 1 if they cannot tell.
resolve() {
	PKG=$(resolve_package)
	[ -n "$PKG" ] || return 1
	VER=$(apt-cache policy "$PKG" | sed -n 's/^ *Candidate: //p')
	[ -n "$VER" ] && [ "$VER" != "(none)" ] || return 1
	STAMP="$PKG $VER"
}

apt_update() {
	echo "linux-image.sh: refreshing the package lists (apt-get update)" >&2
	apt-get update -qq || die "apt-get update failed"
}

if ! resolve; then
	apt_update
	resolve || die "cannot resolve linux-image-amd64 to an installable kernel package"
fi

# Print the byte offsets where the magic given as a grep -P pattern occurs in file $2.
magic_offsets() {
	LC_ALL=C grep -obUaP "$1" "$2" | cut -d: -f1
}

is_elf64() {
	[ "$(od -An -tx1 -N5 "$1" | tr -d ' \n')" = "7f454c4602" ]
}

# Decompress the payload of bzImage $1 into $2: try each XZ, then zstd, magic in turn
# and keep the first result that is an ELF64 file. Trailing data after the stream
# (the rest of the bzImage) makes the tools complain, so their status is ignored.
extract_vmlinux() {
	for off in $(magic_offsets '\xfd7zXZ\x00' "$1"); do
		tail -c +$((off + 1)) "$1" | xz -dc --single-stream >"$2" 2>/dev/null || true
		is_elf64 "$2" && return 0
	done
	for off in $(magic_offsets '\x28\xb5\x2f\xfd' "$1"); do
		tail -c +$((off + 1)) "$1" | zstd -dcq >"$2" 2>/dev/null || true
		is_elf64 "$2" && return 0
	done
	rm -f "$2"
	return 1
}

fetch_kernel() {
	echo "linux-image.sh: downloading $PKG ($VER)"
	if ! (cd "$TMP" && apt-get download -q "$PKG=$VER"); then
		# Stale lists name a version the mirror no longer has: refresh and retry once.
		apt_update
		resolve || die "cannot resolve linux-image-amd64 after apt-get update"
		echo "linux-image.sh: downloading $PKG ($VER)"
		(cd "$TMP" && apt-get download -q "$PKG=$VER") || die "apt-get download $PKG failed"
	fi
	deb=$(ls "$TMP"/*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || die "apt-get download produced no .deb"
	dpkg-deb -x "$deb" "$TMP/root" || die "dpkg-deb -x $deb failed"
	vmlinuz=$(ls "$TMP"/root/boot/vmlinuz-* 2>/dev/null | head -n 1)
	[ -n "$vmlinuz" ] || die "$PKG contains no /boot/vmlinuz-*"
	[ "$(dd if="$vmlinuz" bs=1 skip=514 count=4 2>/dev/null)" = "HdrS" ] ||
		die "$vmlinuz is not a bzImage"
	cp "$vmlinuz" "$OUT/bzImage.tmp"
	extract_vmlinux "$OUT/bzImage.tmp" "$OUT/vmlinux.tmp" ||
		die "no XZ or zstd payload in $vmlinuz decompresses to an ELF vmlinux"
	mv "$OUT/bzImage.tmp" "$OUT/bzImage"
	mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
	echo "$STAMP" >"$OUT/kernel-package"
}

if [ -s "$OUT/bzImage" ] && [ -s "$OUT/vmlinux" ] &&
	[ "$(cat "$OUT/kernel-package" 2>/dev/null)" = "$STAMP" ]; then
	echo "linux-image.sh: kernel $STAMP already extracted"
else
	rm -f "$OUT/.done"
	fetch_kernel
fi

# A static busybox: the host's if busybox-static is installed, else from the package.
find_busybox() {
	for b in /bin/busybox /usr/bin/busybox; do
		if [ -x "$b" ] && ! LC_ALL=C ldd "$b" >/dev/null 2>&1; then
			echo "$b"
			return 0
		fi
	done
	(cd "$TMP" && apt-get download -q busybox-static) >&2 || return 1
	dpkg-deb -x "$(ls "$TMP"/busybox-static_*.deb | head -n 1)" "$TMP/bb" || return 1
	echo "$TMP/bb/bin/busybox"
}

build_initramfs() {
	bb=$(find_busybox) || die "no static busybox (install busybox-static)"
	root=$TMP/initramfs
	mkdir -p "$root/bin" "$root/sbin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" \
		"$root/root" "$root/etc"
	cp "$bb" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$INIT" "$root/init"
	chmod 755 "$root/init" "$root/bin/busybox"
	# The kernel opens /dev/console before it runs /init; creating the node needs root,
	# without it /init reopens the console itself after mounting devtmpfs.
	mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null ||
		echo "linux-image.sh: warning: cannot mknod /dev/console (not root?)" >&2
	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -9n >"$OUT/initramfs.cpio.gz.tmp" || die "cpio/gzip failed"
	mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
}

build_initramfs
echo "linux-image.sh: $OUT/bzImage, $OUT/vmlinux, $OUT/initramfs.cpio.gz from $STAMP"
touch "$OUT/.done"
