build-asan/ksm/scan.o: ksm/scan.c ksm/cow.h ksm/internal.h ksm/index.h \
 ksm/ksm.h ksm/pool.h lib/page.h ksm/stall.h ksm/vmas.h ksm/merge.h \
 ksm/scan.h ksm/stats.h ksm/vm.h lib/clock.h
ksm/cow.h:
ksm/internal.h:
ksm/index.h:
ksm/ksm.h:
ksm/pool.h:
lib/page.h:
ksm/stall.h:
ksm/vmas.h:
ksm/merge.h:
ksm/scan.h:
ksm/stats.h:
ksm/vm.h:
lib/clock.h:
