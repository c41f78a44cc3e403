build-asan/vmm/linux_boot.o: vmm/linux_boot.c vmm/linux_boot.h vmm/mem.h \
 lib/page.h vmm/x86.h lib/errbuf.h lib/log.h vmm/mptable.h
vmm/linux_boot.h:
vmm/mem.h:
lib/page.h:
vmm/x86.h:
lib/errbuf.h:
lib/log.h:
vmm/mptable.h:
