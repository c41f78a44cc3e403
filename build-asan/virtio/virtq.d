build-asan/virtio/virtq.o: virtio/virtq.c virtio/virtq.h virtio/virtio.h \
 lib/log.h
virtio/virtq.h:
virtio/virtio.h:
lib/log.h:
