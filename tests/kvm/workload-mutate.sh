# workload-mutate.sh - 2 vCPUs per guest, shuffled placement, mutation running: every
# guest still verifies bad=0 while its pages are being rewritten, repeatedly.
source "$(dirname "$0")/../lib/kvm.sh"

start_vmm --count 2 --cpus 2 --mem 64M --guest workload \
	--profile shared=40,zero=10,dup=10,placement=shuffled,mutate=20@20000,seed=42
wait_ready 2 120
grep -q 'cpus=2' "$T/console/g0.log" || fail "guest did not run its workload on 2 vCPUs"
for round in 1 2 3; do
	sleep 1
	ctl verify >"$T/verify.txt" || fail "round $round: $(cat "$T/verify.txt")"
	[ "$(grep -cE '^g[01] VERIFY ok=[0-9]+ bad=0$' "$T/verify.txt")" -eq 2 ] ||
		fail "round $round: $(cat "$T/verify.txt")"
done
# The guests kept running the whole time and are still answering.
ctl list | grep -cE '^g[01] +running' | grep -qx 2 || fail "guests not running"
kill -TERM "$VMM_PID"
wait_exit 30
[ "$VMM_STATUS" -eq 0 ] || fail "SIGTERM shutdown exited $VMM_STATUS"
grep -q 'signal received' "$T/vmm.log" || fail "no shutdown message"
echo "mutation test ok"
