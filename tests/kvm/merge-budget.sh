# merge-budget.sh - with vm.max_map_count lowered, single-page shuffling makes every merged
# page its own mapping: the engine stops at its budget, says so, and the guests keep
# running and verify bad=0.
source "$(dirname "$0")/../lib/kvm.sh"

OLD=$(cat /proc/sys/vm/max_map_count)
restore() { echo "$OLD" >/proc/sys/vm/max_map_count; cleanup; }
trap restore EXIT
echo 12000 >/proc/sys/vm/max_map_count || { echo "SKIPPED: cannot set vm.max_map_count"; exit 77; }

start_vmm --count 4 --mem 64M --guest workload \
	--profile shared=80,zero=5,placement=shuffled,extent=1
wait_ready 4 120
sleep 5
python3 tests/lib/fleet.py budget "$SOCK" || fail "budget not respected"
maps=$(wc -l <"/proc/$VMM_PID/maps")
echo "process mappings: $maps (limit 12000)"
[ "$maps" -lt 12000 ] || fail "process at the mapping limit"
verify_all 4
ctl list | grep -c running | grep -qx 4 || fail "guests stopped"
ctl stop >/dev/null
wait_exit 60
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
echo "budget test ok"
