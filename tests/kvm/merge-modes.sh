# merge-modes.sh - --merge=off merges nothing; --merge=host hands the RAM to the host
# kernel's KSM (MADV_MERGEABLE), which then merges it; the engine stays off in both.
source "$(dirname "$0")/../lib/kvm.sh"

P="--count 2 --mem 32M --guest workload --profile shared=50,zero=10"
start_vmm --merge=off $P
wait_ready 2 120
ctl stats --json | python3 -c '
import json, sys; d = json.load(sys.stdin)
sys.exit(0 if d["merge"] == "off" and d["engine"] is None else 1)' || fail "merge=off stats"
grep -q 'merging: off' "$T/vmm.log" || fail "no 'merging: off' message"
verify_all 2
ctl stop >/dev/null
wait_exit 30
rm -rf "$T/console"

KSM=/sys/kernel/mm/ksm
[ -w $KSM/run ] || { echo "SKIPPED: host KSM not available"; exit 77; }
old_run=$(cat $KSM/run) old_scan=$(cat $KSM/pages_to_scan) old_sleep=$(cat $KSM/sleep_millisecs)
restore() {
	echo 2 >$KSM/run
	echo "$old_scan" >$KSM/pages_to_scan
	echo "$old_sleep" >$KSM/sleep_millisecs
	echo "$old_run" >$KSM/run
	cleanup
}
trap restore EXIT
sharing0=$(cat $KSM/pages_sharing)
echo 5000 >$KSM/pages_to_scan
echo 10 >$KSM/sleep_millisecs
echo 1 >$KSM/run
start_vmm --merge=host $P
wait_ready 2 120
grep -q 'merging: host KSM' "$T/vmm.log" || fail "no 'merging: host KSM' message"
grep -q 'Mergeable' /proc/$VMM_PID/smaps || grep -q 'mg' /proc/$VMM_PID/smaps ||
	fail "guest RAM not marked mergeable"
# 2 guests x 50% of 32 MiB identical: host KSM shares ~4000 pages within seconds.
for _ in $(seq 60); do
	s=$(cat $KSM/pages_sharing)
	[ $((s - sharing0)) -gt 3000 ] && break
	sleep 1
done
echo "host KSM pages_sharing: $sharing0 -> $s"
[ $((s - sharing0)) -gt 3000 ] || fail "host KSM did not merge the guests' pages"
verify_all 2
ctl stop >/dev/null
wait_exit 30
echo "merge modes test ok"
