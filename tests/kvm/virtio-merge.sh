# virtio-merge.sh - devices inside the merge rules. 4 workload guests boot from one image
# (snapshot disks) and merge; the devices then write into merged pages (the guests' disk
# reads and rng fills land in buffers the engine merged, the used rings too), the guests
# report 20% of their shared pages free, and: every guest verifies bad=0, the engine
# counts exactly the pages each guest reported (as reported, never as merged), and the
# pagemap audit agrees with the engine's merged counts.
source "$(dirname "$0")/../lib/kvm.sh"

head -c 4194304 /dev/urandom >"$T/base.img"
start_vmm --count 4 --mem 64M --guest workload --profile shared=50,zero=10,free=20 \
	--disk "$T/base.img,snapshot"
wait_ready 4 120
python3 tests/lib/fleet.py wait-merged "$SOCK" 4000 60 || fail "the guests did not merge"
wait_for 60 "every guest to report its free pages" \
	bash -c "[ \$(grep -l '^FREE reported=' '$T'/console/*.log | wc -l) -eq 4 ]"
python3 - "$SOCK" "$T/console" <<'PY' || fail "reported pages do not match the guests' reports"
import glob, json, os, re, subprocess, sys, time
sock, cons = sys.argv[1], sys.argv[2]
want = {}
for f in glob.glob(cons + "/*.log"):
    m = re.search(r"^FREE reported=(\d+)$", open(f).read(), re.M)
    want[os.path.basename(f)[:-4]] = int(m.group(1))
for _ in range(50):  # the engine takes them in at its next pass
    st = json.loads(subprocess.check_output(["build/ksmctl", "--control", sock, "stats", "--json"]))
    got = {g["name"]: g["pages_reported"] for g in st["guests"]}
    if got == want:
        break
    time.sleep(0.2)
print("reported by the guests:", want, "counted by the engine:", got)
assert got == want and min(want.values()) > 0
PY
verify_all 4
# The guests do not write their merged pages; their disks' rereads do, every second.
ctl stats --json | python3 -c '
import json, sys
e = json.load(sys.stdin)["engine"]
print("copy-on-write breaks:", e["cow_breaks"])
sys.exit(0 if e["cow_breaks"] > 0 else 1)' || fail "no device write broke a merged page: the test proves nothing"
python3 tests/lib/fleet.py audit "$SOCK" "$VMM_PID" || fail "pagemap audit"
ctl stop >/dev/null
wait_exit 60
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
echo "virtio merge test ok"
