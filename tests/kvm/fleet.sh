# fleet.sh - 4 workload guests x 256 MiB: READY, verify bad=0, list, stop, exit 0.
# Also proves verify has teeth: a byte changed behind a guest's back is reported bad.
source "$(dirname "$0")/../lib/kvm.sh"

start_vmm --count 4 --mem 256M --guest workload --profile shared=50,zero=10,dup=5
wait_ready 4 300

ctl list >"$T/list.txt" || fail "ksmctl list failed"
cat "$T/list.txt"
[ "$(grep -cE '^g[0-3] +running +256MiB +1 +yes +-$' "$T/list.txt")" -eq 4 ] ||
	fail "ksmctl list does not show 4 running 256 MiB guests with 1 vCPU"

ctl verify >"$T/verify.txt" || fail "ksmctl verify reported a problem: $(cat "$T/verify.txt")"
cat "$T/verify.txt"
for g in g0 g1 g2 g3; do
	grep -qE "^$g VERIFY ok=[0-9]+ bad=0$" "$T/verify.txt" || fail "$g did not verify bad=0"
done
# Every profile page is checked: ok must be the guest's whole profile (> 60000 pages).
ok=$(sed -n 's/^g0 VERIFY ok=\([0-9]*\).*/\1/p' "$T/verify.txt")
[ "$ok" -gt 60000 ] || fail "g0 verified only $ok pages"
grep -q '^VERIFY ok=[0-9]* bad=0' "$T/console/g0.log" || fail "g0 console lacks its VERIFY line"

# --timeout: a deadline for the whole request. One that is long enough answers as usual.
ctl verify g1 --timeout 600 >"$T/verify-t.txt" || fail "verify g1 --timeout 600: $(cat "$T/verify-t.txt")"
grep -qE "^g1 VERIFY ok=$ok bad=0$" "$T/verify-t.txt" || fail "verify g1 --timeout 600: $(cat "$T/verify-t.txt")"
# One of 1 s may pass the guests while they check (4 x 256 MiB on a slow host): they go on,
# a new verify is refused as busy until they report, and then counts every page again.
if ctl verify --timeout 1 >"$T/verify-1s.txt"; then
	echo "all 4 guests verified within 1 s"
	[ "$(grep -cE '^g[0-3] VERIFY ok=[0-9]+ bad=0$' "$T/verify-1s.txt")" -eq 4 ] ||
		fail "verify --timeout 1 succeeded without 4 clean answers: $(cat "$T/verify-1s.txt")"
else
	cat "$T/verify-1s.txt"
	grep -q 'VERIFY error: guest g[0-3] did not answer in time$' "$T/verify-1s.txt" ||
		fail "verify --timeout 1 failed, but not by the deadline: $(cat "$T/verify-1s.txt")"
	busy=0
	for _ in $(seq 600); do
		ctl verify g0 >"$T/verify-g0.txt" && break
		grep -q 'is busy with another verify' "$T/verify-g0.txt" ||
			fail "verify after a late round: $(cat "$T/verify-g0.txt")"
		busy=$((busy + 1))
		sleep 0.5
	done
	echo "g0 busy with its late verify for $busy tries"
fi
ctl verify >"$T/verify-after.txt" || fail "verify after --timeout 1: $(cat "$T/verify-after.txt")"
[ "$(grep -cE "^g[0-3] VERIFY ok=$ok bad=0$" "$T/verify-after.txt")" -eq 4 ] ||
	fail "after a late round, not every guest counted its $ok pages: $(cat "$T/verify-after.txt")"

# Corrupt one page of g2 from outside (through /proc/PID/mem): verify must see it in g2
# and only there.
python3 tests/lib/poke.py "$VMM_PID" "$SOCK" g2 || fail "could not poke guest memory"
ctl verify >"$T/verify2.txt" && fail "verify after corruption succeeded: $(cat "$T/verify2.txt")"
cat "$T/verify2.txt"
grep -qE '^g2 VERIFY ok=[0-9]+ bad=1$' "$T/verify2.txt" || fail "corruption of g2 not reported"
[ "$(grep -cE '^g[013] VERIFY ok=[0-9]+ bad=0$' "$T/verify2.txt")" -eq 3 ] ||
	fail "other guests did not stay bad=0"

ctl stop || fail "ksmctl stop failed"
wait_exit 30
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited with $VMM_STATUS after stop"
[ ! -e "$SOCK" ] || fail "control socket left behind"
echo "fleet test ok"
