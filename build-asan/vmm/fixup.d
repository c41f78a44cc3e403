build-asan/vmm/fixup.o: vmm/fixup.c vmm/fixup.h vmm/mem.h lib/page.h
vmm/fixup.h:
vmm/mem.h:
lib/page.h:
