# report-matrix.sh - the sharing matrix on 4 x 64 MiB guests where g0,g1 share and g2,g3
# share but the pairs share nothing, made two ways: (1) same content in two sharing
# groups (A = g0,g1; B = g2,g3); (2) one group, two seeds (g2,g3 get --seed 2), so the
# pairs' "shared" pages differ. Each time the matrix is symmetric, each pair shares nearly
# all it maps and the pairs share nothing with each other (with two seeds: nothing but the
# few pages every workload guest has alike, its program and page tables). With groups, the
# per-group totals say the same (the group x group matrix is zero off its diagonal).
source "$(dirname "$0")/../lib/kvm.sh"

start_two_groups
python3 tests/lib/report.py matrix "$SOCK" "g0,g1/g2,g3" 0 || fail "matrix"
ctl report --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
gm = r["group_matrix"]
print("groups", gm["groups"], "pages", gm["pages"])
assert gm["groups"] == ["A", "B"], gm["groups"]
assert gm["pages"][0][1] == gm["pages"][1][0] == 0, "pairs of groups share pages"
for i, g in enumerate(r["groups"]):
    assert gm["pages"][i][i] >= 1000, "a group shares nothing inside itself"
    assert g["guests"] == 2 and g["members"] == [["g0", "g1"], ["g2", "g3"]][i]
    # one set of canonical pages per group: the two groups pool about the same
    assert abs(g["pool_pages"] - r["totals"]["pool_pages"] / 2) <= 64, g
' || fail "group totals"
ctl report | grep -A3 "per pair of groups" || fail "the table has no group matrix"
ctl stop >/dev/null
wait_exit 60

rm -rf "$T/console"
start_vmm --count 4 --mem 64M --guest workload --profile shared=50,zero=10 --seed 2=g2,g3
wait_ready 4 120
# The ideal counts all four guests as one fleet; two seeds make two halves of it.
python3 tests/lib/fleet.py converge "$SOCK" "$VMM_PID" "$T/console" -1 120 >/dev/null ||
	fail "two seeds: the pairs did not merge"
python3 tests/lib/report.py matrix "$SOCK" "g0,g1/g2,g3" 64 || fail "matrix with two seeds"
ctl stop >/dev/null
wait_exit 60
echo "report matrix test ok"
