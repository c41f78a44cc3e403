# merge-groups.sh - two sharing groups: g0,g1 in A and g2,g3 in B, all with the same
# content. Pages merge inside each group; no pool page is mapped by both groups, checked
# in /proc/PID/pagemap (page frame numbers), not only in our counters.
source "$(dirname "$0")/../lib/kvm.sh"

start_two_groups
# Fault every guest page in (verify reads them all), then audit the page frames.
verify_all 4
python3 tests/lib/fleet.py groups "$SOCK" "$VMM_PID" || fail "sharing crossed groups"
ctl stats --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
pool = d["engine"]["pool_pages"]
shared = max(g["pages_merged"] for g in d["guests"])
print(f"pool pages {pool}, merged per guest {shared}")
# One set of canonical pages per group: about twice what one group needs.
sys.exit(0 if pool >= 2 * shared * 0.95 else 1)' || fail "groups did not each get their own pool pages"
ctl stop >/dev/null
wait_exit 60
echo "groups test ok"
