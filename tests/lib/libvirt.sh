# libvirt.sh - helpers for tests of `ksmvmm serve` / `run --libvirt` driven by the unmodified
# libvirt clients. Source it: sets $T (temp dir, removed at exit), $URI; starts nothing.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
KSMVMM=$PWD/build/ksmvmm
KSMCTL=$PWD/build/ksmctl
T=$(mktemp -d /tmp/ksmvmm-lv.XXXXXX)
LV_SOCK=$T/libvirt.sock
SOCK=$T/control.sock
STATE=$T/state
URI="ksmvmm+unix:///system?socket=$LV_SOCK"
VMM_PID=

command -v virsh >/dev/null || { echo "SKIPPED: virsh is missing (apt-get install libvirt-clients)"; exit 77; }
[ -x "$KSMVMM" ] || { echo "SKIPPED: $KSMVMM is not built (make all)"; exit 77; }
# Debian's python3-libvirt is for Debian's python3, whatever python3 is first in PATH.
PYLV=/usr/bin/python3
"$PYLV" -c 'import libvirt' 2>/dev/null ||
	{ echo "SKIPPED: python3-libvirt is missing (apt-get install python3-libvirt)"; exit 77; }

source tests/lib/common.sh

# start_serve [ARGS...]: ksmvmm serve on $STATE with the libvirt and control sockets.
start_serve() {
	rm -f "$LV_SOCK" "$SOCK"
	"$KSMVMM" serve --state-dir "$STATE" --libvirt "$LV_SOCK" --control "$SOCK" \
		--console "$T/console" "$@" >>"$T/vmm.log" 2>&1 &
	VMM_PID=$!
	local i
	for ((i = 0; i < 300; i++)); do
		[ -S "$LV_SOCK" ] && return 0
		kill -0 "$VMM_PID" 2>/dev/null || fail "ksmvmm serve exited at start"
		sleep 0.1
	done
	fail "the libvirt socket did not appear"
}

# stop_serve: SIGTERM, and it must exit 0 within 30 s.
stop_serve() {
	local i
	kill -TERM "$VMM_PID"
	for ((i = 0; i < 300; i++)); do
		if ! kill -0 "$VMM_PID" 2>/dev/null; then
			wait "$VMM_PID"
			local rc=$?
			VMM_PID=
			[ $rc -eq 0 ] || fail "ksmvmm serve exited $rc after SIGTERM"
			return 0
		fi
		sleep 0.1
	done
	fail "ksmvmm serve did not stop within 30 s of SIGTERM"
}

# Every call bounded: virsh 9.0 can wait forever after a save is done (its save thread
# ends before it watches for that: tests/libvirt/virsh-fake.sh); a refused save then
# still fails, with virsh's own "Failed to save domain" printed first.
v() { timeout "${VIRSH_LIMIT:-300}" virsh -q -c "$URI" "$@"; }

# must_fail WHAT EXPECTED_TEXT virsh-args...: the command fails and says EXPECTED_TEXT.
must_fail() {
	local what=$1 want=$2 out
	shift 2
	if out=$(v "$@" 2>&1); then
		fail "$what succeeded: $out"
	fi
	grep -qF -- "$want" <<<"$out" || fail "$what: expected '$want' in: $out"
	echo "ok: $what refused: $(grep -F -- "$want" <<<"$out" | head -n 1)"
}

ctl() { "$KSMCTL" --control "$SOCK" "$@"; }

# ready NAME: guest NAME's console says READY (a workload guest filled its memory).
ready() { grep -q '^READY' "$T/console/$1.log" 2>/dev/null; }

# workload_xml NAME [PROFILE]: a workload domain called NAME (libvirt makes its UUID).
workload_xml() {
	sed -e "s|<name>wl0</name>|<name>$1</name>|" -e '/<uuid>/d' \
		-e "s|profile=\"[^\"]*\"|profile=\"${2:-shared=50,zero=10}\"|" \
		tests/libvirt/domains/workload.xml
}
