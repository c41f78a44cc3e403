build-asan/ksm/index.o: ksm/index.c ksm/index.h
ksm/index.h:
