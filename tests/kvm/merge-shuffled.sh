# merge-shuffled.sh - the same fleet with the identical pages at different guest-physical
# addresses in every guest (64 KiB extents shuffled per guest).
source "$(dirname "$0")/../lib/kvm.sh"

P="--count 4 --mem 256M --guest workload --profile shared=50,zero=10,placement=shuffled"
baseline_pss 4 $P
start_vmm $P
wait_ready 4 300
python3 tests/lib/fleet.py converge "$SOCK" "$VMM_PID" "$T/console" "$BASELINE" ||
	fail "did not converge"
verify_all 4
ctl stats
ctl stop >/dev/null
wait_exit 60
echo "shuffled merge test ok"
