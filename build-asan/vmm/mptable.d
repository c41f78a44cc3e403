build-asan/vmm/mptable.o: vmm/mptable.c vmm/mptable.h vmm/mem.h \
 lib/page.h
vmm/mptable.h:
vmm/mem.h:
lib/page.h:
