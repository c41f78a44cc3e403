# ksmvmm - one non-recursive Makefile. `make` builds the VMM, ksmctl and the workload
# guest; `make test` and `make demo` first install what is missing (tools/setup.sh).
.DELETE_ON_ERROR:
.SUFFIXES:

CC := gcc
B := build
PKGS := glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0
# Lazy (=) so a first `make test` can install the packages before this is evaluated.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# cairo draws ksmctl's report pictures; ksmvmm itself does not link it.
CTL_PKG_CFLAGS = $(shell pkg-config --cflags cairo 2>/dev/null)
CTL_PKG_LIBS = $(shell pkg-config --libs cairo 2>/dev/null) -lm

CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wmissing-prototypes -Wshadow \
	-D_GNU_SOURCE -I. -MMD -MP
LDLIBS := -lpthread -lxxhash
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

VMM_SRCS := $(wildcard vmm/*.c) $(wildcard ksm/*.c) $(wildcard lib/*.c)
# virtio/: transport and devices, linked into ksmvmm and the unit tests.
VMM_SRCS += $(wildcard virtio/*.c)
VMM_LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(filter-out vmm/main.c,$(VMM_SRCS)))
CTL_SRCS := $(wildcard tools/ksmctl/*.c)
CTL_OBJS := $(patsubst %.c,$(B)/%.o,$(CTL_SRCS)) $(B)/vmm/protocol.o $(B)/lib/log.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/unit/%,$(UNIT_SRCS))

# The workload guest: freestanding x86-64, runs at CPL3, linked at WL_LOAD_GPA.
GUEST_SRCS := $(wildcard tests/guest/workload/*.c) $(wildcard tests/guest/workload/*.S)
GUEST_OBJS := $(patsubst %,$(B)/guest/%.o,$(basename $(GUEST_SRCS)))
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-builtin -nostdlib -mno-red-zone -mcmodel=small \
	-fno-asynchronous-unwind-tables -fcf-protection=none -I. -MMD -MP

all: $(B)/ksmvmm $(B)/ksmctl $(B)/guest/workload.bin
.PHONY: all

$(B)/ksmvmm: $(B)/vmm/main.o $(VMM_LIB_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(B)/ksmctl: $(CTL_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(CTL_PKG_LIBS) $(LDLIBS)

$(B)/tools/ksmctl/%.o: PKG_CFLAGS += $(CTL_PKG_CFLAGS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/guest/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (guest)"
	$(Q)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(B)/guest/%.o: %.S
	@mkdir -p $(dir $@)
	@echo "  AS      $< (guest)"
	$(Q)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(B)/guest/workload.elf: $(GUEST_OBJS) tests/guest/workload/workload.ld
	@echo "  LD      $@"
	$(Q)$(CC) $(GUEST_CFLAGS) -static -Wl,--build-id=none -Wl,-T,tests/guest/workload/workload.ld \
		-o $@ $(GUEST_OBJS)

$(B)/guest/workload.bin: $(B)/guest/workload.elf
	$(Q)objcopy -O binary $< $@

$(B)/unit/%: $(B)/tests/unit/%.o $(VMM_LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

unit: $(UNIT_BINS)
.PHONY: unit

# Fuzz targets (libFuzzer, clang): `make fuzz` builds build/fuzz/fuzz_virtq, a hostile
# driver against the virtio devices, with ASan and UBSan; tests/fuzz/run.sh runs it briefly.
FUZZ_CC := clang
FUZZ_CFLAGS := -std=gnu11 -O1 -g -D_GNU_SOURCE -I. -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRCS := $(wildcard virtio/*.c) lib/log.c lib/clock.c
FUZZ_SRCS += lib/errbuf.c # virtio/blk.c formats its constructor's errors

$(B)/fuzz/fuzz_virtq: tests/fuzz/fuzz_virtq.c $(FUZZ_SRCS) $(wildcard virtio/*.h) \
		tests/unit/virtio_driver.h
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_virtq.c $(FUZZ_SRCS)

# virtio-blk and virtio-balloon: a hostile driver each, same flags and audit.
FUZZ_DEV_BINS := $(B)/fuzz/fuzz_blk $(B)/fuzz/fuzz_balloon
$(FUZZ_DEV_BINS): $(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_SRCS) $(wildcard virtio/*.h) \
		tests/unit/virtio_driver.h
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS)

fuzz: $(B)/fuzz/fuzz_virtq $(FUZZ_DEV_BINS)
.PHONY: fuzz

# Linux guest image: Debian's kernel (vmlinux + bzImage) and a busybox initramfs.
$(B)/linux/.done: tools/linux-image.sh tools/initramfs-init
	$(Q)tools/linux-image.sh $(B)/linux

linux-image: $(B)/linux/.done
.PHONY: linux-image

setup:
	$(Q)tools/setup.sh
.PHONY: setup

# Every test: unit tests (no KVM) then tests on real KVM guests. Ends with one line
# "N passed, N failed".
test:
	$(Q)tools/setup.sh
	$(Q)$(MAKE) --no-print-directory all unit
	$(Q)tests/run.sh
.PHONY: test

test-linux:
	$(Q)tools/setup.sh
	$(Q)$(MAKE) --no-print-directory all $(B)/linux/.done
	$(Q)tests/linux/boot-banner.sh
.PHONY: test-linux

demo:
	$(Q)tools/setup.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh
.PHONY: demo

# Benchmark against host KSM (needs root: it tunes /sys/kernel/mm/ksm, and restores it).
# Writes build/bench/results.json and regenerates docs/performance.md. make bench also runs
# scenario 5: Linux guests under QEMU/TCG (tools/bench installs qemu-system-x86 if missing).
bench-quick:
	$(Q)tools/setup.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)python3 tools/bench/bench.py --quick --add --label "make bench-quick"
bench:
	$(Q)tools/setup.sh
	$(Q)$(MAKE) --no-print-directory all $(B)/linux/.done
	$(Q)python3 tools/bench/bench.py --label "make bench"
.PHONY: bench-quick bench

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	$(Q)clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')
.PHONY: format format-check

clean:
	rm -rf $(B)
.PHONY: clean

-include $(shell find $(B) -name '*.d' 2>/dev/null)
