#!/bin/bash
# demo.sh - the main job: 4 workload guests x 256 MiB whose memory is half identical;
# the engine merges it, the host's own accounting shows the saving, every guest verifies
# its memory, and the fleet stops.
set -eu
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/ksmvmm-demo.XXXXXX)
SOCK=$T/control.sock
VMM=
trap '[ -n "$VMM" ] && kill $VMM 2>/dev/null; rm -rf "$T"' EXIT
ctl() { build/ksmctl --control "$SOCK" "$@"; }
pss_mib() { awk '/^Pss:/ { print int($2 / 1024) }' "/proc/$VMM/smaps_rollup"; }

echo "== starting 4 workload guests x 256 MiB (50% identical across guests, 10% zero)"
build/ksmvmm run --count 4 --mem 256M --guest workload --profile shared=50,zero=10 \
	--control "$SOCK" --console "$T/console" &
VMM=$!
for _ in $(seq 1200); do
	[ "$(grep -l '^READY' "$T"/console/*.log 2>/dev/null | wc -l)" -eq 4 ] && break
	kill -0 $VMM || exit 1
	sleep 0.25
done
echo "== all guests READY; host Pss of the VMM process: $(pss_mib) MiB"
prev=-1
for _ in $(seq 60); do
	now=$(ctl stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["engine"]["merges"])')
	[ "$now" = "$prev" ] && break
	prev=$now
	sleep 1
done
echo "== merged; host Pss of the VMM process: $(pss_mib) MiB (guest RAM: 1024 MiB)"
ctl stats
echo "== ksmctl list"
ctl list
echo "== ksmctl verify (each guest checks every page it wrote)"
ctl verify
echo "== ksmctl stop"
ctl stop
wait $VMM
status=$?
VMM=
echo "== fleet exited with status $status"
