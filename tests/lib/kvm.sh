# kvm.sh - helpers for tests that run real guests: start ksmvmm, wait, clean up.
# Source it; it sets up a temp dir ($T), a cleanup trap, and skips (exit 77) without KVM.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
KSMVMM=$PWD/build/ksmvmm
KSMCTL=$PWD/build/ksmctl
T=$(mktemp -d /tmp/ksmvmm-test.XXXXXX)
VMM_PID=
SOCK=$T/control.sock

source tests/lib/common.sh
need_kvm

# start_vmm ARGS...: run ksmvmm in the background with a control socket and consoles.
start_vmm() {
	"$KSMVMM" run --control "$SOCK" --console "$T/console" "$@" >"$T/vmm.log" 2>&1 &
	VMM_PID=$!
	wait_for 30 "control socket" test -S "$SOCK"
}

# start_two_groups: 4 x 64 MiB guests of the same content in sharing groups A = g0,g1 and
# B = g2,g3, READY and merged inside their groups.
start_two_groups() {
	start_vmm --count 4 --mem 64M --guest workload --profile shared=50,zero=10 \
		--share-group A=g0,g1 --share-group B=g2,g3
	wait_ready 4 120
	python3 tests/lib/fleet.py converge "$SOCK" "$VMM_PID" "$T/console" -1 120 ||
		fail "groups did not merge inside themselves"
}


# wait_ready N SECONDS: wait until N consoles print READY.
wait_ready() {
	local n=$1 limit=$2
	wait_for "$limit" "$n guests READY" ready_count_is "$n"
}
ready_count_is() {
	[ "$(grep -l '^READY' "$T"/console/*.log 2>/dev/null | wc -l)" -ge "$1" ]
}

# wait_exit SECONDS: wait for ksmvmm to exit; sets VMM_STATUS.
wait_exit() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		if ! kill -0 "$VMM_PID" 2>/dev/null; then
			wait "$VMM_PID"
			VMM_STATUS=$?
			VMM_PID=
			return 0
		fi
		sleep 0.1
	done
	fail "ksmvmm did not exit within $1 s"
}

ctl() { "$KSMCTL" --control "$SOCK" "$@"; }

# baseline_pss ARGS...: run the fleet with --merge=off, return its Pss once READY.
baseline_pss() {
	local n=$1
	shift
	start_vmm --merge=off "$@"
	wait_ready "$n" 300
	sleep 1
	BASELINE=$(python3 tests/lib/fleet.py pss "$VMM_PID") || fail "cannot read Pss"
	ctl stop >/dev/null
	wait_exit 60
	rm -rf "$T/console"
	echo "baseline (--merge=off) Pss: $((BASELINE >> 20)) MiB"
}

# verify_all N [NAME_RE]: every guest (N of them, named like NAME_RE) verifies bad=0.
verify_all() { # N [NAME_RE (default g[0-9]+)]
	ctl verify >"$T/verify.txt" || fail "verify failed: $(cat "$T/verify.txt")"
	cat "$T/verify.txt"
	[ "$(grep -cE "^${2:-g[0-9]+} VERIFY ok=[0-9]+ bad=0\$" "$T/verify.txt")" -eq "$1" ] ||
		fail "not every guest verified bad=0"
}

# merge_test N PROFILE_ARGS...: with N guests, measure the --merge=off baseline, then let
# the engine converge (95% of the ideal merges, Pss down by 90% of the ideal saving),
# verify every guest, and stop cleanly.
merge_test() {
	local n=$1
	shift
	baseline_pss "$n" "$@"
	start_vmm "$@"
	wait_ready "$n" 300
	python3 tests/lib/fleet.py converge "$SOCK" "$VMM_PID" "$T/console" "$BASELINE" ||
		fail "did not converge"
	verify_all "$n"
	ctl stats
	ctl stop >/dev/null
	wait_exit 60
	[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
}

# quiet_audit WHAT: the pagemap audit (tests/lib/fleet.py audit) while the engine makes no
# merges, for guests that keep mutating: copy-on-write breaks go on meanwhile (within the
# audit's tolerance at a few pages/s), merges would not be in its figures yet.
quiet_audit() {
	ctl set interval_ms 60000 >/dev/null || fail "set interval_ms"
	sleep 0.5
	python3 tests/lib/fleet.py audit "$SOCK" "$VMM_PID" || fail "$1"
	ctl set interval_ms 100 >/dev/null || fail "set interval_ms"
}

# expect_born_shared: right after a restore or a clone, every guest of `ksmctl stats`
# maps pool pages for at least 80% of its non-zero pages (a profile with zero=10).
expect_born_shared() {
	ctl stats --json >"$T/stats-born.json" || fail "stats"
	python3 - "$T/stats-born.json" <<'PY' || fail "the guests do not start shared"
import json, sys
for g in json.load(open(sys.argv[1]))["guests"]:
    print(g["name"], "merged", g["pages_merged"], "of", g["pages_total"])
    assert g["pages_merged"] >= 0.8 * 0.9 * g["pages_total"], g
PY
}
