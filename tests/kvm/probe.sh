# probe.sh - the workload guest times its first store to merged pages: with merging the
# store is a copy-on-write fault (tens of microseconds here), without it a plain store;
# the probed pages verify afterwards.
source "$(dirname "$0")/../lib/kvm.sh"

P="--count 2 --mem 64M --guest workload --profile shared=50,zero=10"
p50() { sed -n "s/^$1 PROBE samples=256 p50=\([0-9.]*\)us.*/\1/p" "$2"; }

start_vmm --merge=off $P
wait_ready 2 120
ctl probe | tee "$T/off.txt" || fail "probe failed"
ctl stop >/dev/null
wait_exit 30
rm -rf "$T/console"

start_vmm $P
wait_ready 2 120
python3 tests/lib/fleet.py wait-merged "$SOCK" 15000 60 || fail "did not merge"
ctl probe | tee "$T/vmm.txt" || fail "probe failed"
verify_all 2
ctl stop >/dev/null
wait_exit 30
off=$(p50 g0 "$T/off.txt") merged=$(p50 g0 "$T/vmm.txt")
[ -n "$off" ] && [ -n "$merged" ] || fail "no probe figures"
echo "first store: unmerged p50 ${off} us, merged p50 ${merged} us"
python3 -c "import sys; sys.exit(0 if $merged > 5 * $off + 1 else 1)" ||
	fail "a first store to a merged page does not look like a copy-on-write fault"
echo "probe test ok"
