build-asan/virtio/mmio.o: virtio/mmio.c virtio/mmio.h virtio/virtio.h \
 lib/log.h virtio/internal.h virtio/virtq.h
virtio/mmio.h:
virtio/virtio.h:
lib/log.h:
virtio/internal.h:
virtio/virtq.h:
