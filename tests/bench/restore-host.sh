#!/bin/bash
# restore-host.sh - the host-side restore bench (tools/bench/restore_host.c) runs and checks
# itself: one warm and one cold round of 3 guests of 16 MiB, every guest reading the image
# (the tool compares each page and fails otherwise), one JSON line per round whose times
# add up; the same for two rounds of a live clone into 2 clones (--clone, parent and
# clones checked, every page copied), and for a clone of a restored parent that rewrote
# a sixteenth of its pages (--restored: only those are copied); bad options and an existing DIR are refused with the usage or a
# message.
set -u
cd "$(dirname "$0")/../.."
bin=build/bench/restore-host
[ -x $bin ] || { echo "FAIL: $bin is missing (make unit builds it)"; exit 1; }
d=$(mktemp -d /var/tmp/restore-host.XXXXXX) || exit 1
trap 'rm -rf "$d"' EXIT

out=$($bin "$d" --mem 16 --count 3 --rounds 1 2>"$d/err")
rc=$?
if grep -q "cannot be sealed" "$d/err"; then
	echo "SKIPPED: the memory file cannot be sealed here: $(cat "$d/err")"
	exit 77
fi
[ $rc -eq 0 ] || { cat "$d/err"; echo "FAIL: exit $rc"; exit 1; }
python3 - "$out" <<'PY' || exit 1
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()]
assert [r["cache"] for r in rows] == ["warm", "cold"], rows
for r in rows:
    assert r["mem_mib"] == 16 and r["count"] == 3, r
    assert all(r[k] > 0 for k in ("open_s", "map_s", "adopt_s")), r
    assert abs(r["open_s"] + r["map_s"] + r["adopt_s"] - r["total_s"]) < 0.001, r
print("ok:", rows)
PY

out=$($bin "$d/c" --clone --mem 16 --count 2 --rounds 2 2>"$d/err")
[ $? -eq 0 ] || { cat "$d/err"; echo "FAIL: --clone exit"; exit 1; }
python3 - "$out" <<'PY' || exit 1
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()]
assert len(rows) == 2 and all(r["clone"] and r["count"] == 2 for r in rows), rows
nonzero = sum(1 for i in range(4096) if i % 576 < 512)
for r in rows:
    assert r["fork_s"] > 0 and r["adopt_s"] > 0, r
    assert abs(r["fork_s"] + r["adopt_s"] - r["total_s"]) < 0.001, r
    assert not r["restored"] and r["fork_new_pages"] == nonzero, r  # every page copied
print("ok:", rows)
PY

mkdir "$d/r"
out=$($bin "$d/r" --clone --restored --mem 16 --count 2 --rounds 1 2>"$d/err")
[ $? -eq 0 ] || { cat "$d/err"; echo "FAIL: --clone --restored exit"; exit 1; }
python3 - "$out" <<'PY' || exit 1
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()]
assert len(rows) == 1 and rows[0]["restored"] and rows[0]["count"] == 2, rows
# the parent rewrote 4 blocks of 64 pages: those alone are copied, the rest taken
assert 0 < rows[0]["fork_new_pages"] <= 256, rows
print("ok: a restored parent's fork copies what it rewrote alone:", rows)
PY

$bin "$d" --count 0 >/dev/null 2>"$d/err"
[ $? -eq 2 ] && grep -q usage "$d/err" || { echo "FAIL: --count 0 not refused"; exit 1; }
$bin "$d" --mem >/dev/null 2>"$d/err"
[ $? -eq 2 ] && grep -q usage "$d/err" || { echo "FAIL: --mem without a value not refused"; exit 1; }
$bin "$d" --restored >/dev/null 2>"$d/err"
[ $? -eq 2 ] && grep -q usage "$d/err" || { echo "FAIL: --restored without --clone not refused"; exit 1; }
$bin "$d" --mem 16 >/dev/null 2>"$d/err"
[ $? -eq 2 ] && grep -q "exists" "$d/err" || { echo "FAIL: an existing DIR not refused"; exit 1; }
echo "ok: bad options and an existing DIR refused"
