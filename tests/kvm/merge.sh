# merge.sh - 4 x 256 MiB, 50% identical across the fleet + 10% zero + 40% unique: the
# engine reaches 95% of the ideal merges, the host's accounting (Pss) drops by 90% of
# the ideal saving, and every guest still verifies bad=0.
source "$(dirname "$0")/../lib/kvm.sh"

P="--count 4 --mem 256M --guest workload --profile shared=50,zero=10"
baseline_pss 4 $P
start_vmm $P
wait_ready 4 300
python3 tests/lib/fleet.py converge "$SOCK" "$VMM_PID" "$T/console" "$BASELINE" ||
	fail "did not converge"
verify_all 4
ctl stats
ctl stop >/dev/null
wait_exit 60
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
echo "merge test ok"
