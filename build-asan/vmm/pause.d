build-asan/vmm/pause.o: vmm/pause.c vmm/pause.h lib/clock.h
vmm/pause.h:
lib/clock.h:
