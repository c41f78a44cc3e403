/* start.S - entry of the workload guest: first byte of the image, one entry for all vCPUs.
 *
 * The VMM enters every vCPU here in 64-bit mode at CPL3 with RDI = vCPU index,
 * RSI = &struct wl_params and RSP = that vCPU's stack top. We align the stack as the
 * SysV ABI wants at a call site (SSE spills use movaps) and never return: with no IDT
 * there is nowhere to return to, so a return from C ends in ud2 (triple fault).
 */
	.section .text.start, "ax"
	.globl _start
	.type _start, @function
_start:
	cld
	andq $-16, %rsp
	xorl %ebp, %ebp
	call wl_main
1:	ud2
	jmp 1b
	.size _start, . - _start

	.section .note.GNU-stack, "", @progbits
