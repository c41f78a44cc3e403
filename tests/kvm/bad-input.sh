# bad-input.sh - every bad input gets one clear error line and a non-zero exit, and
# leaves nothing running.
source "$(dirname "$0")/../lib/kvm.sh"

# expect_error PATTERN ARGS...: ksmvmm ARGS must exit non-zero with exactly one line on
# stderr matching PATTERN and nothing on stdout.
expect_error() {
	local pat=$1 rc
	shift
	timeout 60 "$KSMVMM" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "ksmvmm $* exited $rc (want an error)"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "ksmvmm $*: want one error line, got: $(cat "$T/err")"
	grep -qE "$pat" "$T/err" || fail "ksmvmm $*: error '$(cat "$T/err")' does not match '$pat'"
	[ ! -s "$T/out" ] || fail "ksmvmm $*: printed to stdout: $(cat "$T/out")"
	echo "ok: $* -> $(cat "$T/err")"
}

W="--guest workload"
expect_error 'usage|unknown command' bogus
expect_error '\-\-mem.*above 0' run --mem 0 $W
expect_error '\-\-mem.*size' run --mem lots $W
expect_error '\-\-mem SIZE is required' run $W
expect_error '\-\-count.*1\.\.256' run --count 100000 --mem 64M $W
expect_error '\-\-count.*1\.\.256' run --count -3 --mem 64M $W
expect_error '\-\-cpus' run --cpus 0 --mem 64M $W
expect_error 'more than.*RAM' run --count 256 --mem 60G $W
expect_error 'percentage' run --mem 64M $W --profile shared=150
expect_error 'more than 100' run --mem 64M $W --profile shared=60,zero=60
expect_error 'unknown key' run --mem 64M $W --profile colour=blue
expect_error 'PCT@PAGES_PER_S' run --mem 64M $W --profile mutate=5
expect_error 'exactly one of' run --mem 64M
expect_error 'exactly one of' run --mem 64M $W --kernel /bin/true
expect_error 'bad option' run --mem 64M $W --frobnicate
expect_error 'at least 8 MiB' run --mem 4M $W
KSMVMM_KVM_DEVICE=/nonexistent/kvm expect_error 'cannot open /nonexistent/kvm' run --mem 64M $W
expect_error 'cannot open workload image' run --mem 64M $W --workload-image /nonexistent.bin
expect_error 'cannot open RAM image /nonexistent/img0' run --count 4 --mem 64M $W --ram-image /nonexistent/img%d
: >"$T/empty.img"
expect_error 'RAM image .* is empty' run --mem 64M $W --ram-image "$T/empty.img"
expect_error 'without mutate' run --mem 64M $W --ram-image x --profile mutate=5@10
expect_error 'ram-image' run --mem 64M $W --ram-image 'img%s' 

# Kernels: garbage, an ELF that is not a kernel, a missing file, an oversized initrd.
head -c 100000 /dev/urandom >"$T/garbage"
expect_error 'not a bzImage or vmlinux' run --mem 64M --kernel "$T/garbage"
expect_error 'not a bzImage or vmlinux|ELF' run --mem 64M --kernel /bin/true
expect_error 'No such file|cannot open' run --mem 64M --kernel /nonexistent/bzImage
if [ -f build/linux/vmlinux ]; then
	head -c 160M /dev/zero >"$T/initrd"
	expect_error 'initrd' run --mem 128M --kernel build/linux/vmlinux --initrd "$T/initrd"
fi

# Console directory that cannot be created.
expect_error 'console' run --mem 64M $W --console /proc/ksmvmm-no-such-dir
: >"$T/afile"
expect_error 'console' run --mem 64M $W --console "$T/afile"

# A control socket path already in use by a live ksmvmm; the first keeps running.
start_vmm --mem 16M $W
expect_error 'in use' run --mem 16M $W --control "$SOCK"
ctl ping >/dev/null || fail "the first ksmvmm stopped answering"
ctl stop >/dev/null
wait_exit 30
[ "$VMM_STATUS" -eq 0 ] || fail "first ksmvmm exited $VMM_STATUS"

# Nothing left running by any of the above: no child process of this test remains.
pgrep -P $$ -f ksmvmm && fail "a ksmvmm process is still running"
echo "bad input test ok"
