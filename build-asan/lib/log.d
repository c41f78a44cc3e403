build-asan/lib/log.o: lib/log.c lib/log.h
lib/log.h:
