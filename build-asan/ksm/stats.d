build-asan/ksm/stats.o: ksm/stats.c ksm/internal.h ksm/index.h ksm/ksm.h \
 ksm/pool.h lib/page.h ksm/stall.h ksm/vmas.h ksm/stats.h
ksm/internal.h:
ksm/index.h:
ksm/ksm.h:
ksm/pool.h:
lib/page.h:
ksm/stall.h:
ksm/vmas.h:
ksm/stats.h:
