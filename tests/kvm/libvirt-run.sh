#!/bin/bash
# libvirt-run.sh - `ksmvmm run --libvirt SOCKET`: the run fleet's guests are transient
# domains under the unmodified virsh; their dumpxml is XML libvirt's parser takes back;
# `virsh create` adds a guest that merges with them; `virsh define` is refused (nothing
# persists without serve); destroying every domain ends ksmvmm run with status 0.
source "$(dirname "$0")/../lib/libvirt.sh"
need_kvm

"$KSMVMM" run --count 2 --mem 64M --guest workload --profile shared=50,zero=10 \
	--control "$SOCK" --libvirt "$LV_SOCK" --console "$T/console" >"$T/vmm.log" 2>&1 &
VMM_PID=$!
wait_for 30 "the libvirt socket" test -S "$LV_SOCK"
wait_for 180 "g0 READY" ready g0
wait_for 180 "g1 READY" ready g1

[ "$(v list --name | sort | tr '\n' ' ')" = "g0 g1 " ] || fail "virsh list: $(v list --name)"
v dominfo g0 | grep -qE "^Persistent: +no" || fail "g0 is not a transient domain"
v dumpxml g0 >"$T/g0.xml" || fail "dumpxml g0"
xmllint --noout "$T/g0.xml" || fail "dumpxml g0 is not XML"
grep -q "<memory unit='KiB'>65536</memory>" "$T/g0.xml" || fail "dumpxml g0: memory"
# Its XML goes back through libvirt's parser: as g2 (another name, no UUID) it starts.
sed -e 's|<name>g0</name>|<name>g2</name>|' -e '/<uuid>/d' "$T/g0.xml" >"$T/g2.xml"
must_fail "define without a state directory" "ksmvmm serve --state-dir" define "$T/g2.xml"
v create "$T/g2.xml" >/dev/null || fail "create g2: $(v create "$T/g2.xml" 2>&1)"
wait_for 180 "g2 READY" ready g2
merged() {
	ctl stats --json | python3 -c '
import json, sys
g = {x["name"]: x for x in json.load(sys.stdin)["guests"]}
sys.exit(0 if g["g2"]["pages_merged"] > 1000 else 1)'
}
wait_for 120 "g2 to merge with g0 and g1" merged
ctl verify >"$T/verify.txt" || fail "verify: $(cat "$T/verify.txt")"
[ "$(grep -cE '^g[0-9] VERIFY ok=[0-9]+ bad=0$' "$T/verify.txt")" -eq 3 ] ||
	fail "not every guest verified bad=0: $(cat "$T/verify.txt")"

# The last destroy ends ksmvmm run; virsh closes its connection after it and must still
# get an answer. A client that stays connected delays the end by a few seconds only.
"$PYLV" -c '
import libvirt, sys, time
c = libvirt.open(sys.argv[1])
print("open", flush=True)
for _ in range(240):
    try:
        c.getVersion()
    except libvirt.libvirtError:
        print("closed by the VMM", flush=True)
        sys.exit(0)
    time.sleep(0.5)' "$URI" >"$T/holder.txt" 2>&1 &
HOLDER=$!
wait_for 30 "a client that stays connected" grep -q open "$T/holder.txt"
for d in g0 g1 g2; do
	out=$(v destroy $d 2>&1) || fail "destroy $d: $out"
done
for ((i = 0; i < 300; i++)); do
	kill -0 "$VMM_PID" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$VMM_PID" 2>/dev/null && fail "ksmvmm run did not exit once every domain was destroyed"
wait "$HOLDER"
grep -q "closed by the VMM" "$T/holder.txt" || fail "the connected client: $(cat "$T/holder.txt")"
wait "$VMM_PID"
rc=$?
VMM_PID=
[ $rc -eq 0 ] || fail "ksmvmm run exited $rc"
echo "ok: ksmvmm run --libvirt: transient domains, create, destroy, exit 0"
