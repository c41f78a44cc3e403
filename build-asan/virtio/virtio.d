build-asan/virtio/virtio.o: virtio/virtio.c virtio/virtio.h lib/clock.h \
 lib/log.h virtio/internal.h virtio/virtq.h
virtio/virtio.h:
lib/clock.h:
lib/log.h:
virtio/internal.h:
virtio/virtq.h:
