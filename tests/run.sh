#!/bin/bash
# run.sh - run every test: unit tests, style and documentation checks (no KVM), then tests
# on real KVM guests.
# Prints one result line per test and ends with "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."

pass=0 fail=0 skip=0
failed=()
logdir=build/test-logs
mkdir -p "$logdir"

run_one() { # name, command...
	local name=$1 log="$logdir/${1//\//-}.log" t0 rc
	shift
	t0=$(date +%s)
	"$@" >"$log" 2>&1
	rc=$?
	local dt=$(($(date +%s) - t0))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1))
		printf 'PASS  %-40s %4ss\n' "$name" "$dt"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1))
		printf 'SKIP  %-40s %4ss  (%s)\n' "$name" "$dt" "$(tail -n 1 "$log")"
	else
		fail=$((fail + 1))
		failed+=("$name")
		printf 'FAIL  %-40s %4ss  (log: %s)\n' "$name" "$dt" "$log"
		tail -n 15 "$log" | sed 's/^/      | /'
	fi
}

filter=${1:-}
for t in build/unit/test_*; do
	[ -x "$t" ] || continue
	n=unit/$(basename "$t")
	[[ -n $filter && $n != *$filter* ]] && continue
	run_one "$n" "$t"
done

# Fuzz targets, briefly (skipped without clang/libFuzzer).
[[ -z $filter || fuzz/run == *$filter* ]] && run_one fuzz/run timeout 300 tests/fuzz/run.sh

format_check() {
	command -v clang-format >/dev/null || { echo "SKIPPED: clang-format is not installed"; return 77; }
	clang-format --dry-run -Werror $(git ls-files '*.c' '*.h' 2>/dev/null)
}
[[ -z $filter || style/format == *$filter* ]] && run_one style/format format_check
[[ -z $filter || style/layers == *$filter* ]] && run_one style/layers bash tests/style/layers.sh
[[ -z $filter || bench/outputs == *$filter* ]] && run_one bench/outputs python3 -B tests/bench/test_outputs.py
[[ -z $filter || bench/clones == *$filter* ]] && run_one bench/clones python3 -B tests/bench/test_clones.py
[[ -z $filter || bench/restore-host == *$filter* ]] && run_one bench/restore-host bash tests/bench/restore-host.sh
[[ -z $filter || acpi/acpica == *$filter* ]] && run_one acpi/acpica bash tests/acpi/acpica.sh

# Documentation checks: what the docs say against what the binaries do (no KVM).
for t in tests/docs/*.sh; do
	n=docs/$(basename "$t" .sh)
	[[ -n $filter && $n != *$filter* ]] && continue
	run_one "$n" bash "$t"
done

# libvirt's unmodified clients (virsh, python3-libvirt) against the endpoint: over a fake
# backend, and against `ksmvmm serve` (no KVM needed). Debian's python3 carries
# python3-libvirt; a python3 earlier on PATH (pyenv) may not.
for t in tests/libvirt/*.sh; do
	n=libvirt/$(basename "$t" .sh)
	[[ $n == libvirt/lib ]] && continue
	[[ -n $filter && $n != *$filter* ]] && continue
	run_one "$n" timeout 600 bash "$t"
done
lv_py=/usr/bin/python3
[ -x $lv_py ] || lv_py=python3
for t in python-fake garbage-fake stall-fake; do
	[[ -n $filter && libvirt/$t != *$filter* ]] && continue
	run_one libvirt/$t $lv_py -B tests/libvirt/$t.py
done

if [ ! -c "${KSMVMM_KVM_DEVICE:-/dev/kvm}" ]; then
	echo "##################################################################"
	echo "## /dev/kvm is missing: every KVM guest test below is SKIPPED.  ##"
	echo "## They did not run and prove nothing on this machine.          ##"
	echo "##################################################################"
fi
for t in tests/kvm/*.sh; do
	n=kvm/$(basename "$t" .sh)
	[[ -n $filter && $n != *$filter* ]] && continue
	run_one "$n" timeout 600 bash "$t"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
