build-asan/vmm/discard.o: vmm/discard.c vmm/discard.h lib/page.h
vmm/discard.h:
lib/page.h:
