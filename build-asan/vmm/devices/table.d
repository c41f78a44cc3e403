build-asan/vmm/devices/table.o: vmm/devices/table.c vmm/devices/table.h \
 vmm/devices/bus.h vmm/devices/wl_dev.h vmm/guest_abi.h lib/page.h \
 vmm/ram.h vmm/discard.h vmm/mem.h vmm/pause.h vmm/devinfo.h \
 vmm/options.h lib/log.h virtio/balloon.h virtio/virtio.h virtio/blk.h \
 virtio/console.h virtio/mmio.h virtio/rng.h vmm/devices/uart.h
vmm/devices/table.h:
vmm/devices/bus.h:
vmm/devices/wl_dev.h:
vmm/guest_abi.h:
lib/page.h:
vmm/ram.h:
vmm/discard.h:
vmm/mem.h:
vmm/pause.h:
vmm/devinfo.h:
vmm/options.h:
lib/log.h:
virtio/balloon.h:
virtio/virtio.h:
virtio/blk.h:
virtio/console.h:
virtio/mmio.h:
virtio/rng.h:
vmm/devices/uart.h:
