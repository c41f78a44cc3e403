# kvm.sh - helpers for tests that run real guests: start ksmvmm, wait, clean up.
# Source it; it sets up a temp dir ($T), a cleanup trap, and skips (exit 77) without KVM.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
KSMVMM=$PWD/build/ksmvmm
KSMCTL=$PWD/build/ksmctl
T=$(mktemp -d /tmp/ksmvmm-test.XXXXXX)
VMM_PID=
SOCK=$T/control.sock

if [ ! -c "${KSMVMM_KVM_DEVICE:-/dev/kvm}" ]; then
	echo "SKIPPED: /dev/kvm is missing, this test needs real KVM guests"
	exit 77
fi

cleanup() {
	if [ -n "$VMM_PID" ] && kill -0 "$VMM_PID" 2>/dev/null; then
		kill -KILL "$VMM_PID" 2>/dev/null
		wait "$VMM_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	for f in "$T"/*.log "$T"/console/*.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	# KSMVMM_TEST_KEEP=DIR keeps the failed run's logs and consoles (for nested runs).
	if [ -n "${KSMVMM_TEST_KEEP:-}" ]; then
		tar -C "$(dirname "$T")" --exclude='*.sock' -cf - "$(basename "$T")" |
			tar -C "$KSMVMM_TEST_KEEP" -xf -
		echo "kept $T in $KSMVMM_TEST_KEEP"
	fi
	exit 1
}

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

# wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds.
wait_for() {
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		kill -0 "$VMM_PID" 2>/dev/null || fail "ksmvmm exited while waiting for $what"
		sleep 0.1
	done
	fail "timed out after ${limit}s waiting for $what"
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

# verify_all N: every guest verifies bad=0.
verify_all() {
	ctl verify >"$T/verify.txt" || fail "verify failed: $(cat "$T/verify.txt")"
	cat "$T/verify.txt"
	[ "$(grep -cE '^g[0-9]+ VERIFY ok=[0-9]+ bad=0$' "$T/verify.txt")" -eq "$1" ] ||
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
