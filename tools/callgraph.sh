#!/bin/sh
# callgraph.sh - file-level call graph of a set of object files, and its cycles.
#
# Usage: tools/callgraph.sh build/ksm/*.o
# Prints one edge "X -> Y" per pair where X.o uses a symbol that Y.o defines (each
# object named by its path without build/ and .o), then any cycle as "cycle: A B ...".
# Symbols defined outside the given objects (libc, other parts) are not edges.
# Exit status: 0 if the graph is a DAG, 1 if it has a cycle, 2 on bad usage.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 FILE.o..." >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for o in "$@"; do
	f=${o#build/}
	f=${f%.o}
	nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print $3, f }'
done | sort -u >"$tmp/defs"
for o in "$@"; do
	f=${o#build/}
	f=${f%.o}
	nm -u "$o" | awk -v f="$f" '{ print $NF, f }'
done | sort -u >"$tmp/uses"
# join on the symbol: "sym user definer" -> "user definer"
join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 { print $2, $3 }' | sort -u >"$tmp/edges"
awk '{ print $1, "->", $2 }' "$tmp/edges"
# tsort names the members of each cycle it finds on stderr, one cycle after another.
if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/loops"; then
	awk '/input contains a loop/ { if (n) print ""; printf "cycle:"; n++; next }
	     { sub(/^tsort: /, ""); printf " %s", $0 } END { print "" }' "$tmp/loops"
	exit 1
fi
echo "no cycle"
