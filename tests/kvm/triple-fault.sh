# triple-fault.sh - a guest that triple-faults stops alone; the others still verify bad=0.
source "$(dirname "$0")/../lib/kvm.sh"

start_vmm --count 3 --mem 64M --guest workload --profile shared=50,zero=10
wait_ready 3 120

ctl fault g1 || fail "ksmctl fault g1 failed"
wait_for 30 "g1 dead" sh -c "\"$KSMCTL\" --control \"$SOCK\" list | grep -qE '^g1 +dead'"
grep -q 'g1 died: triple fault' "$T/vmm.log" || fail "no clear message for g1's death"
ctl list | tee "$T/list.txt"
[ "$(grep -cE '^g[02] +running' "$T/list.txt")" -eq 2 ] || fail "g0/g2 not running"

ctl verify g0 | grep -qE '^g0 VERIFY ok=[0-9]+ bad=0$' || fail "g0 did not verify"
ctl verify g2 | grep -qE '^g2 VERIFY ok=[0-9]+ bad=0$' || fail "g2 did not verify"
ctl verify g1 && fail "verify of a dead guest succeeded"

ctl stop || fail "stop failed"
wait_exit 30
# A guest died, so the fleet's exit status says so.
[ "$VMM_STATUS" -eq 1 ] || fail "ksmvmm exited $VMM_STATUS, want 1 (a guest died)"
echo "triple fault test ok"
