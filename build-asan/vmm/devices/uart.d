build-asan/vmm/devices/uart.o: vmm/devices/uart.c vmm/devices/uart.h \
 vmm/devices/bus.h lib/log.h
vmm/devices/uart.h:
vmm/devices/bus.h:
lib/log.h:
