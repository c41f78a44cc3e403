#!/bin/bash
# demo.sh - the main job: a fleet of 4 workload guests x 256 MiB, verified, listed, stopped.
set -eu
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/ksmvmm-demo.XXXXXX)
SOCK=$T/control.sock
trap 'kill $VMM 2>/dev/null; rm -rf "$T"' EXIT

echo "== starting 4 workload guests x 256 MiB (profile: 50% shared, 10% zero, 40% unique)"
build/ksmvmm run --count 4 --mem 256M --guest workload --profile shared=50,zero=10 \
	--control "$SOCK" --console "$T/console" &
VMM=$!
for _ in $(seq 600); do
	[ "$(grep -l '^READY' "$T"/console/*.log 2>/dev/null | wc -l)" -eq 4 ] && break
	sleep 0.5
done
echo "== ksmctl list"
build/ksmctl --control "$SOCK" list
echo "== ksmctl verify (each guest checks every page it wrote)"
build/ksmctl --control "$SOCK" verify
echo "== host memory of the VMM process (smaps_rollup)"
grep -E '^(Rss|Pss|Anonymous):' /proc/$VMM/smaps_rollup
echo "== ksmctl stop"
build/ksmctl --control "$SOCK" stop
wait $VMM
echo "== fleet exited with status $?; consoles were in $T/console"
