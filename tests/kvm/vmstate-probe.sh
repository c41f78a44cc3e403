# vmstate-probe.sh - a guest's KVM state (vCPU, irqchip, PIT, clock) and RAM saved into a
# snapshot directory and carried into a second VM, which must go on exactly where the
# first was saved (tests/kvm/vmstate_probe.c says what is compared).
source "$(dirname "$0")/../lib/kvm.sh"

make --no-print-directory build/tests/vmstate-probe >/dev/null ||
	fail "cannot build the probe"
timeout 300 build/tests/vmstate-probe "$T/snap" 2>&1 | tee "$T/probe.txt"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || fail "probe exit status $rc"
grep -q '^vmstate probe ok' "$T/probe.txt" || fail "probe did not say ok"
echo "vmstate probe test ok"
