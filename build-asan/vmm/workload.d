build-asan/vmm/workload.o: vmm/workload.c vmm/workload.h vmm/guest_abi.h \
 lib/page.h vmm/mem.h vmm/options.h vmm/x86.h vmm/kvm.h lib/log.h
vmm/workload.h:
vmm/guest_abi.h:
lib/page.h:
vmm/mem.h:
vmm/options.h:
vmm/x86.h:
vmm/kvm.h:
lib/log.h:
