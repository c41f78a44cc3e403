#!/bin/bash
# callgraph.sh - the file-level call graph of the vmm/ objects must be a tree (no cycle).
# X -> Y when X.o uses a global symbol that Y.o defines (nm); calls through function
# pointers are not edges. Run after `make`; prints the edges, fails on a cycle.
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
objs=$(find "$B/vmm" -name '*.o' | sort)
[ -n "$objs" ] || { echo "no objects under $B/vmm: run make first" >&2; exit 2; }
defs=$(mktemp)
edges=$(mktemp)
trap 'rm -f "$defs" "$edges"' EXIT
for o in $objs; do nm --defined-only -g "$o" | awk -v f="${o#"$B"/}" '{print $3, f}'; done |
	sort >"$defs"
for o in $objs; do nm -u "$o" | awk -v f="${o#"$B"/}" '{print $2, f}'; done | sort |
	join - "$defs" | awk '$2 != $3 {print $2, $3}' | sed 's/\.o//g' | sort -u >"$edges"
cat "$edges"
if tsort "$edges" >/dev/null; then
	echo "callgraph: $(wc -l <"$edges") edges, no cycle"
else
	echo "callgraph: cycle (see tsort above)" >&2
	exit 1
fi
