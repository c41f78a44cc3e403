build-asan/ksm/vmas.o: ksm/vmas.c ksm/vmas.h
ksm/vmas.h:
