# hostile-guest.sh - a guest that pokes unbacked addresses (wild MMIO), unclaimed ports
# and garbage commands, in a loop: the VMM reports it, rate-limited, keeps the guest and
# its neighbour running, and stops cleanly.
source "$(dirname "$0")/../lib/kvm.sh"

cat >"$T/hostile.S" <<'ASM'
	.code64
start:
	movl $0x12345678, %eax
	movl %eax, 0x10000000		/* write to guest-physical space with no RAM */
	movl 0x10000000, %ebx		/* and read it */
	movw $0x510, %dx
	movl $0xdeadbeef, %eax
	outl %eax, %dx			/* a command the VMM does not know */
	movl $2, %eax
	outl %eax, %dx			/* a VERIFY_DONE nobody asked for */
	movw $0x1234, %dx
	outb %al, %dx			/* a port no device claims */
	inb %dx, %al
	movw $0x514, %dx
	movl $1000, %eax
	outl %eax, %dx			/* then sleep 1 ms in the VMM */
	inl %dx, %eax
	jmp start
ASM
as --64 -o "$T/hostile.o" "$T/hostile.S" && objcopy -O binary -j .text "$T/hostile.o" "$T/hostile.bin" ||
	fail "cannot assemble the hostile guest"

start_vmm --count 1 --mem 64M --guest workload --workload-image "$T/hostile.bin"
sleep 3
ctl list | grep -qE '^g0 +running' || fail "hostile guest was not kept running"
for what in 'unbacked address 0x10000000' 'unclaimed port 0x1234' 'unknown workload command' \
	'unsolicited report'; do
	grep -q "$what" "$T/vmm.log" || fail "no report of: $what"
done
n=$(wc -l <"$T/vmm.log")
echo "VMM log lines after ~3000 hostile loops: $n"
[ "$n" -lt 60 ] || fail "reports are not rate-limited ($n lines)"
ctl stop >/dev/null || fail "stop failed"
wait_exit 30
[ "$VMM_STATUS" -eq 0 ] || fail "ksmvmm exited $VMM_STATUS"
echo "hostile guest test ok"
