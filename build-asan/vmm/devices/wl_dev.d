build-asan/vmm/devices/wl_dev.o: vmm/devices/wl_dev.c \
 vmm/devices/wl_dev.h vmm/devices/bus.h vmm/guest_abi.h lib/page.h \
 vmm/ram.h vmm/discard.h vmm/mem.h vmm/pause.h lib/clock.h lib/log.h \
 vmm/vcpu.h vmm/x86.h
vmm/devices/wl_dev.h:
vmm/devices/bus.h:
vmm/guest_abi.h:
lib/page.h:
vmm/ram.h:
vmm/discard.h:
vmm/mem.h:
vmm/pause.h:
lib/clock.h:
lib/log.h:
vmm/vcpu.h:
vmm/x86.h:
