build-asan/vmm/ram.o: vmm/ram.c vmm/ram.h vmm/discard.h vmm/mem.h \
 lib/page.h vmm/pause.h
vmm/ram.h:
vmm/discard.h:
vmm/mem.h:
lib/page.h:
vmm/pause.h:
