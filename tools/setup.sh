#!/bin/sh
# setup.sh - install the Debian packages ksmvmm builds and tests with, if any is missing.
set -eu

PKGS="gcc make pkg-config binutils clang-format linux-libc-dev libxxhash-dev libglib2.0-dev
libjson-glib-dev busybox-static cpio gzip xz-utils zstd python3 procps
libcairo2-dev fonts-dejavu-core python3-jsonschema libxml2-utils bsdutils tmux
clang libclang-rt-14-dev acpica-tools
libvirt-dev libvirt-clients python3-libvirt libsoup-3.0-dev libxml2-dev python3-prometheus-client"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "setup: installing missing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "setup: need root to run apt-get (missing:$missing)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
