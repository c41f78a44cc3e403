build-asan/vmm/options.o: vmm/options.c vmm/options.h lib/errbuf.h \
 lib/page.h vmm/guest_abi.h vmm/mem.h
vmm/options.h:
lib/errbuf.h:
lib/page.h:
vmm/guest_abi.h:
vmm/mem.h:
