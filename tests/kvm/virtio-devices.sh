# virtio-devices.sh - one workload guest drives every device with its own virtio driver:
# console (its line reaches the console file), rng, three disks (read-write: the guest's
# pattern lands in the image; snapshot: the image stays byte-identical; read-only: the
# write is refused), and the balloon, which follows `ksmctl balloon` up and back down.
# ksmctl devices shows every device driven (DRIVER_OK) with its counters; verify bad=0.
source "$(dirname "$0")/../lib/kvm.sh"

for d in rw snap ro; do
	head -c 1048576 /dev/zero >"$T/$d.img"
done
sum() { sha256sum "$1" | cut -d' ' -f1; }
snap_before=$(sum "$T/snap.img")
ro_before=$(sum "$T/ro.img")

start_vmm --count 1 --mem 128M --guest workload --profile shared=50,zero=10,seed=7 \
	--disk "$T/rw.img" --disk "$T/snap.img,snapshot" --disk "$T/ro.img,readonly"
wait_ready 1 120
log=$T/console/g0.log
for kind in console rng balloon; do
	grep -q "^VIRTIO $kind ok" "$log" || fail "the guest's $kind check did not pass"
done
[ "$(grep -c '^VIRTIO blk ok' "$log")" -eq 3 ] || fail "not every disk passed its check"
grep -q '^VIRTIO console: hello from the workload guest 0$' "$log" ||
	fail "the guest's virtio console line did not reach its console file"
grep -q '^VIRTIO blk2: .* read-only' "$log" || fail "the read-only disk was not offered read-only"

# The guest wrote byte i = (i*31 + guest*7 + seed) & 0xff over the last 4 KiB of each disk.
python3 - "$T/rw.img" <<'PY' || fail "the guest's write did not reach the read-write image"
import sys
data = open(sys.argv[1], "rb").read()[-4096:]
want = bytes((i * 31 + 0 * 7 + 7) & 0xff for i in range(4096))
sys.exit(0 if data == want else 1)
PY
[ "$(sum "$T/snap.img")" = "$snap_before" ] || fail "a snapshot disk's image changed"
[ "$(sum "$T/ro.img")" = "$ro_before" ] || fail "a read-only disk's image changed"

ctl devices g0 --json >"$T/devices.json" || fail "ksmctl devices failed"
python3 - "$T/devices.json" <<'PY' || fail "ksmctl devices does not show every device driven"
import json, sys
d = json.load(open(sys.argv[1]))
kinds = [x["kind"] for x in d["devices"]]
assert kinds == ["uart", "workload", "console", "rng", "balloon", "blk", "blk", "blk"], kinds
for x in d["devices"]:
    if x["kind"] in ("uart", "workload"):
        continue
    assert x["state"] == "driver-ok", x
blk = [x for x in d["devices"] if x["kind"] == "blk"]
assert blk[0]["counters"]["writes"] >= 1 and blk[0]["counters"]["reads"] >= 1, blk[0]
assert blk[2]["counters"]["errors"] >= 1, blk[2]  # the refused write
print("devices:", ", ".join(f"{x['kind']} {x['state']}" for x in d["devices"]))
PY

balloon_is() { # PAGES: the guest's balloon holds exactly PAGES
	ctl devices g0 --json | python3 -c '
import json, sys
b = [x for x in json.load(sys.stdin)["devices"] if x["kind"] == "balloon"][0]
sys.exit(0 if b["counters"]["actual_pages"] == int(sys.argv[1]) else 1)' "$1"
}
ctl balloon g0 16M || fail "ksmctl balloon failed"
wait_for 30 "the balloon to inflate to 16 MiB" balloon_is 4096
ctl balloon g0 0 || fail "ksmctl balloon 0 failed"
wait_for 30 "the balloon to deflate" balloon_is 0
ctl balloon g0 bogus 2>/dev/null && fail "ksmctl balloon accepted a bad size"
verify_all 1
ctl stop >/dev/null
wait_exit 60
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
echo "virtio devices test ok"
