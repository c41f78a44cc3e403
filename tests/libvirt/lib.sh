# lib.sh - sourced by the libvirt client tests: start build/tests/lv-fake-server on a
# fresh socket (LV_SOCK, LV_URI), stop it on exit, skip loudly when a piece is missing.
lv_need() { # command...
	for c in "$@"; do
		command -v "$c" >/dev/null || { echo "SKIPPED: $c is not installed (apt-get install libvirt-clients)"; exit 77; }
	done
}

lv_start() {
	LV_SERVER=${LV_FAKE_SERVER:-build/tests/lv-fake-server}
	[ -x "$LV_SERVER" ] || { echo "FAIL: $LV_SERVER is missing (make unit)"; exit 1; }
	LV_DIR=$(mktemp -d /tmp/lv-fake.XXXXXX)
	LV_SOCK=$LV_DIR/sock
	LV_URI="ksmvmm+unix:///system?socket=$LV_SOCK"
	"$LV_SERVER" "$LV_SOCK" 2>"$LV_DIR/server.log" &
	LV_PID=$!
	trap lv_stop EXIT
	for _ in $(seq 50); do
		[ -S "$LV_SOCK" ] && return 0
		sleep 0.1
	done
	echo "FAIL: the fake server did not create $LV_SOCK"
	cat "$LV_DIR/server.log"
	exit 1
}

# Stop the server; a server that did not exit cleanly (a sanitizer report, a crash)
# turns the test into a failure.
lv_stop() {
	local rc=0
	if [ -n "${LV_PID:-}" ]; then
		kill "$LV_PID" 2>/dev/null
		wait "$LV_PID" 2>/dev/null
		rc=$?
		LV_PID=
	fi
	if [ $rc -ne 0 ]; then
		echo "FAIL: the fake server exited with $rc:"
		cat "$LV_DIR/server.log"
		rm -rf "$LV_DIR"
		exit 1
	fi
	rm -rf "$LV_DIR"
}
