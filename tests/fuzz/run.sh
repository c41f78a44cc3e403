#!/bin/bash
# run.sh - a short run of every fuzz target (for make test): builds them with clang and
# libFuzzer, runs each for RUNS inputs (default 20000). Exit 77 when they cannot be built.
set -u
cd "$(dirname "$0")/../.."
runs=${RUNS:-20000}
mkdir -p build/fuzz
log=build/fuzz/build.log

# Can this machine build a libFuzzer binary at all? If not, skip; if it can, a target
# that does not build is a failure, not a skip.
probe=build/fuzz/probe
if ! command -v clang >/dev/null ||
	! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return !d + n - n; }' |
	clang -fsanitize=fuzzer,address,undefined -x c - -o "$probe" >"$log" 2>&1; then
	echo "SKIPPED: clang/libFuzzer missing (apt-get install clang libclang-rt-14-dev)"
	exit 77
fi
rm -f "$probe"
if ! make --no-print-directory fuzz >"$log" 2>&1; then
	cat "$log"
	echo "FAIL: fuzz targets do not build"
	exit 1
fi
rc=0
for t in build/fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	mkdir -p "build/fuzz/corpus-$name"
	# Seed inputs, if the target has some (read only: new inputs go to the corpus).
	seeds=()
	[ -d "tests/fuzz/seeds/$name" ] && seeds=("tests/fuzz/seeds/$name")
	# A real vCPU section is about 9 KB (XSAVE area, LAPIC, CPUID, MSRs).
	max_len=4096
	[ "$name" = fuzz_snapfile ] && max_len=16384
	echo "== $name -runs=$runs"
	"$t" -runs="$runs" -max_len=$max_len -timeout=10 -artifact_prefix=build/fuzz/ \
		"build/fuzz/corpus-$name" "${seeds[@]}" >"build/fuzz/$name.log" 2>&1
	r=$?
	grep -E "^Done|ERROR|SUMMARY" "build/fuzz/$name.log"
	[ $r -eq 0 ] || { tail -n 30 "build/fuzz/$name.log"; rc=1; }
done
exit $rc
