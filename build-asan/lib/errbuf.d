build-asan/lib/errbuf.o: lib/errbuf.c lib/errbuf.h
lib/errbuf.h:
