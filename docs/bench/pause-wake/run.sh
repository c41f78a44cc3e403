#!/bin/bash
# run.sh OUT - the side-by-side run behind docs/snapshots.md ("Since then"): scenario 6's
# live and restore steps, the build before the pause woke waiting vCPUs (01e1961, in a
# worktree at /tmp/base, built) and this one (the repository root, built), in turn, twice.
#   git worktree add /tmp/base 01e1961 && make -C /tmp/base all && make all
#   docs/bench/pause-wake/run.sh OUT
set -u
out=$1 now=$(pwd)
mkdir -p "$out"
for run in 1 2; do
	for tree in /tmp/base "$now"; do
		tag=$([ "$tree" = /tmp/base ] && echo base || echo now)
		python3 "$tree/tools/bench/bench.py" --scenarios 6 --clone-steps live,restore \
			--no-clone-big --rundir /tmp/abruns --out "$out/$tag-$run.json" \
			--doc "$out/$tag-$run.md" --label "A/B $tag run $run" >"$out/$tag-$run.log" 2>&1
		echo "$tag $run rc=$?"
	done
done
