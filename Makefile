# ksmvmm - one non-recursive Makefile. `make` builds the VMM, ksmctl and the workload
# guest; `make test` and `make demo` first install what is missing (tools/setup.sh).
.DELETE_ON_ERROR:
.SUFFIXES:
# Keep intermediates (the unit tests' objects, made by a pattern rule): without this make
# deletes them after linking, and the next `make unit` compiles every test again.
.SECONDARY:

CC := gcc
B := build
PKGS := glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0 libvirt libsoup-3.0 libxml-2.0
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

# vmm/*/*.c: vmm/control/ (socket, commands, protocol) and vmm/devices/.
VMM_SRCS := $(wildcard vmm/*.c vmm/*/*.c) $(wildcard ksm/*.c) $(wildcard lib/*.c)
LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard lib/*.c))
# virtio/: transport and devices, linked into ksmvmm and the unit tests.
VMM_SRCS += $(wildcard virtio/*.c)
VMM_LIB_OBJS := $(patsubst %.c,$(B)/%.o,$(filter-out vmm/main.c,$(VMM_SRCS)))
CTL_SRCS := $(wildcard tools/ksmctl/*.c)
# ksmctl shares the protocol module with the VMM, the report model and the Prometheus
# formatter (the VMM's /metrics prints the same series), mem_parse_size (vmm/mem.o: no
# KVM in it), and the base layer lib/.
CTL_OBJS := $(patsubst %.c,$(B)/%.o,$(CTL_SRCS)) \
	$(B)/vmm/control/protocol.o $(B)/vmm/control/protocol_check.o \
	$(B)/vmm/control/protocol_json.o $(B)/vmm/control/protocol_dev.o \
	$(B)/vmm/control/reportdata.o $(B)/vmm/control/metrics.o $(B)/vmm/mem.o $(LIB_OBJS)
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

# The libvirt endpoint over a fake fleet, for tests/libvirt/ (virsh and python3-libvirt).
LV_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard vmm/libvirt/xdr.c vmm/libvirt/rpc.c \
	vmm/libvirt/procs*.c vmm/libvirt/lvserver.c)) $(LIB_OBJS)
LV_FAKE_OBJS := $(B)/tests/libvirt/fake_backend.o $(LV_OBJS)
$(B)/tests/lv-fake-server: $(B)/tests/libvirt/lv_fake_server.o $(LV_FAKE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# The dispatcher's unit test runs over the fake backend too.
$(B)/unit/test_procs: $(B)/tests/libvirt/fake_backend.o

# vmstate and snapfile on real KVM (tests/kvm/vmstate-probe.sh): a guest saved and carried
# into a second VM.
$(B)/tests/vmstate-probe: $(B)/tests/kvm/vmstate_probe.o $(VMM_LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

# The host's part of a restore timed without KVM (tools/bench/restore_host.c).
$(B)/bench/restore-host: $(B)/tools/bench/restore_host.o $(VMM_LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

unit: $(UNIT_BINS) $(B)/tests/lv-fake-server $(B)/tests/vmstate-probe $(B)/bench/restore-host
.PHONY: unit

# Fuzz targets (libFuzzer, clang): `make fuzz` builds build/fuzz/fuzz_virtq, a hostile
# driver against the virtio devices, with ASan and UBSan; tests/fuzz/run.sh runs it briefly.
FUZZ_CC := clang
FUZZ_CFLAGS := -std=gnu11 -O1 -g -D_GNU_SOURCE -I. -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_SRCS := $(wildcard virtio/*.c) $(wildcard lib/*.c)

$(B)/fuzz/fuzz_virtq: tests/fuzz/fuzz_virtq.c $(FUZZ_SRCS) $(wildcard virtio/*.h) \
		tests/unit/virtio_driver.h tests/fuzz/fuzz_prog.h
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/fuzz_virtq.c $(FUZZ_SRCS)

# virtio-blk and virtio-balloon: a hostile driver each, same flags and audit.
FUZZ_DEV_BINS := $(B)/fuzz/fuzz_blk $(B)/fuzz/fuzz_balloon
$(FUZZ_DEV_BINS): $(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_SRCS) $(wildcard virtio/*.h) \
		tests/unit/virtio_driver.h tests/fuzz/fuzz_prog.h
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS)

# Saved device state (virtio/state.c, each type's load, uart_load): hostile sections,
# raw and mutated from valid ones, then worker rounds on what was loaded.
FUZZ_STATE_SRCS := $(FUZZ_SRCS) vmm/devices/uart.c vmm/devices/bus.c
$(B)/fuzz/fuzz_state: tests/fuzz/fuzz_state.c $(FUZZ_STATE_SRCS) $(wildcard virtio/*.h) \
		vmm/devices/uart.h tests/unit/virtio_driver.h tests/fuzz/fuzz_prog.h
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_STATE_SRCS)

# The libvirt endpoint: a hostile client's byte stream through the framer and the
# dispatcher over the fake backend (needs GLib).
FUZZ_LV_SRCS := vmm/libvirt/xdr.c vmm/libvirt/rpc.c $(wildcard vmm/libvirt/procs*.c) \
	vmm/libvirt/lvserver.c tests/libvirt/fake_backend.c $(wildcard lib/*.c)
$(B)/fuzz/fuzz_lvrpc: tests/fuzz/fuzz_lvrpc.c $(FUZZ_LV_SRCS) $(wildcard vmm/libvirt/*.h) \
		tests/libvirt/fake_backend.h tests/fuzz/fuzz_prog.h
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -o $@ tests/fuzz/fuzz_lvrpc.c $(FUZZ_LV_SRCS) \
		$(PKG_LIBS)


# Our reader of libvirt's normalised domain XML (vmm/libvirt/domxml_read.c), on arbitrary
# XML; domxml.c comes along for domxml_clear, and with it libvirt and the options.
FUZZ_XML_SRCS := $(wildcard vmm/libvirt/domxml*.c) vmm/options.c vmm/mem.c $(wildcard lib/*.c)
FUZZ_XML_PKGS := glib-2.0 libxml-2.0 libvirt
$(B)/fuzz/fuzz_domxml: tests/fuzz/fuzz_domxml.c $(FUZZ_XML_SRCS) $(wildcard vmm/libvirt/*.h)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $$(pkg-config --cflags $(FUZZ_XML_PKGS)) -o $@ $< \
		$(FUZZ_XML_SRCS) $$(pkg-config --libs $(FUZZ_XML_PKGS))

# The snapshot state parser and the vCPU/VM state decoders (no KVM: the codec half only).
FUZZ_SNAP_SRCS := vmm/snapfile.c vmm/snapfile_read.c vmm/snapcheck.c vmm/snapseal.c vmm/vmstate_codec.c \
	vmm/snapdef.c \
	$(wildcard lib/*.c)
$(B)/fuzz/fuzz_snapfile: tests/fuzz/fuzz_snapfile.c $(FUZZ_SNAP_SRCS) vmm/snapfile.h vmm/vmstate.h \
	vmm/snapdef.h
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SNAP_SRCS) -lxxhash

fuzz: $(B)/fuzz/fuzz_virtq $(FUZZ_DEV_BINS) $(B)/fuzz/fuzz_state $(B)/fuzz/fuzz_lvrpc \
	$(B)/fuzz/fuzz_domxml $(B)/fuzz/fuzz_snapfile
.PHONY: fuzz

# Linux guest image: Debian's kernel (vmlinux + bzImage) and a busybox initramfs.
$(B)/linux/.done: tools/linux-image.sh tools/initramfs-init
	$(Q)tools/linux-image.sh $(B)/linux

linux-image: $(B)/linux/.done
.PHONY: linux-image

# Minimal Linux guest (tools/linux/README.md): a tinyconfig kernel built from Debian's
# linux-source-6.1 and an ext4 root with busybox and the no-syscall spin init. The
# kernel script is always run: it checks the fragment and the source package itself.
LINUX_MIN := $(B)/linux-min
LINUX_SPIN_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -nostdlib -static \
	-fno-pie -no-pie -fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables \
	-Wl,--build-id=none

$(LINUX_MIN)/ksmvmm-spin: tools/linux/init-spin.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (guest init)"
	$(Q)$(CC) $(LINUX_SPIN_CFLAGS) -o $@ $<

$(LINUX_MIN)/rootfs.ext4: tools/linux/rootfs.sh tools/linux/inittab tools/linux/rcS \
		$(LINUX_MIN)/ksmvmm-spin
	$(Q)tools/linux/rootfs.sh $(LINUX_MIN)/ksmvmm-spin $@

# The MP table as a file, for the QEMU check of it (tests/linux/qemu-mptable.sh).
$(LINUX_MIN)/mptable-dump: $(B)/tools/linux/mptable-dump.o $(B)/vmm/mptable.o $(B)/vmm/mem.o \
		$(B)/lib/log.o
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

linux-min-kernel:
	$(Q)tools/linux/build-kernel.sh $(LINUX_MIN)

linux-min: linux-min-kernel $(LINUX_MIN)/rootfs.ext4
.PHONY: linux-min linux-min-kernel

# The minimal guest on ksmvmm: virtio devices, ext4 root, 2 CPUs (skips without KVM).
test-linux-min:
	$(Q)tools/setup.sh
	$(Q)$(MAKE) --no-print-directory all linux-min
	$(Q)tests/linux/virtio-boot.sh || [ $$? = 77 ]
	$(Q)tests/linux/snapshot-restore.sh || [ $$? = 77 ]
.PHONY: test-linux-min

# The same guest under QEMU/TCG (no KVM needed): QEMU's devices, our kernel and root.
test-linux-qemu: linux-min $(LINUX_MIN)/mptable-dump
	$(Q)tests/linux/qemu-microvm.sh
	$(Q)tests/linux/qemu-mptable.sh
.PHONY: test-linux-qemu

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
# bench-quick writes build/bench/quick.json and quick.md only, never a tracked file. bench
# (all six scenarios; scenario 5: Linux guests under QEMU/TCG, tools/bench installs
# qemu-system-x86 if missing) replaces docs/bench/results.json and docs/performance.md once
# it finished without an error; a failed or interrupted run leaves them as they were and
# its results in build/bench/full.json and full.md (tools/bench/outputs.py).
bench-quick:
	$(Q)tools/setup.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)python3 tools/bench/bench.py --quick --label "make bench-quick"
bench:
	$(Q)tools/setup.sh
	$(Q)$(MAKE) --no-print-directory all $(B)/linux/.done
	$(Q)python3 tools/bench/bench.py --publish --label "make bench"
.PHONY: bench-quick bench

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	$(Q)clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')
.PHONY: format format-check

clean:
	rm -rf $(B)
.PHONY: clean

# The minimal kernel's source tree (under $(B)/linux-min/src) has .d files of its own.
-include $(shell find $(B) -path $(B)/linux-min/src -prune -o -name '*.d' -type f -print 2>/dev/null)
