# SPDX-License-Identifier: GPL-2.0
#
# ext3snap top-level build.
#
#   make            modules (ext3snap.ko, ssdev.ko) and tools
#   make check      unit tests, checkpatch, VM integration tests
#   make check-long the power-cut test with 200 cuts, 100 snapshots,
#                   crashes inside deletes, 20 recover-then-read cuts
#   make check-debug the snapshot tests on a lockdep/KASAN kernel
#   make bench      the benchmark (about 50 minutes, one VM)
#   make demo       install deps, build, boot the VM and show a snapshot
#   make clean      back to git's state (keeps build/vm and build/src)
#   make distclean  also drop the unpacked kernel image and sources
#
# Everything is written below build/; nothing outside the tree but apt.

SHELL		:= /bin/bash
TOP		:= $(CURDIR)
B		:= $(TOP)/build
# Lazy (=): on a fresh machine they are only known once kernel-check has
# installed the dependencies.
KVER		= $(shell $(TOP)/scripts/kernel-version 2>/dev/null)
KDIR		= /usr/src/linux-headers-$(KVER)
KSRC_TAR	:= /usr/src/linux-source-6.1.tar.xz

# Pristine pieces of the kernel source we need: fs/ext4 and checkpatch.
SRC		:= $(B)/src
SRC_STAMP	:= $(SRC)/.extracted
# ext4 with our quilt series applied, plus fs/ext3snap: one kbuild module.
MOD		:= $(B)/ext3snap
SSDEV		:= $(B)/ssdev
BIN		:= $(B)/bin
LIBDIR		:= $(B)/lib

PATCHES		:= $(sort $(wildcard patches/*.patch)) patches/series
SNAP_SRCS	:= $(wildcard fs/ext3snap/*.[ch]) $(wildcard include/uapi/*.h) \
		   $(wildcard include/kernel/*.h)
SSDEV_SRCS	:= $(wildcard ssdev/*.[ch]) ssdev/Kbuild

CC		?= cc
CFLAGS		?= -O2 -g
CFLAGS		+= -Wall -Wextra -Werror=implicit-function-declaration \
		   -D_GNU_SOURCE -Iinclude/uapi -Ilib
E2FS_LIBS	= $(shell pkg-config --libs ext2fs e2p com_err 2>/dev/null || echo -lext2fs -le2p -lcom_err)
CHECK_LIBS	= $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

TOOLS		:= $(BIN)/e3snapconfig $(BIN)/ssdevconfig $(BIN)/fsck.ext3snap \
		   $(LIBDIR)/ext3snap-e2fsck-shim.so
LIB_OBJS	:= $(patsubst lib/%.c,$(LIBDIR)/%.o,$(wildcard lib/*.c))
UNIT_TESTS	:= $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all modules debug-modules check-debug tools kernel-check check check-long check-unit check-vm checkpatch \
	demo bench clean distclean deps quilt-env

all: modules tools

# Install what is missing (scripts/install-deps is idempotent), then insist.
kernel-check:
	@$(TOP)/scripts/kernel-version >/dev/null 2>&1 || $(TOP)/scripts/install-deps
	@$(TOP)/scripts/kernel-version >/dev/null

deps:
	$(TOP)/scripts/install-deps

# ---- kernel modules ------------------------------------------------------

$(SRC_STAMP): $(KSRC_TAR) | kernel-check
	rm -rf $(SRC) && mkdir -p $(SRC)
	tar -xJf $(KSRC_TAR) -C $(SRC) --strip-components=1 \
		linux-source-6.1/fs/ext4 linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	touch $@

# Re-apply the whole series whenever a patch changes: quilt's .pc lives in
# $(MOD) so 'cd build/ext3snap && quilt ...' edits the series in place.
$(MOD)/.patched: $(SRC_STAMP) $(PATCHES)
	rm -rf $(MOD) && mkdir -p $(MOD)/fs
	cp -a $(SRC)/fs/ext4 $(MOD)/fs/ext4
	cd $(MOD) && QUILT_PATCHES=$(TOP)/patches QUILT_PC=.pc \
		quilt push -a -q --fuzz=0 >/dev/null
	touch $@

$(MOD)/.synced: $(MOD)/.patched $(SNAP_SRCS) scripts/ext3snap.Kbuild
	mkdir -p $(MOD)/fs/ext3snap $(MOD)/include
	rm -f $(MOD)/fs/ext3snap/*.[ch]
	cp fs/ext3snap/*.[ch] $(MOD)/fs/ext3snap/
	cp include/uapi/*.h include/kernel/*.h $(MOD)/include/
	cp scripts/ext3snap.Kbuild $(MOD)/Kbuild
	touch $@

$(MOD)/ext3snap.ko: $(MOD)/.synced FORCE
	$(MAKE) -j$(shell nproc) -C $(KDIR) M=$(MOD) modules

$(SSDEV)/.synced: $(SSDEV_SRCS) $(wildcard include/uapi/*.h include/kernel/*.h)
	mkdir -p $(SSDEV)
	rm -f $(SSDEV)/*.[ch]
	cp ssdev/*.c ssdev/Kbuild $(SSDEV)/
	cp include/uapi/*.h include/kernel/*.h $(SSDEV)/
	touch $@

$(SSDEV)/ssdev.ko: $(SSDEV)/.synced $(MOD)/ext3snap.ko FORCE
	@# kbuild does not relink when only the symbol versions it uses change
	@if [ $(MOD)/Module.symvers -nt $@ ]; then \
		rm -f $(SSDEV)/*.o $(SSDEV)/*.ko; fi
	$(MAKE) -j$(shell nproc) -C $(KDIR) M=$(SSDEV) \
		KBUILD_EXTRA_SYMBOLS=$(MOD)/Module.symvers modules

modules: $(MOD)/ext3snap.ko $(SSDEV)/ssdev.ko

# The same modules for the debug kernel (scripts/debug-kernel, built once
# per machine under build/debug-kernel): sources copied without objects.
DKOBJ		:= $(B)/debug-kernel/obj
DMOD		:= $(B)/debug/ext3snap
DSSDEV		:= $(B)/debug/ssdev
debug-modules: $(MOD)/.synced $(SSDEV)/.synced
	$(TOP)/scripts/debug-kernel >/dev/null
	rm -rf $(DMOD) $(DSSDEV) && mkdir -p $(B)/debug
	cp -a $(MOD) $(DMOD) && cp -a $(SSDEV) $(DSSDEV)
	find $(DMOD) $(DSSDEV) \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' \
		-o -name '*.mod' -o -name '*.mod.c' -o -name Module.symvers \
		-o -name modules.order \) -delete
	$(MAKE) -j$(shell nproc) -C $(DKOBJ) M=$(DMOD) modules
	$(MAKE) -j$(shell nproc) -C $(DKOBJ) M=$(DSSDEV) \
		KBUILD_EXTRA_SYMBOLS=$(DMOD)/Module.symvers modules

FORCE:

# Print the environment for editing the quilt series by hand.
quilt-env: $(MOD)/.patched
	@echo "cd $(MOD) && export QUILT_PATCHES=$(TOP)/patches QUILT_PC=.pc"

# ---- userspace -----------------------------------------------------------

$(LIBDIR)/%.o: lib/%.c $(wildcard lib/*.h) $(wildcard include/uapi/*.h) | kernel-check
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -c -o $@ $<

$(LIBDIR)/libext3snap.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BIN)/%: $(LIBDIR)/libext3snap.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c,$^) $(LIBDIR)/libext3snap.a $(E2FS_LIBS)

$(BIN)/e3snapconfig: e3snapconfig/e3snapconfig.c
$(BIN)/ssdevconfig: ssdev/ssdevconfig.c
$(BIN)/fsck.ext3snap: fsck/fsck.ext3snap.c

# Preloaded into the e2fsck fsck.ext3snap runs (see fsck/e2fsck-shim.c).
# It carries copy-before-write (lib/cow.c, on lib/bij.c's checksums).
$(LIBDIR)/ext3snap-e2fsck-shim.so: fsck/e2fsck-shim.c lib/cow.c lib/bij.c lib/libext3snap.h $(wildcard include/uapi/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $(filter %.c,$^) -ldl $(E2FS_LIBS)

tools: $(TOOLS)

$(B)/tests/%: tests/unit/%.c $(LIBDIR)/libext3snap.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/tools -o $@ $(filter %.c,$^) $(LIBDIR)/libext3snap.a $(E2FS_LIBS) $(CHECK_LIBS)

# Crafting snapshots and journals: the BIJ unit tests and the host tests.
CRAFT		:= tests/tools/bij-craft.c tests/tools/bij-craft.h
$(B)/tests/test_bij: $(CRAFT)
$(B)/tests/test_chain: $(CRAFT)
$(B)/tests/test_cow: $(CRAFT)
$(B)/tests/bijcraft: tests/tools/bijcraft.c $(CRAFT) $(LIBDIR)/libext3snap.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/tools -o $@ $(filter %.c,$^) $(LIBDIR)/libext3snap.a $(E2FS_LIBS)
$(B)/tests/test_image: $(CRAFT)

# A snapshot's whole image, read without ssdev (lib/image.c): host tests.
$(B)/tests/imagedump: tests/tools/imagedump.c $(LIBDIR)/libext3snap.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c,$^) $(LIBDIR)/libext3snap.a $(E2FS_LIBS)

# Replaying dm-log-writes logs: the VM test snap-logwrites and its unit test.
LOGW		:= tests/tools/logwrites.c tests/tools/logwrites.h
$(B)/tests/test_logwrites: $(LOGW)
$(B)/tests/logreplay: tests/tools/logreplay.c $(LOGW)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $(filter %.c,$^)

# ---- tests ---------------------------------------------------------------

check: all $(UNIT_TESTS) $(B)/tests/bijcraft $(B)/tests/imagedump $(B)/tests/logreplay $(SRC_STAMP)
	$(TOP)/scripts/run-tests $(if $(TESTS),--only "$(TESTS)")

# The crash test with 200 power cuts instead of 6 (about 2 hours).
check-long: all $(SRC_STAMP)
	POWERCUT_CUTS=200 RECOVER_CUTS=20 RECOVER_FSCK=1 \
		$(TOP)/scripts/run-tests --long \
		--only 'powercut|snap-recover|snap-many|snap-delete-crash|snap-neighbours'

# The snapshot tests on the lockdep/KASAN kernel (issue 21): any lockdep,
# KASAN or sleep-in-atomic report fails the run (scripts/vm-run).
DEBUG_TESTS	?= snap-oracle|snap-load|snap-logwrites|snap-powercut|snap-recover|snap-multi|snap-deep|snap-diskfull|snap-slowread
check-debug: all debug-modules $(UNIT_TESTS) $(B)/tests/bijcraft $(B)/tests/imagedump $(B)/tests/logreplay $(SRC_STAMP)
	VM_DEBUG_KERNEL=1 POWERCUT_CUTS=$${POWERCUT_CUTS:-6} \
		$(TOP)/scripts/run-tests --only "$(if $(TESTS),$(TESTS),$(DEBUG_TESTS))"

check-unit: $(UNIT_TESTS)
	$(TOP)/scripts/run-tests --unit-only

checkpatch: $(SRC_STAMP)
	$(TOP)/scripts/checkpatch-ours

demo: deps
	$(MAKE) all
	$(TOP)/scripts/vm-run --disk demo:1G --timeout 600 -- $(TOP)/scripts/demo.sh

# ---- benchmark -------------------------------------------------------------

# Issue 6: every configuration side by side in one VM (Documentation/bench.md);
# writes bench/results/<date>-<kernel>.{md,png} and the raw figures.
bench: all
	$(TOP)/bench/run $(if $(RUNS),--runs $(RUNS))

# ---- cleaning --------------------------------------------------------------

clean:
	rm -rf $(MOD) $(SSDEV) $(BIN) $(LIBDIR) $(B)/tests $(B)/tmp $(B)/initramfs*

distclean:
	rm -rf $(B)
