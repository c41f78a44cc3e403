build-asan/vmm/fleet.o: vmm/fleet.c vmm/fleet.h vmm/guest.h \
 vmm/devices/bus.h vmm/mem.h lib/page.h vmm/options.h vmm/pause.h \
 vmm/ram.h vmm/discard.h vmm/x86.h vmm/devinfo.h vmm/guest_abi.h \
 ksm/ksm.h vmm/vcpu.h lib/log.h vmm/devices/table.h vmm/devices/wl_dev.h \
 vmm/workload.h
vmm/fleet.h:
vmm/guest.h:
vmm/devices/bus.h:
vmm/mem.h:
lib/page.h:
vmm/options.h:
vmm/pause.h:
vmm/ram.h:
vmm/discard.h:
vmm/x86.h:
vmm/devinfo.h:
vmm/guest_abi.h:
ksm/ksm.h:
vmm/vcpu.h:
lib/log.h:
vmm/devices/table.h:
vmm/devices/wl_dev.h:
vmm/workload.h:
