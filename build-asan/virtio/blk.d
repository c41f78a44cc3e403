build-asan/virtio/blk.o: virtio/blk.c virtio/blk.h virtio/virtio.h \
 lib/errbuf.h lib/log.h virtio/virtq.h
virtio/blk.h:
virtio/virtio.h:
lib/errbuf.h:
lib/log.h:
virtio/virtq.h:
