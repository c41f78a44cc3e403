# metrics-http.sh - `ksmvmm run --metrics PORT` on 3 x 64 MiB guests: GET /metrics over
# loopback is 200 with the 0.0.4 text type and parses with prometheus_client (Debian's
# python3-prometheus-client); every per-guest series carries domain and uuid labels that
# agree with `ksmctl report --json`; the series are those of `ksmctl metrics`; a bare
# PORT listens on 127.0.0.1 only; other paths are 404, other methods 405; a port in use
# is a clear error; the endpoint goes away with the VMM.
source "$(dirname "$0")/../lib/kvm.sh"

PY=/usr/bin/python3 # the system Python: python3-prometheus-client is installed for it
$PY -c 'import prometheus_client' 2>/dev/null ||
	fail "python3-prometheus-client is missing (tools/setup.sh installs it)"
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT/metrics

start_vmm --count 3 --mem 64M --guest workload --profile shared=50,zero=10 --metrics "$PORT"
wait_ready 3 120
python3 tests/lib/fleet.py converge "$SOCK" "$VMM_PID" "$T/console" -1 120 ||
	fail "did not converge"
grep -q "metrics at http://127.0.0.1:$PORT/metrics" "$T/vmm.log" || fail "no log line for the endpoint"

# A bare port is loopback only: the listening socket is 127.0.0.1:PORT (/proc/net/tcp).
hexport=$(printf '%04X' "$PORT")
grep -qE "^ *[0-9]+: 0100007F:$hexport 00000000:0000 0A " /proc/net/tcp ||
	fail "no listener on 127.0.0.1:$PORT"
[ "$(grep -cE "^ *[0-9]+: [0-9A-F]{8}:$hexport 00000000:0000 0A " /proc/net/tcp)" -eq 1 ] ||
	fail "listening on more than 127.0.0.1:$PORT"
! grep -qE "^ *[0-9]+: [0-9A-F]{32}:$hexport [0-9A-F]{32}:0000 0A " /proc/net/tcp6 2>/dev/null ||
	fail "listening on IPv6 too"

$PY tests/lib/prom_client.py scrape "$URL" "$T/http.txt" || fail "scrape"
ctl report --json >"$T/report.json" || fail "report --json"
ctl metrics >"$T/ctl.txt" || fail "ksmctl metrics"
$PY tests/lib/prom_client.py check "$T/http.txt" --report "$T/report.json" \
	--same-series "$T/ctl.txt" ksmvmm_up ksmvmm_guest_cost_bytes ksmvmm_guest_saved_bytes \
	ksmvmm_guest_merges_total ksmvmm_sharing_pages ksmvmm_engine_merges_total \
	ksmvmm_host_pss_bytes ksmvmm_fleet_guests || fail "the scrape does not check"
python3 tests/lib/prom.py "$T/http.txt" ksmvmm_guest_cost_bytes || fail "strict parser"
grep -Eq '^ksmvmm_guest_cost_bytes\{domain="g1",uuid="[0-9a-f-]{36}",group="fleet"\} [1-9]' \
	"$T/http.txt" || fail "no cost of g1 labelled by domain and uuid"
# The figures are the engine's, not zeros: merging happened.
grep -Eq '^ksmvmm_engine_merges_total [1-9]' "$T/http.txt" || fail "no merges in the scrape"

# Several scrapes at once all get an answer (wait for them only: the VMM is a child too).
pids=()
for i in 1 2 3 4; do
	$PY tests/lib/prom_client.py scrape "$URL" "$T/par$i.txt" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a parallel scrape failed"; done
for i in 1 2 3 4; do
	$PY tests/lib/prom_client.py check "$T/par$i.txt" ksmvmm_up >/dev/null || fail "parallel scrape $i"
done

[ "$($PY tests/lib/prom_client.py status GET "http://127.0.0.1:$PORT/")" = 404 ] || fail "/ is not 404"
[ "$($PY tests/lib/prom_client.py status GET "http://127.0.0.1:$PORT/metricsx")" = 404 ] ||
	fail "/metricsx is not 404"
[ "$($PY tests/lib/prom_client.py status POST "$URL")" = 405 ] || fail "POST is not 405"
# Garbage on the socket: the VMM keeps serving.
printf 'NONSENSE\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat >&3; cat <&3" \
	>/dev/null 2>&1
$PY tests/lib/prom_client.py scrape "$URL" "$T/after.txt" || fail "no scrape after garbage"

# The same port again: a clear error, nothing runs.
"$KSMVMM" run --count 1 --mem 16M --guest workload --metrics "$PORT" >"$T/second.log" 2>&1
[ $? -eq 1 ] || fail "a second VMM on the same port did not exit 1"
grep -q "cannot listen" "$T/second.log" || fail "no clear message: $(cat "$T/second.log")"

ctl stop >/dev/null
wait_exit 60
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
$PY tests/lib/prom_client.py status GET "$URL" 2>/dev/null && fail "the endpoint outlived the VMM"
echo "metrics-http test ok"
