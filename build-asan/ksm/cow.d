build-asan/ksm/cow.o: ksm/cow.c ksm/cow.h ksm/internal.h ksm/index.h \
 ksm/ksm.h ksm/pool.h lib/page.h ksm/stall.h ksm/vmas.h ksm/vm.h \
 lib/log.h
ksm/cow.h:
ksm/internal.h:
ksm/index.h:
ksm/ksm.h:
ksm/pool.h:
lib/page.h:
ksm/stall.h:
ksm/vmas.h:
ksm/vm.h:
lib/log.h:
