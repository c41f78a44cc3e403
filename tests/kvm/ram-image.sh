# ram-image.sh - workload guests whose RAM comes from image files (as the benchmark loads
# Linux memory dumps): identical images merge, every guest verifies its pages against the
# checksums it took at start, and a byte changed behind a guest's back is caught.
source "$(dirname "$0")/../lib/kvm.sh"

# 12 MiB of program bytes, 4 MiB of zeros; guest 1 differs in its first MiB.
{ cat /usr/bin/* 2>/dev/null | head -c 12M; head -c 4M /dev/zero; } >"$T/img0"
{ head -c 1M /dev/urandom; tail -c +1048577 "$T/img0"; } >"$T/img1"
start_vmm --count 2 --mem 32M --guest workload --ram-image "$T/img%d"
wait_ready 2 120
grep -q 'loaded 16 MiB of RAM image' "$T/vmm.log" || fail "images not loaded"
python3 tests/lib/fleet.py wait-merged "$SOCK" 5000 60 || fail "images did not merge"
verify_all 2
python3 tests/lib/poke.py "$VMM_PID" "$SOCK" g0 || fail "poke failed"
ctl verify g0 | grep -qE '^g0 VERIFY ok=[0-9]+ bad=1$' || fail "corruption not caught"
ctl stop >/dev/null
wait_exit 30
echo "ram image test ok"
