build-asan/ksm/vm.o: ksm/vm.c ksm/internal.h ksm/index.h ksm/ksm.h \
 ksm/pool.h lib/page.h ksm/stall.h ksm/vmas.h ksm/vm.h
ksm/internal.h:
ksm/index.h:
ksm/ksm.h:
ksm/pool.h:
lib/page.h:
ksm/stall.h:
ksm/vmas.h:
ksm/vm.h:
