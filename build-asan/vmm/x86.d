build-asan/vmm/x86.o: vmm/x86.c vmm/x86.h vmm/mem.h lib/page.h
vmm/x86.h:
vmm/mem.h:
lib/page.h:
