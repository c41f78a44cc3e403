build-asan/vmm/kvm.o: vmm/kvm.c vmm/kvm.h lib/log.h
vmm/kvm.h:
lib/log.h:
