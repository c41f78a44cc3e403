build-asan/ksm/merge.o: ksm/merge.c ksm/cow.h ksm/internal.h ksm/index.h \
 ksm/ksm.h ksm/pool.h lib/page.h ksm/stall.h ksm/vmas.h ksm/merge.h \
 ksm/vm.h lib/clock.h lib/log.h
ksm/cow.h:
ksm/internal.h:
ksm/index.h:
ksm/ksm.h:
ksm/pool.h:
lib/page.h:
ksm/stall.h:
ksm/vmas.h:
ksm/merge.h:
ksm/vm.h:
lib/clock.h:
lib/log.h:
