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
