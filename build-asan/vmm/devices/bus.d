build-asan/vmm/devices/bus.o: vmm/devices/bus.c vmm/devices/bus.h
vmm/devices/bus.h:
