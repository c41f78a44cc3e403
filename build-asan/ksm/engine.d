build-asan/ksm/engine.o: ksm/engine.c ksm/internal.h ksm/index.h \
 ksm/ksm.h ksm/pool.h lib/page.h ksm/stall.h ksm/vmas.h ksm/scan.h \
 ksm/stats.h ksm/vm.h lib/clock.h
ksm/internal.h:
ksm/index.h:
ksm/ksm.h:
ksm/pool.h:
lib/page.h:
ksm/stall.h:
ksm/vmas.h:
ksm/scan.h:
ksm/stats.h:
ksm/vm.h:
lib/clock.h:
