#!/bin/bash
# libvirt-fleet.sh - a fleet of workload guests run by `ksmvmm serve` and driven by the
# unmodified virsh and python3-libvirt: define + start boot guests that merge with each
# other; list, dominfo, dommemstat and domstats show what the fleet really is (sharing
# figures that agree with ksmctl's); lifecycle events reach `virsh event`; destroy ends
# a guest and the engine drops it; create FILE runs a transient domain that goes away
# when it shuts down; domblkstat shows the reads of a domain's disk.
source "$(dirname "$0")/../lib/libvirt.sh"
need_kvm


start_serve
virsh -c "$URI" event --all --loop >"$T/events.log" 2>&1 &
EV_PID=$!
sleep 1
for d in wl0 wl1 wl2; do
	workload_xml $d >"$T/$d.xml"
	v define "$T/$d.xml" >/dev/null || fail "define $d"
done
for d in wl0 wl1 wl2; do
	v start $d >"$T/out.txt" 2>&1 || fail "start $d: $(cat "$T/out.txt")"
done
for d in wl0 wl1 wl2; do
	wait_for 180 "$d READY" ready $d
done
[ "$(v list --name | sort | tr '\n' ' ')" = "wl0 wl1 wl2 " ] || fail "running: $(v list --name)"
v dominfo wl1 | grep -qE "^State: +running" || fail "dominfo wl1 is not running"

# The engine merges the domains with each other.
merged() {
	ctl stats --json | python3 -c '
import json, sys
g = {x["name"]: x for x in json.load(sys.stdin)["guests"]}
sys.exit(0 if all(g[n]["pages_merged"] > 1000 for n in ("wl0", "wl1", "wl2")) else 1)'
}
wait_for 120 "the three domains to merge" merged

# domstats and python3-libvirt against ksmctl's figures (read one after the other: they
# may move a little between the two reads).
v domstats wl0 >"$T/domstats.txt" || fail "domstats wl0"
cat "$T/domstats.txt"
"$PYLV" - "$URI" "$SOCK" "$KSMCTL" "$T/domstats.txt" <<'PY' || fail "libvirt's figures disagree with the fleet's"
import json, subprocess, sys
import libvirt

uri, sock, ksmctl, domstats = sys.argv[1:]
virsh = {}
for line in open(domstats):
    if "=" in line:
        k, v = line.strip().split("=", 1)
        virsh[k] = v
stats = json.loads(subprocess.check_output([ksmctl, "--control", sock, "stats", "--json"]))
g = {x["name"]: x for x in stats["guests"]}
shared = int(virsh["ksmvmm.shared"])
want = g["wl0"]["pages_merged"] * 4096
assert abs(shared - want) <= want // 10 + 4096 * 256, (shared, want)
assert int(virsh["balloon.maximum"]) == 65536, virsh["balloon.maximum"]
assert int(virsh["state.state"]) == 1, virsh["state.state"]

conn = libvirt.open(uri)
doms = {d.name(): d for d in conn.listAllDomains()}
assert sorted(doms) == ["wl0", "wl1", "wl2"], sorted(doms)
for name, d in doms.items():
    state, maxmem, mem, vcpus, cpu = d.info()
    assert state == libvirt.VIR_DOMAIN_RUNNING and maxmem == 65536 and vcpus == 1, d.info()
    ms = d.memoryStats()
    assert ms["actual"] <= 65536 and ms["rss"] > 1024, ms
    assert "<name>%s</name>" % name in d.XMLDesc(0)
    assert d.UUIDString() == g[name]["uuid"], (d.UUIDString(), g[name])
all_stats = conn.getAllDomainStats()
assert len(all_stats) == 3
for dom, params in all_stats:
    assert params["ksmvmm.shared"] > 0 and params["ksmvmm.cost"] > 0, params
print("python3-libvirt: 3 domains, info, memoryStats, XMLDesc, getAllDomainStats agree")
PY
v dommemstat wl0 >"$T/memstat.txt" || fail "dommemstat wl0"
cat "$T/memstat.txt"
grep -qE "^actual [0-9]+" "$T/memstat.txt" || fail "dommemstat has no actual"
grep -qE "^rss [0-9]+" "$T/memstat.txt" || fail "dommemstat has no rss"

ctl verify >"$T/verify.txt" || fail "verify: $(cat "$T/verify.txt")"
[ "$(grep -cE '^wl[0-9] VERIFY ok=[0-9]+ bad=0$' "$T/verify.txt")" -eq 3 ] ||
	fail "not every domain verified bad=0: $(cat "$T/verify.txt")"

# destroy: off when the call returns, the engine lets go of it.
v destroy wl2 >/dev/null || fail "destroy wl2"
v domstate wl2 | grep -q "shut off" || fail "wl2 is not shut off after destroy"
ctl stats --json | python3 -c '
import json, sys
names = [x["name"] for x in json.load(sys.stdin)["guests"]]
sys.exit(1 if "wl2" in names else 0)' || fail "the fleet still has wl2 after destroy"

# create FILE: a transient domain; it goes away when it shuts down.
workload_xml tmp0 >"$T/tmp0.xml"
v create "$T/tmp0.xml" >/dev/null || fail "create tmp0"
wait_for 180 "tmp0 READY" ready tmp0
v dominfo tmp0 | grep -qE "^Persistent: +no" || fail "tmp0 is not transient"
v shutdown tmp0 >/dev/null || fail "shutdown tmp0"
gone() { ! v list --all --name | grep -qx tmp0; }
wait_for 30 "tmp0 to go away" gone

# Start wl2 again: it boots anew and merges again.
v start wl2 >/dev/null || fail "start wl2 again"
wait_for 180 "wl2 READY again" grep -c '^READY' "$T/console/wl2.log"

# domblkstat: a domain with one raw disk, which the workload guest reads at boot.
head -c 1048576 /dev/zero >"$T/disk0.img"
workload_xml disk0 | sed "s|<devices>|<devices><disk type='file' device='disk'>\
<driver name='qemu' type='raw'/><source file='$T/disk0.img'/>\
<target dev='vda' bus='virtio'/></disk>|" >"$T/disk0.xml"
v create "$T/disk0.xml" >"$T/out.txt" 2>&1 || fail "create disk0: $(cat "$T/out.txt")"
wait_for 180 "disk0's disk check" grep -qs '^VIRTIO blk ok' "$T/console/disk0.log"
v domblkstat disk0 vda >"$T/blk.txt" || fail "domblkstat disk0 vda"
cat "$T/blk.txt"
awk '$2 == "rd_req" && $3 > 0 { ok = 1 } END { exit !ok }' "$T/blk.txt" ||
	fail "domblkstat shows no reads"
v domblkstat disk0 "$T/disk0.img" | grep -qE "rd_req [1-9]" || fail "domblkstat by source path"
must_fail "domblkstat of a disk disk0 lacks" "invalid path: vdb" domblkstat disk0 vdb
v destroy disk0 >/dev/null || fail "destroy disk0"

sleep 1
kill $EV_PID 2>/dev/null
wait $EV_PID 2>/dev/null
cat "$T/events.log"
for want in "'wl0': Started" "'wl2': Stopped Destroyed" "'tmp0': Started" "'tmp0': Stopped" \
	"'wl1': Defined"; do
	grep -qF "$want" "$T/events.log" || fail "virsh event did not print $want"
done

ctl report --json >"$T/report.json" || fail "ksmctl report"
python3 - "$T/report.json" <<'PY' || fail "the report does not name domains by name and UUID"
import json, sys
r = json.load(open(sys.argv[1]))
names = {g["name"]: g for g in r["guests"]}
for n in ("wl0", "wl1"):
    assert len(names[n]["uuid"]) == 36, names[n]
PY
stop_serve
echo "ok: libvirt's clients drive a merging fleet"
