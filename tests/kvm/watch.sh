# watch.sh - a workload guest times the stalls it notices (`ksmctl watch`): merging pauses
# its vCPU, and each pause must show up as a stall the guest saw, on top of the floor of
# stalls the host causes without any merging.
source "$(dirname "$0")/../lib/kvm.sh"

# The engine sleeps until woken (as a cold start of the benchmark does); small batches
# make many pauses.
start_vmm --count 2 --mem 64M --guest workload --profile shared=50,zero=10 \
	--ksm-interval-ms 60000 --ksm-scan-rate 1 --ksm-batch 8
wait_ready 2 120

# Bad requests get an error and a non-zero exit.
ctl watch nosuch 100 2>"$T/err.txt" && fail "watch of a missing guest succeeded"
grep -q 'no guest named "nosuch"' "$T/err.txt" || fail "unclear error: $(cat "$T/err.txt")"
ctl watch g0 0 2>/dev/null && fail "watch of 0 ms accepted"
ctl watch g0 100 5000 2>/dev/null && fail "threshold of 5000 us accepted"

# The floor: no merging yet.
ctl --json watch g0 1500 >"$T/floor.json" || fail "watch failed"

# Watch while the engine merges both guests.
ctl --json watch g0 4000 >"$T/merge.json" &
WATCH_PID=$!
sleep 0.5
ctl set scan_rate 0 >/dev/null && ctl set interval_ms 100 >/dev/null || fail "set failed"
wait "$WATCH_PID" || fail "watch during merging failed"
python3 tests/lib/fleet.py wait-merged "$SOCK" 3000 60 || fail "did not merge"
ctl stats --json >"$T/stats.json" || fail "stats failed"

python3 - "$T/floor.json" "$T/merge.json" "$T/stats.json" <<'EOF' || fail "stall figures"
import json, sys
floor, merge, stats = (json.load(open(p)) for p in sys.argv[1:])
for name, w, ms in (("floor", floor, 1500), ("merging", merge, 4000)):
    print(f"{name}: watched {w['watched_ns'] / 1e6:.0f} ms, {w['reads']} reads, "
          f"{w['stalls']} stalls, stalled {w['stalled_ns'] / 1e6:.2f} ms, "
          f"p50 {w['p50_ns'] / 1e3:.1f} us, p99 {w['p99_ns'] / 1e3:.1f} us, "
          f"max {w['max_ns'] / 1e3:.1f} us")
    assert abs(w["watched_ns"] / 1e6 - ms) < 0.2 * ms, "watched for the wrong time"
    assert w["reads"] > 10000, "the guest hardly ran"
    s = w["stall_ns"]
    assert len(s) == min(w["stalls"], 8192) and s == sorted(s), "samples"
    # The guest counts in its own calibration of the TSC, the VMM converts with KVM's.
    assert all(x > 0.9 * w["threshold_ns"] for x in s), "a stall below the threshold"
    assert not s or (w["p50_ns"] <= w["p99_ns"] <= w["max_ns"] == s[-1]), "percentiles"
pauses = stats["engine"]["stall_us"]["count"]
expected_floor = floor["stalls"] * 4000 / 1500
extra = merge["stalls"] - expected_floor
print(f"engine paused the guests {pauses} times; the guest saw {extra:.0f} stalls "
      f"above its floor")
assert pauses >= 200, "too few pauses to tell"
# Two guests share the pauses about evenly; allow for pauses hidden in host gaps.
assert extra >= pauses / 4, "the guest did not notice the merge pauses"
EOF
verify_all 2
ctl stop >/dev/null
wait_exit 30
echo "watch test ok"
