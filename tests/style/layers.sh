#!/bin/bash
# layers.sh - data flows one way: the file-level call graph of the VMM's objects has no
# cycle, and the lower layers call nothing above them (lib/ nothing of ours; ksm/ only
# lib/; virtio/ only lib/). Edges come from nm (tools/callgraph.sh): X -> Y when X.o uses
# a symbol Y.o defines. Run after `make all`.
set -u
cd "$(dirname "$0")/../.."
objs=()
for f in $(git ls-files 'lib/*.c' 'ksm/*.c' 'virtio/*.c' 'vmm/*.c' 'vmm/*/*.c'); do
	o=build/${f%.c}.o
	[ -f "$o" ] || { echo "FAIL: $o is missing (run make)"; exit 1; }
	objs+=("$o")
done
out=$(tools/callgraph.sh "${objs[@]}")
rc=$?
echo "$(grep -c ' -> ' <<<"$out") edges between $(echo "${#objs[@]}") files"
[ $rc -eq 0 ] || { grep '^cycle' <<<"$out"; echo "FAIL: the call graph has a cycle"; exit 1; }
bad=$(grep -E '^lib/.* -> (ksm|virtio|vmm)/|^ksm/.* -> (virtio|vmm)/|^virtio/.* -> (ksm|vmm)/' <<<"$out")
[ -z "$bad" ] || { echo "$bad"; echo "FAIL: a lower layer calls up"; exit 1; }
echo "ok: no cycle; lib/, ksm/ and virtio/ call nothing above them"
