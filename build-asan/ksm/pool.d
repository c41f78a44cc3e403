build-asan/ksm/pool.o: ksm/pool.c ksm/pool.h lib/page.h
ksm/pool.h:
lib/page.h:
