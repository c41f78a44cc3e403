build-asan/virtio/console.o: virtio/console.c virtio/console.h \
 virtio/virtio.h lib/log.h virtio/virtq.h
virtio/console.h:
virtio/virtio.h:
lib/log.h:
virtio/virtq.h:
