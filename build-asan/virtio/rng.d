build-asan/virtio/rng.o: virtio/rng.c virtio/rng.h virtio/virtio.h \
 lib/log.h lib/page.h virtio/virtq.h
virtio/rng.h:
virtio/virtio.h:
lib/log.h:
lib/page.h:
virtio/virtq.h:
