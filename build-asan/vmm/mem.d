build-asan/vmm/mem.o: vmm/mem.c vmm/mem.h lib/page.h
vmm/mem.h:
lib/page.h:
