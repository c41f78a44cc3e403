#!/bin/bash
# run.sh OUT - the runs behind docs/bench/restore-host.md (from the repository root, after
# `make build/bench/restore-host`): restores of 1, 8, 32 guests of 256 MiB on one CPU and on
# two (taskset), then live clones of a parent with pages of its own and of a restored one
# (--restored), twice.
set -eu
out=$1; mkdir -p $out
bin=build/bench/restore-host
for run in 1 2; do
  for n in 1 8 32; do
    for cpus in 0 0,1; do
      d=$(mktemp -d /var/tmp/rh.XXXXXX)
      echo "# run $run count $n cpus $cpus" >> $out/restore.jsonl
      taskset -c $cpus $bin $d --count $n --rounds 4 >> $out/restore.jsonl
      rm -rf $d
    done
    d=$(mktemp -d /var/tmp/rh.XXXXXX)
    echo "# run $run count $n cpus 0,1" >> $out/clone.jsonl
    $bin $d --clone --count $n --rounds 3 >> $out/clone.jsonl
    rm -rf $d
    d=$(mktemp -d /var/tmp/rh.XXXXXX)
    echo "# run $run count $n cpus 0,1 restored" >> $out/clone-restored.jsonl
    $bin $d --clone --restored --count $n --rounds 3 >> $out/clone-restored.jsonl
    rm -rf $d
  done
done
