build-asan/ksm/stall.o: ksm/stall.c ksm/stall.h
ksm/stall.h:
