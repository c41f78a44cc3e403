# virtio-hostile.sh - a running workload guest turns hostile driver (`ksmctl hostile`): it
# posts a descriptor outside RAM, a descriptor loop, a buffer of the wrong direction, an
# oversized block request and an avail index more than a queue ahead, each to another of
# its devices. Each device must end in NEEDS_RESET with one warning line in the VMM's
# log, and repeated failures of one device (reset between) are logged at most once per
# 10 s; the guest can reset a device and use it again; the guest and its neighbours keep running, their
# devices untouched, and every guest verifies bad=0.
source "$(dirname "$0")/../lib/kvm.sh"

head -c 1048576 /dev/urandom >"$T/a.img"
head -c 1048576 /dev/urandom >"$T/b.img"
start_vmm --count 3 --mem 64M --guest workload --profile shared=50,zero=10 \
	--disk "$T/a.img,snapshot" --disk "$T/b.img,snapshot"
wait_ready 3 120
log=$T/console/g0.log

# dev NAME KIND [N]: index among NAME's virtio (mmio) devices of its N-th device of KIND.
dev() {
	ctl devices "$1" --json | python3 -c '
import json, sys
d = [x for x in json.load(sys.stdin)["devices"] if x["bus"] == "mmio"]
k = [i for i, x in enumerate(d) if x["kind"] == sys.argv[1]]
print(k[int(sys.argv[2])])' "$2" "${3:-0}"
}
# state NAME INDEX: the state of NAME's INDEX-th virtio device.
state() {
	ctl devices "$1" --json | python3 -c '
import json, sys
d = [x for x in json.load(sys.stdin)["devices"] if x["bus"] == "mmio"]
print(d[int(sys.argv[1])]["state"])' "$2"
}
warnings() { grep -c 'guest error (.*): device needs reset' "$T/vmm.log"; }

# The command checks its arguments before the guest sees them.
ctl hostile g0 0 bogus 2>/dev/null && fail "an unknown attack was accepted"
ctl hostile g0 99 loop 2>/dev/null && fail "device 99 was accepted"
ctl hostile nosuch 0 loop 2>/dev/null && fail "an unknown guest was accepted"

console=$(dev g0 console) rng=$(dev g0 rng) balloon=$(dev g0 balloon)
blk0=$(dev g0 blk 0) blk1=$(dev g0 blk 1)
[ "$(warnings)" -eq 0 ] || fail "guest errors logged before any attack"
n=0
# attack DEVICE ATTACK: post it, wait for the guest's line, check state and log.
attack() {
	n=$((n + 1))
	ctl hostile g0 "$1" "$2" >/dev/null || fail "ksmctl hostile g0 $1 $2 failed"
	wait_for 20 "the guest to post '$2' to device $1" \
		bash -c "[ \$(grep -c '^HOSTILE attack' '$log') -ge $n ]"
	grep '^HOSTILE attack' "$log" | tail -n 1
	[ "$(state g0 "$1")" = needs-reset ] || fail "device $1 is '$(state g0 "$1")' after '$2'"
}
# The rng fails three times in a row, a reset between: the log says so at most once per
# 10 s (the rate limit), and the reset device works again each time.
t0=$(date +%s.%N)
attack "$rng" outside
for a in loop avail; do
	resets=$(grep -c '^HOSTILE reset: VIRTIO rng ok' "$log")
	ctl hostile g0 "$rng" reset >/dev/null || fail "reset request failed"
	wait_for 20 "the rng to be reset" \
		bash -c "[ \$(grep -c '^HOSTILE reset: VIRTIO rng ok' '$log') -gt $resets ]"
	[ "$(state g0 "$rng")" = driver-ok ] || fail "rng is '$(state g0 "$rng")' after its reset"
	attack "$rng" "$a"
done
took=$(python3 -c "import sys, time; print(int(time.time() - float(sys.argv[1])))" "$t0")
rng_lines=$(warnings)
echo "3 rng failures in ${took}s: $rng_lines warning lines"
[ "$rng_lines" -ge 1 ] && [ "$rng_lines" -le $((1 + took / 10)) ] ||
	fail "$rng_lines warning lines for 3 failures in ${took}s: the rate limit is 1 per 10 s"
[ "$rng_lines" -eq 3 ] && echo "note: the failures came > 10 s apart: the rate limit dropped none"

attack "$console" loop
attack "$blk0" direction
attack "$blk1" oversize
attack "$balloon" avail
grep 'guest error' "$T/vmm.log"
[ "$(warnings)" -eq $((rng_lines + 4)) ] ||
	fail "$(($(warnings) - rng_lines)) warning lines for 4 bad requests to 4 devices, want 4"

# The fleet goes on: every guest running, the neighbours' devices untouched.
ctl list | tee "$T/list.txt"
[ "$(grep -cE '^g[0-2] +running' "$T/list.txt")" -eq 3 ] || fail "a guest stopped"
for g in g1 g2; do
	ctl devices "$g" --json | python3 -c '
import json, sys
d = [x for x in json.load(sys.stdin)["devices"] if x["bus"] == "mmio"]
bad = [(x["kind"], x["state"]) for x in d if x["state"] != "driver-ok"]
sys.exit(1 if bad or len(d) != 5 else 0)' || fail "$g's devices were disturbed"
done
verify_all 3
ctl stop >/dev/null
wait_exit 60
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
echo "virtio hostile test ok"
