# common.sh - what every test that runs ksmvmm shares: the cleanup trap, fail, wait_for.
# Sourced by kvm.sh and libvirt.sh after they set $T (temp dir) and VMM_PID.

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

# need_kvm: skip (exit 77) without /dev/kvm.
need_kvm() {
	if [ ! -c "${KSMVMM_KVM_DEVICE:-/dev/kvm}" ]; then
		echo "SKIPPED: /dev/kvm is missing, this test needs real KVM guests"
		exit 77
	fi
}
