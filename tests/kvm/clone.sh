# clone.sh - live clone: `ksmctl clone g0 --count 3` forks a running, mutating workload
# guest (2 vCPUs, every virtio device, a snapshot-mode disk) in place. The parent and its
# 3 clones go on, the clones each with a new identity (distinct generation IDs, none the
# parent's); all four share the parent's memory at once (engine stats, the pagemap
# audit, host Pss) and verify bad=0, before and after they wrote under their own
# identities. A clone of a clone takes the pool pages it maps merged instead of copying
# them. A clone of an unknown guest and a clone without the engine are refused.
source "$(dirname "$0")/../lib/kvm.sh"

head -c 1048576 /dev/urandom >"$T/disk.img"
start_vmm --count 1 --mem 64M --cpus 2 --guest workload \
	--profile shared=50,zero=10,mutate=10@5 --disk "$T/disk.img,snapshot"
wait_ready 1 120
sleep 2 # its zero pages released: the Pss of one guest
before=$(python3 tests/lib/fleet.py pss "$VMM_PID") || fail "cannot read Pss"
ctl clone g0 --count 3 >"$T/clone.out" 2>&1 || fail "clone failed: $(cat "$T/clone.out")"
cat "$T/clone.out"
[ "$(grep -c '^g0 cloned: g0-[123]$' "$T/clone.out")" -eq 3 ] || fail "clone said: $(cat "$T/clone.out")"
wait_for 120 "3 clones RESTORED" sh -c "[ \$(grep -l '^RESTORED' $T/console/g0-*.log 2>/dev/null | wc -l) -eq 3 ]"
parent_gen=$(grep -m1 -o 'generation=[0-9a-fx]*' "$T/console/g0.log" | cut -d= -f2)
[ -n "$parent_gen" ] || fail "the parent printed no generation ID"
gens=$(grep -h '^RESTORED' "$T"/console/g0-*.log | sed 's/.*generation=\([0-9a-fx]*\).*/\1/')
[ "$(echo "$gens" | sort -u | wc -l)" -eq 3 ] || fail "the clones' generation IDs are not distinct"
echo "$gens" | grep -qx "$parent_gen" && fail "a clone kept the parent's generation ID"
ctl list | grep -E '^g0-[123] +running' | wc -l | grep -qx 3 || fail "the clones are not running: $(ctl list)"

expect_born_shared
verify_all 4 "g0(-[123])?"
quiet_audit "pagemap audit disagrees with the engine after the clone"
after=$(python3 tests/lib/fleet.py pss "$VMM_PID") || fail "cannot read Pss"
echo "Pss: parent alone $((before >> 20)) MiB, parent and 3 clones $((after >> 20)) MiB"
[ "$after" -lt $((before + 64 << 20)) ] || fail "3 clones cost more than one guest's RAM"
sleep 3 # all four mutate, the clones under their own identities
verify_all 4 "g0(-[123])?"
python3 tests/lib/fleet.py cow "$SOCK" 1 60 || fail "no copy-on-write break after the clone"
quiet_audit "audit after mutations"

# A clone of a clone: g0-1 maps the first image merged, so its fork takes those pool
# pages rather than copying them; only what g0-1 wrote since is copied (a copy of
# everything would add about its 90% of non-zero pages, 14745).
pool_pages() { ctl stats --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["engine"]["pool_pages"])'; }
p0=$(pool_pages) || fail "stats"
ctl clone g0-1 --count 1 >"$T/clone2.out" 2>&1 || fail "clone of a clone failed: $(cat "$T/clone2.out")"
grep -qx 'g0-1 cloned: g0-1-1' "$T/clone2.out" || fail "clone said: $(cat "$T/clone2.out")"
p1=$(pool_pages) || fail "stats"
echo "the clone of a clone added $((p1 - p0)) pool pages (a guest has 16384)"
[ $((p1 - p0)) -lt 8192 ] || fail "the clone of a clone copied $((p1 - p0)) pages"
wait_for 120 "the clone's clone RESTORED" grep -q '^RESTORED' "$T/console/g0-1-1.log"
verify_all 5 "g0(-[123])?(-1)?"
quiet_audit "pagemap audit disagrees with the engine after the clone of a clone"

ctl clone nosuch --count 1 2>"$T/err.txt" && fail "cloned an unknown guest"
grep -q 'no guest named "nosuch"' "$T/err.txt" || fail "unknown guest: $(cat "$T/err.txt")"
ctl stop >/dev/null
wait_exit 60

rm -rf "$T/console"
start_vmm --count 1 --mem 16M --guest workload --profile shared=50 --merge=off
wait_ready 1 120
ctl clone g0 --count 1 2>"$T/err.txt" && fail "cloned without the engine"
grep -q "clones need the merge engine" "$T/err.txt" || fail "no engine: $(cat "$T/err.txt")"
ctl stop >/dev/null
wait_exit 60
echo "clone test ok"
