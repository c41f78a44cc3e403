# snapshot.sh - snapshot a running workload guest (2 vCPUs, mutating, every virtio device
# and a snapshot-mode disk), then restore it 4 times: the parent goes on and verifies
# bad=0; the 4 restored guests each take a new identity (distinct generation IDs in
# their consoles), verify bad=0 (pages inherited from the parent and pages they wrote
# since), start with their RAM mapping the snapshot's memory file in place (engine stats
# and the pagemap audit agree; the file is immutable until they end), cost together little more than one guest in host Pss, and keep
# mutating under their own seeds. A second snapshot to the same directory, a truncated
# state file, an altered memory file, a newer format version and guest options given
# with --restore are each refused with a clear message.
source "$(dirname "$0")/../lib/kvm.sh"

head -c 1048576 /dev/urandom >"$T/disk.img"
start_vmm --count 1 --mem 64M --cpus 2 --guest workload \
	--profile shared=50,zero=10,mutate=10@5 --disk "$T/disk.img,snapshot"
wait_ready 1 120
sleep 2 # some mutations before the snapshot
ctl snapshot g0 "$T/snap" >"$T/snap.out" 2>&1 || fail "snapshot failed: $(cat "$T/snap.out")"
grep -q "g0 saved to $T/snap" "$T/snap.out" || fail "snapshot said: $(cat "$T/snap.out")"
[ -f "$T/snap/state" ] && [ -f "$T/snap/memory" ] || fail "snapshot has no state or memory"
ls -d "$T"/snap.partial* 2>/dev/null && fail "a partial snapshot directory was left behind"
ctl snapshot g0 "$T/snap" 2>"$T/err.txt" && fail "a second snapshot overwrote the first"
grep -q "exists" "$T/err.txt" || fail "no clear message for an existing directory: $(cat "$T/err.txt")"
ctl verify g0 >"$T/verify0.txt" || fail "the parent does not verify after its snapshot"
grep -qE '^g0 VERIFY ok=[0-9]+ bad=0$' "$T/verify0.txt" || fail "parent: $(cat "$T/verify0.txt")"
ctl stop >/dev/null
wait_exit 60
mv "$T/console" "$T/console-parent"

# Guest options do not go with --restore.
"$KSMVMM" run --restore "$T/snap" --mem 64M 2>"$T/err.txt" && fail "--restore took --mem"
grep -q -- "--mem describes guests" "$T/err.txt" || fail "no clear message: $(cat "$T/err.txt")"

# Restore 4: each guest goes on from the parent's state with a new identity.
start_vmm --restore "$T/snap" --count 4 --name c
wait_for 120 "4 restored guests" sh -c "[ \$(grep -l '^RESTORED' $T/console/c*.log 2>/dev/null | wc -l) -eq 4 ]"
gens=$(grep -h '^RESTORED' "$T"/console/c*.log | sed 's/.*generation=\([0-9a-fx]*\).*/\1/' | sort -u | wc -l)
[ "$gens" -eq 4 ] || fail "the restored guests do not have 4 distinct generation IDs"
expect_born_shared
# Zero copies: the guests map the memory file itself, which nobody (root included) may
# change while they do.
grep -q "pages in the pool in .* (the memory file mapped in place, no copy)" "$T/vmm.log" ||
	fail "the memory was not mapped in place: $(grep -m1 'pool' "$T/vmm.log")"
[ "$(python3 tests/lib/fleet.py immutable "$T/snap/memory")" = 1 ] ||
	fail "the mapped memory file is not immutable"
(printf x >>"$T/snap/memory") 2>/dev/null && fail "the mapped memory file could be written"
rm -f "$T/snap/memory" 2>/dev/null
[ -f "$T/snap/memory" ] || fail "the mapped memory file could be removed"
verify_all 4 "c[0-3]" # reads every page: the pagemap then shows the frames
quiet_audit "pagemap audit disagrees with the engine"
pss=$(python3 tests/lib/fleet.py pss "$VMM_PID") || fail "cannot read Pss"
echo "4 restored guests of 64 MiB, every page read: process Pss $((pss >> 20)) MiB"
[ "$pss" -lt $((2 * 64 << 20)) ] || fail "4 restored guests cost more than 2 guests' RAM"
sleep 3 # they mutate under their own identities
verify_all 4 "c[0-3]" # reads every page: the pagemap then shows the frames
python3 tests/lib/fleet.py cow "$SOCK" 1 60 || fail "no copy-on-write break after restoring"
quiet_audit "audit after mutations"
ctl stop >/dev/null
wait_exit 60
[ "$(python3 tests/lib/fleet.py immutable "$T/snap/memory")" = 0 ] ||
	fail "the memory file stayed immutable after the last guest ended"

# Damaged snapshots are refused, each with its own message.
refuse() { # NAME EXPECTED-MESSAGE: restore $T/bad and expect a failure saying it
	"$KSMVMM" run --restore "$T/bad" --count 1 >"$T/bad.log" 2>&1 && fail "$1: restored"
	grep -q "$2" "$T/bad.log" || fail "$1: no clear message: $(cat "$T/bad.log")"
	echo "$1 refused: $(grep -m1 "$2" "$T/bad.log")"
}
cp -a "$T/snap" "$T/bad" && chmod -R u+w "$T/bad"
truncate -s -100 "$T/bad/state"
refuse "a truncated state file" "snapshot"
rm -rf "$T/bad" && cp -a "$T/snap" "$T/bad" && chmod -R u+w "$T/bad"
printf '\xff' | dd of="$T/bad/memory" bs=1 seek=$((3 << 20)) conv=notrunc status=none
refuse "an altered memory file" "memory"
rm -rf "$T/bad" && cp -a "$T/snap" "$T/bad" && chmod -R u+w "$T/bad"
printf '\x07' | dd of="$T/bad/state" bs=1 seek=8 conv=notrunc status=none
refuse "a newer format version" "version"
echo "snapshot test ok"
