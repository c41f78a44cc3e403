#!/bin/bash
# serve.sh - `ksmvmm serve` driven by the unmodified virsh: define (libvirt's own XML
# errors, our refusals), list, dominfo, dumpxml, metadata, autostart, node-memory-tune,
# undefine; definitions persist across a restart of the VMM, written whole. Needs no
# /dev/kvm: without it, `virsh start` must say why it cannot.
source "$(dirname "$0")/../lib/libvirt.sh"

start_serve
v version >"$T/version.txt" 2>&1 || fail "virsh version: $(cat "$T/version.txt")"
grep -q "hypervisor" "$T/version.txt" || fail "virsh version names no hypervisor: $(cat "$T/version.txt")"

[ -z "$(v list --all --name)" ] || fail "a fresh state directory lists domains: $(v list --all --name)"

virsh -c "$URI" define tests/libvirt/domains/workload.xml >"$T/out.txt" 2>&1 || fail "define: $(cat "$T/out.txt")"
grep -q "wl0" "$T/out.txt" || fail "define did not name the domain: $(cat "$T/out.txt")"
workload_xml wl1 >"$T/wl1.xml"
v define "$T/wl1.xml" >/dev/null || fail "define wl1"
v define tests/libvirt/domains/private.xml >/dev/null || fail "define private0"

list=$(v list --all)
echo "$list"
for d in wl0 wl1 private0; do
	grep -qE "^ *- +$d +shut off$" <<<"$list" || fail "list --all does not show $d shut off"
done
[ -z "$(v list --name)" ] || fail "list (running only) shows domains that do not run"

# libvirt's own error for libvirt's rules, ours for what we cannot honour.
must_fail "a bogus memballoon model" \
	"Invalid value for attribute 'model' in element 'memballoon': 'bogus'" \
	define tests/libvirt/domains/bad-balloon.xml
must_fail "a network interface" "interface" define tests/libvirt/domains/bad-interface.xml
must_fail "a second domain with wl0's name and another UUID" "already exists" \
	define <(sed 's|<uuid>.*</uuid>|<uuid>11111111-2222-4333-8444-555555555555</uuid>|' \
		tests/libvirt/domains/workload.xml)
must_fail "dominfo of a domain that does not exist" "failed to get domain 'nosuch'" dominfo nosuch

v dumpxml wl0 >"$T/wl0.dump" || fail "dumpxml wl0"
grep -q "<uuid>0b7a9c3e-5d1f-4e2a-8b6c-1d2e3f405162</uuid>" "$T/wl0.dump" ||
	fail "dumpxml lost the UUID"
grep -q "<memory unit='KiB'>65536</memory>" "$T/wl0.dump" || fail "dumpxml: memory is not 64 MiB in KiB"
v dumpxml wl1 | grep -qE "<uuid>[0-9a-f-]{36}</uuid>" || fail "wl1 got no UUID"
# Defined again without a <uuid> (and with more memory): same domain, same UUID.
wl1_uuid=$(v domuuid wl1)
sed 's|<memory unit=.MiB.>64</memory>|<memory unit="MiB">96</memory>|' "$T/wl1.xml" >"$T/wl1b.xml"
v define "$T/wl1b.xml" >/dev/null || fail "redefining wl1 without a UUID"
[ "$(v domuuid wl1)" = "$wl1_uuid" ] || fail "redefining wl1 changed its UUID"
v dominfo wl1 | grep -qE "^Max memory: +98304 KiB" || fail "the redefinition did not take"
# currentMemory below memory needs the balloon: libvirt's rules plus ours.
sed -e 's|<name>wl0</name>|<name>small</name>|' -e '/<uuid>/d' \
	-e 's|<memballoon model=.virtio.*/>|<memballoon model="none"/>|' \
	-e 's|<vcpu>|<currentMemory unit="MiB">32</currentMemory><vcpu>|' \
	tests/libvirt/domains/workload.xml >"$T/small.xml"
must_fail "currentMemory below memory without a balloon" "needs the balloon" define "$T/small.xml"

v metadata wl0 https://ksmvmm.dev/xmlns/domain/1 >"$T/md.txt" 2>&1 || fail "metadata: $(cat "$T/md.txt")"
grep -q "shared=50,zero=10" "$T/md.txt" || fail "metadata does not show the workload profile: $(cat "$T/md.txt")"
must_fail "metadata of another namespace" "metadata not found" metadata wl0 http://example.org/other

v autostart wl0 >/dev/null || fail "autostart wl0"
v dominfo wl0 >"$T/info.txt" || fail "dominfo wl0"
cat "$T/info.txt"
grep -qE "^State: +shut off" "$T/info.txt" || fail "dominfo: not shut off"
grep -qE "^Persistent: +yes" "$T/info.txt" || fail "dominfo: not persistent"
grep -qE "^Autostart: +enable" "$T/info.txt" || fail "dominfo: autostart not set"
grep -qE "^Max memory: +65536 KiB" "$T/info.txt" || fail "dominfo: max memory"
grep -qE "^UUID: +0b7a9c3e-5d1f-4e2a-8b6c-1d2e3f405162" "$T/info.txt" || fail "dominfo: UUID"

v node-memory-tune >"$T/nmt.txt" 2>&1 || fail "node-memory-tune: $(cat "$T/nmt.txt")"
cat "$T/nmt.txt"
for k in shm_pages_to_scan shm_sleep_millisecs shm_pages_shared shm_pages_sharing \
	shm_pages_unshared shm_pages_volatile shm_full_scans; do
	grep -q "$k" "$T/nmt.txt" || fail "node-memory-tune lacks $k"
done
v node-memory-tune --shm-sleep-millisecs 50 >/dev/null || fail "node-memory-tune --shm-sleep-millisecs 50"
v node-memory-tune | grep -qE "shm_sleep_millisecs +50" || fail "the engine's interval did not become 50 ms"
"$KSMCTL" --control "$SOCK" stats --json | python3 -c '
import json, sys
t = json.load(sys.stdin)["engine"]["tunables"]
sys.exit(0 if t["interval_ms"] == 50 else 1)' || fail "ksmctl does not see interval_ms 50"

# python3-libvirt sees the same domains, and libvirt's error for a bad XML.
"$PYLV" - "$URI" <<'PY' || fail "python3-libvirt disagrees"
import sys
import libvirt

libvirt.registerErrorHandler(lambda ctx, err: None, None)
conn = libvirt.open(sys.argv[1])
doms = {d.name(): d for d in conn.listAllDomains()}
assert sorted(doms) == ["private0", "wl0", "wl1"], sorted(doms)
state, maxmem, mem, vcpus, cpu = doms["wl0"].info()
assert state == libvirt.VIR_DOMAIN_SHUTOFF and maxmem == 65536 and vcpus == 1, doms["wl0"].info()
assert doms["wl0"].UUIDString() == "0b7a9c3e-5d1f-4e2a-8b6c-1d2e3f405162"
assert "<nosharepages/>" in doms["private0"].XMLDesc(0)
assert conn.lookupByUUIDString("0b7a9c3e-5d1f-4e2a-8b6c-1d2e3f405162").name() == "wl0"
try:
    conn.defineXML(open("tests/libvirt/domains/bad-balloon.xml").read())
    sys.exit("a bad memballoon model was accepted")
except libvirt.libvirtError as e:
    assert "Invalid value for attribute 'model' in element 'memballoon': 'bogus'" in str(e), str(e)
    assert e.get_error_code() == libvirt.VIR_ERR_XML_ERROR, e.get_error_code()
print("python3-libvirt: 3 domains, info, UUID, XMLDesc, lookupByUUIDString, libvirt's XML error")
PY

if [ ! -c /dev/kvm ]; then
	must_fail "start without /dev/kvm" "/dev/kvm" start wl1
fi

# The definitions are whole files of libvirt's normalised XML.
for d in wl0 wl1 private0; do
	xmllint --noout "$STATE/$d.xml" || fail "$STATE/$d.xml is not well-formed XML"
done
[ -e "$STATE/autostart/wl0" ] || fail "no autostart mark for wl0"

v undefine wl1 >/dev/null || fail "undefine wl1"
[ ! -e "$STATE/wl1.xml" ] || fail "undefine left $STATE/wl1.xml"
v list --all --name | grep -qx wl1 && fail "wl1 still listed after undefine"

# A restart finds the same domains, with the same UUIDs and autostart marks.
before=$(v list --all --uuid | sort)
stop_serve
start_serve
after=$(v list --all --uuid | sort)
[ "$before" = "$after" ] || fail "after a restart the domains differ: '$before' vs '$after'"
v dominfo wl0 | grep -qE "^Autostart: +enable" || fail "autostart lost across the restart"
[ "$(v list --all --name | sort | tr '\n' ' ')" = "private0 wl0 " ] ||
	fail "after restart: $(v list --all --name)"
stop_serve
echo "ok: serve defines, lists, persists and refuses as libvirt's clients expect"
