# control-garbage.sh - garbage on the control socket gets JSON error replies; the VMM
# keeps serving, and the socket is owner-only.
source "$(dirname "$0")/../lib/kvm.sh"

start_vmm --count 2 --mem 16M --guest workload
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "control socket mode is $(stat -c %a "$SOCK"), want 600"
python3 tests/lib/garbage.py "$SOCK" || fail "garbage test failed"
ctl list | grep -qE '^g1 +running' || fail "VMM no longer serves list after garbage"
ctl stop g7 && fail "stopping an unknown guest succeeded"
ctl stop >/dev/null || fail "stop failed"
wait_exit 30
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
echo "control garbage test ok"
