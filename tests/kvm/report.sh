# report.sh - `ksmctl report` and its views on 4 x 64 MiB guests (shared=50, zero=10):
# per-guest figures add up to the totals and agree with the host's Pss within the
# documented tolerance; --json validates against docs/report-schema.json; --svg and
# --png are valid pictures of the documented size; history --csv, metrics (strict
# Prometheus parser) and top (under a pseudo-terminal, piped, and in tmux) work; a
# stopped and a dead guest leave the report cleanly; an unreachable socket and a fleet
# without the engine give a clear message.
source "$(dirname "$0")/../lib/kvm.sh"

start_vmm --count 4 --mem 64M --guest workload --profile shared=50,zero=10
wait_ready 4 120
python3 tests/lib/fleet.py converge "$SOCK" "$VMM_PID" "$T/console" -1 120 ||
	fail "did not converge"
sleep 3 # a few history samples after convergence
python3 tests/lib/report.py attribution "$SOCK" "$VMM_PID" "$T/console" || fail "attribution"

# The table: every guest, totals with units, the host's verdict.
ctl report >"$T/report.txt" || fail "ksmctl report failed"
cat "$T/report.txt"
for g in g0 g1 g2 g3 TOTAL; do
	grep -q "^$g " "$T/report.txt" || fail "report table has no row $g"
done
grep -q "MiB" "$T/report.txt" && grep -q "agrees" "$T/report.txt" || fail "report table"

ctl report --json >"$T/report.json" || fail "report --json"
python3 tests/lib/report.py schema "$T/report.json" || fail "report --json is not valid"
# Each guest by name and UUID: the same UUID in the JSON, the table and stats, all distinct.
ctl stats --json >"$T/stats.json" || fail "stats --json"
ctl stats >"$T/stats.txt" || fail "stats"
uuids=$(python3 -c 'import json, sys
r = {g["name"]: g["uuid"] for g in json.load(open(sys.argv[1]))["guests"]}
s = {g["name"]: g["uuid"] for g in json.load(open(sys.argv[2]))["guests"]}
assert r == s and len(set(r.values())) == len(r) == 4, (r, s)
print(" ".join(f"{n}={u}" for n, u in sorted(r.items())))' "$T/report.json" "$T/stats.json") ||
	fail "report and stats disagree on the UUIDs"
for nu in $uuids; do
	grep -q "^${nu%%=*} \+${nu#*=} " "$T/report.txt" || fail "report table: no ${nu%%=*} ${nu#*=}"
	grep -q "^${nu%%=*} \+${nu#*=} " "$T/stats.txt" || fail "stats table: no ${nu%%=*} ${nu#*=}"
done

ctl report --svg "$T/report.svg" --png "$T/report.png" || fail "report --svg --png"
python3 tests/lib/report.py svg "$T/report.svg" 1200 900 || fail "bad SVG"
python3 tests/lib/report.py png "$T/report.png" 1200 900 || fail "bad PNG"
ctl report --png /nonexistent-dir/x.png 2>"$T/err.txt" && fail "writing a PNG nowhere worked"
grep -q "cannot write" "$T/err.txt" || fail "no clear message for an unwritable picture"

ctl history --csv >"$T/history.csv" || fail "history --csv"
python3 tests/lib/report.py history "$T/history.csv" || fail "history --csv"
ctl history g2 --csv | head -1 | grep -q "guest_bytes_saved" || fail "history NAME --csv"
ctl history nosuch 2>&1 | grep -q 'no guest named "nosuch"' || fail "history of an unknown guest"

ctl metrics >"$T/metrics.txt" || fail "metrics"
python3 tests/lib/prom.py "$T/metrics.txt" ksmvmm_guest_cost_bytes ksmvmm_guest_saved_bytes \
	ksmvmm_sharing_pages ksmvmm_engine_merges_total ksmvmm_host_pss_bytes || fail "metrics"
grep -Eq '^ksmvmm_guest_cost_bytes\{domain="g3",uuid="[0-9a-f-]{36}",group="fleet"\} ' \
	"$T/metrics.txt" || fail "metrics have no per-guest labels"

# top under a pseudo-terminal: the guests show, the terminal is given back.
script -qec "$KSMCTL --control $SOCK top --iterations 2 --interval 0.3" /dev/null \
	>"$T/top.tty" </dev/null || fail "top under a pty failed"
for g in g0 g1 g2 g3; do grep -q "^$g " "$T/top.tty" || fail "top shows no $g"; done
grep -q $'\e\\[?1049l' "$T/top.tty" || fail "top did not leave the alternate screen"
# top piped: plain frames, no escape sequences.
ctl top --iterations 2 --interval 0.2 >"$T/top.txt" || fail "top piped"
[ "$(grep -c '^----$' "$T/top.txt")" -eq 2 ] || fail "top piped: want 2 frames"
grep -q $'\e' "$T/top.txt" && fail "top piped: escape sequences in plain output"
# top in tmux: q quits and the shell after it runs.
if command -v tmux >/dev/null; then
	TM="tmux -L ksmvmm-test-$$"
	$TM new-session -d -x 160 -y 40 "$KSMCTL --control $SOCK top --interval 0.3; echo TOP-EXIT=\$?; sleep 60"
	sleep 2
	$TM capture-pane -p >"$T/tmux1.txt"
	$TM send-keys q
	sleep 1.5
	$TM capture-pane -p >"$T/tmux2.txt"
	$TM kill-server
	grep -q "^g3 " "$T/tmux1.txt" || fail "top in tmux shows no g3"
	grep -q "TOP-EXIT=0" "$T/tmux2.txt" || fail "top did not quit on q"
fi

# A stopped guest leaves the report; its memory is still the process's.
ctl stop g3 >/dev/null || fail "stop g3"
wait_for 30 "g3 stopped" sh -c "$KSMCTL --control $SOCK list | grep -q '^g3 *stopped'"
ctl report >"$T/report2.txt" || fail "report after a stop"
grep -q "^g3 .*ended, no figures" "$T/report2.txt" || fail "stopped g3 is not shown as ended"
python3 tests/lib/report.py attribution "$SOCK" "$VMM_PID" "$T/console" 1 ||
	fail "attribution after a stop"
# A dead guest (triple fault) too, with the reason it died.
ctl fault g2 >/dev/null || fail "fault g2"
wait_for 30 "g2 dead" sh -c "$KSMCTL --control $SOCK list | grep -q '^g2 *dead'"
ctl report >"$T/report3.txt" || fail "report after a guest died"
grep -q "^g2 .*dead *ended, no figures: ..*" "$T/report3.txt" || fail "dead g2 is not shown as ended"
python3 tests/lib/report.py attribution "$SOCK" "$VMM_PID" "$T/console" 2 ||
	fail "attribution after a guest died"
ctl stop >/dev/null
wait_exit 60

# An unreachable socket: a clear message, exit status 2, no crash.
ctl report 2>"$T/err.txt"
[ $? -eq 2 ] || fail "report on a dead socket: want exit status 2"
grep -q "cannot connect to $SOCK" "$T/err.txt" || fail "no clear message: $(cat "$T/err.txt")"
ctl top --iterations 1 2>/dev/null && fail "top on a dead socket succeeded"

# Without the engine there are no per-guest figures: say so.
rm -rf "$T/console"
start_vmm --count 1 --mem 16M --guest workload --profile shared=50 --merge=off
for c in report metrics history; do
	ctl $c >/dev/null 2>"$T/err.txt" && fail "$c without the engine succeeded"
	grep -q 'merging is "off"' "$T/err.txt" || fail "$c: no clear message: $(cat "$T/err.txt")"
done
ctl stop >/dev/null
wait_exit 60
echo "report test ok"
