# merge-mutate.sh - guests rewrite pages while the engine merges them: after at least
# 100,000 copy-on-write breaks every guest verifies bad=0, and the stats count them.
source "$(dirname "$0")/../lib/kvm.sh"

start_vmm --count 4 --mem 128M --guest workload \
	--profile shared=50,zero=10,mutate=60@20000
wait_ready 4 300
python3 tests/lib/fleet.py cow "$SOCK" 100000 240 || fail "too few copy-on-write breaks"
verify_all 4
ctl stats | tee "$T/stats.txt"
# The guests kept running through it all and still verify after more churn.
sleep 2
verify_all 4
ctl stop >/dev/null
wait_exit 60
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
echo "mutation merge test ok"
