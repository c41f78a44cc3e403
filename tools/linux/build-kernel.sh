#!/bin/bash
# build-kernel.sh - build the minimal ksmvmm guest kernel from Debian's linux-source-6.1.
#
# Usage: tools/linux/build-kernel.sh OUTDIR
# Writes OUTDIR/vmlinux (ELF), OUTDIR/bzImage, OUTDIR/config (the final .config) and
# OUTDIR/kernel.stamp. Config: `make tinyconfig`, then tools/linux/ksmvmm.config merged
# on top (merge_config.sh + olddefconfig); every CONFIG_ line of the fragment must hold
# in the final .config, else the script fails naming the options kconfig dropped.
# Cached: the source tree is unpacked once per source package version under
# OUTDIR/src; with the same fragment and package the kernel is not rebuilt.
# Installs (apt-get) linux-source-6.1 and the build tools if missing. JOBS=N (default 2).
set -euo pipefail

die() {
	echo "build-kernel.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
mkdir -p "$1" || die "cannot create $1"
OUT=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
FRAG=$HERE/ksmvmm.config
SRCPKG=linux-source-6.1
TARBALL=/usr/src/linux-source-6.1.tar.xz
JOBS=${JOBS:-2}
BUILD_DEPS="bc bison flex libelf-dev libssl-dev make gcc xz-utils cpio kmod"

[ -r "$FRAG" ] || die "missing $FRAG"

pkg_version() {
	dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null |
		sed -n 's/^install ok installed //p'
}

install_missing() {
	local missing=() p
	for p in $SRCPKG $BUILD_DEPS; do
		[ -n "$(pkg_version "$p")" ] || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "build-kernel.sh: installing ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; then
		apt-get update -qq || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" ||
			die "apt-get install ${missing[*]} failed"
	fi
}

install_missing
[ -r "$TARBALL" ] || die "$SRCPKG is installed but $TARBALL is missing"
SRCVER=$(pkg_version $SRCPKG)
STAMP="$SRCPKG $SRCVER fragment $(sha256sum <"$FRAG" | cut -c1-16)"
SRC=$OUT/src

if [ -s "$OUT/vmlinux" ] && [ -s "$OUT/bzImage" ] &&
	[ "$(cat "$OUT/kernel.stamp" 2>/dev/null)" = "$STAMP" ]; then
	echo "build-kernel.sh: kernel up to date ($STAMP)"
	exit 0
fi
rm -f "$OUT/kernel.stamp"

# The source tree is kept across fragment changes (make rebuilds what changed); it is
# unpacked anew only for another package version.
if [ "$(cat "$SRC/.ksmvmm-source" 2>/dev/null)" != "$SRCVER" ]; then
	echo "build-kernel.sh: unpacking $TARBALL ($SRCVER)"
	rm -rf "$SRC"
	mkdir -p "$SRC"
	tar -xJf "$TARBALL" -C "$SRC" --strip-components=1 || die "cannot unpack $TARBALL"
	echo "$SRCVER" >"$SRC/.ksmvmm-source"
fi

t0=$(date +%s)
make -C "$SRC" -s tinyconfig >/dev/null || die "make tinyconfig failed"
(cd "$SRC" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m .config "$FRAG") \
	>"$OUT/merge.log" 2>&1 || die "merge_config.sh failed (see $OUT/merge.log)"
make -C "$SRC" -s olddefconfig >/dev/null || die "make olddefconfig failed"

# Every option of the fragment as it must read in the final .config: "CONFIG_X=v" as
# is, "# CONFIG_X is not set" either so or absent.
check_config() {
	local line opt bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$SRC/.config" && continue
			opt=${line%%=*}
			echo "  $line: final .config has '$(grep -E "^(# )?$opt[= ]" "$SRC/.config" ||
				echo "$opt absent")'" >&2
			bad=1
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			grep -q "^$opt=" "$SRC/.config" || continue
			echo "  $line: final .config has '$(grep "^$opt=" "$SRC/.config")'" >&2
			bad=1
			;;
		esac
	done <"$FRAG"
	return $bad
}
check_config || die "kconfig did not keep the options above (missing dependencies?)"
cp "$SRC/.config" "$OUT/config"

echo "build-kernel.sh: building vmlinux and bzImage (-j$JOBS)"
make -C "$SRC" -j"$JOBS" vmlinux bzImage >"$OUT/build.log" 2>&1 ||
	{ tail -n 30 "$OUT/build.log" >&2; die "kernel build failed (see $OUT/build.log)"; }
cp "$SRC/vmlinux" "$OUT/vmlinux.tmp" && mv "$OUT/vmlinux.tmp" "$OUT/vmlinux"
cp "$SRC/arch/x86/boot/bzImage" "$OUT/bzImage.tmp" && mv "$OUT/bzImage.tmp" "$OUT/bzImage"
echo "$STAMP" >"$OUT/kernel.stamp"
echo "build-kernel.sh: built in $(($(date +%s) - t0)) s: $OUT/vmlinux ($(stat -c %s "$OUT/vmlinux") bytes), $OUT/bzImage ($(stat -c %s "$OUT/bzImage") bytes)"
