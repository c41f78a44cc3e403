build-asan/virtio/balloon.o: virtio/balloon.c virtio/balloon.h \
 virtio/virtio.h lib/clock.h lib/log.h lib/page.h virtio/virtq.h
virtio/balloon.h:
virtio/virtio.h:
lib/clock.h:
lib/log.h:
lib/page.h:
virtio/virtq.h:
