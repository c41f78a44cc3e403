build-asan/vmm/vcpu.o: vmm/vcpu.c vmm/vcpu.h vmm/devices/bus.h vmm/mem.h \
 lib/page.h vmm/pause.h vmm/x86.h vmm/fixup.h vmm/kvm.h lib/log.h
vmm/vcpu.h:
vmm/devices/bus.h:
vmm/mem.h:
lib/page.h:
vmm/pause.h:
vmm/x86.h:
vmm/fixup.h:
vmm/kvm.h:
lib/log.h:
