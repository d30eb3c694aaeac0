# SPDX-License-Identifier: GPL-2.0
#
# dm-sis top-level Makefile.
#
#   make                 build dm-sis.ko (warnings are errors) and the userspace tools
#   make KVER=<release>  build against /lib/modules/<release>/build or
#                        /usr/src/linux-headers-<release> (e.g. the 6.1 cloud kernel)
#   make KDIR=<dir>      build against any kernel build tree
#   make lint            sparse (C=1) and checkpatch.pl --strict: must be clean
#   make test            every test (userspace and guest); last line "N passed, N failed"
#   make demo | bench | bench-core | stress | test-long | install | clean
#   make bench BENCH_ARGS="--core-scale ..."  options of scripts/bench (scripts/bench --help)
#   make bench-core-scale  the core benchmark at 100M blocks (SCALE_BLOCKS=n) with the
#                        metadata on a sparse file under build/ (deleted afterwards)
#   make dkms-install | dkms-remove   register/build/install dm-sis with DKMS (root)
#   make deb             build/deb/dm-sis-dkms_*.deb + sis-tools_*.deb, lintian-checked
#
# See README.md and docs/testbed.md.

SHELL := /bin/bash

ifneq ($(KVER),)
  KDIR ?= $(firstword $(wildcard /lib/modules/$(KVER)/build) \
		      $(wildcard /usr/src/linux-headers-$(KVER)))
  ifeq ($(KDIR),)
    $(error no build tree for KVER=$(KVER): run 'sudo scripts/setup' or set KDIR)
  endif
else
  KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
		      $(lastword $(sort $(wildcard /usr/src/linux-headers-6.12*-cloud-amd64))))
endif

CHECKPATCH ?= $(firstword $(wildcard /usr/src/linux-source-6.12*/scripts/checkpatch.pl) \
			  $(wildcard $(KDIR)/scripts/checkpatch.pl))
SPARSE_FLAGS ?=

KMOD_SRCS = $(filter-out %.mod.c,$(wildcard dm-sis/*.c dm-sis/*.h dm-sis/core/*.c dm-sis/core/*.h include/*.h))
HAVE_USERSPACE = $(wildcard userspace/Makefile)

.PHONY: all module userspace lint sparse checkpatch irq-lock-audit test demo bench bench-core \
	bench-core-scale \
	stress test-long install clean distclean help check-kdir \
	dkms-install dkms-remove deb

all: module userspace

check-kdir:
	@if [ -z "$(KDIR)" ] || [ ! -d "$(KDIR)" ]; then \
		echo "error: no kernel build tree (KDIR='$(KDIR)'): run 'sudo scripts/setup' or pass KDIR=" >&2; \
		exit 1; fi

module: check-kdir
	$(MAKE) -C $(KDIR) M=$(CURDIR)/dm-sis modules

userspace:
ifneq ($(HAVE_USERSPACE),)
	$(MAKE) -C userspace
else
	@echo "userspace/Makefile not present yet: skipping userspace build"
endif

lint: sparse checkpatch irq-lock-audit

# Locks taken in bio completions (which may run in hard IRQ) must be IRQ-safe
# everywhere; the guest kernels have no lockdep to say so (scripts/irq-lock-audit).
irq-lock-audit:
	@scripts/irq-lock-audit

# Sparse (C=1) on a fresh private copy under build/lint, so every file is
# checked and the in-tree build is left alone; any sparse warning or error in
# our own files fails.
LINT_DIR := $(CURDIR)/build/lint
sparse: check-kdir
	@command -v sparse >/dev/null || { echo "sparse missing: run 'sudo scripts/setup'" >&2; exit 1; }
	@rm -rf $(LINT_DIR) && mkdir -p $(LINT_DIR) && cp -a dm-sis $(LINT_DIR)/ && \
		{ [ ! -d include ] || cp -a include $(LINT_DIR)/; } && \
		find $(LINT_DIR) \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod*' \) -delete
	@log=$(LINT_DIR)/sparse.log; \
	$(MAKE) -C $(KDIR) M=$(LINT_DIR)/dm-sis C=1 CHECK="sparse $(SPARSE_FLAGS)" modules >$$log 2>&1; \
	rc=$$?; cat $$log; \
	n=$$(grep -E ': (warning|error):' $$log | grep -c "$(LINT_DIR)/" || true); \
	if [ $$rc -ne 0 ]; then echo "sparse: build failed" >&2; exit 1; fi; \
	if [ "$$n" -gt 0 ]; then echo "sparse: $$n diagnostic(s) in dm-sis sources" >&2; exit 1; fi; \
	echo "sparse: clean"

checkpatch:
	@if [ -z "$(CHECKPATCH)" ]; then echo "checkpatch.pl not found: run 'sudo scripts/setup'" >&2; exit 1; fi
	@if [ -z "$(KMOD_SRCS)" ]; then echo "checkpatch: no kernel sources yet"; exit 0; fi
	@set -o pipefail; out=$$(perl $(CHECKPATCH) --strict --no-tree --no-summary --terse \
		--show-types -f $(KMOD_SRCS) 2>&1); rc=$$?; \
	if [ -n "$$out" ]; then echo "$$out"; echo "checkpatch: problems found" >&2; exit 1; fi; \
	if [ $$rc -ne 0 ]; then echo "checkpatch: failed ($$rc)" >&2; exit 1; fi; \
	echo "checkpatch: clean ($(words $(KMOD_SRCS)) files)"

test:
	@scripts/run-tests

# Thin delegations to scripts others own: fail clearly while they are missing.
define delegate
	@if [ -x "$(1)" ]; then exec $(1) $(2); \
	elif [ -f "$(1)" ]; then exec bash $(1) $(2); \
	else echo "error: $(1) does not exist yet" >&2; exit 1; fi
endef

# vm-run builds dm-sis.ko for the guest kernel itself; the guest gets the
# userspace tools from the userspace build.
demo: userspace
	@if [ -f tests/demo.sh ]; then \
		exec scripts/vm-run tests/demo.sh; \
	else echo "error: tests/demo.sh does not exist yet (no demo to run)" >&2; exit 1; fi

bench:
	$(call delegate,scripts/bench,$(BENCH_ARGS))

# The core's userspace benchmark and crash stress live in userspace/Makefile;
# a scripts/bench-core or scripts/stress, when present, takes precedence.
bench-core:
	@if [ -e scripts/bench-core ]; then exec bash scripts/bench-core; \
	elif [ -n "$(HAVE_USERSPACE)" ]; then exec $(MAKE) -C userspace bench-core; \
	else echo "error: no bench-core yet (scripts/bench-core or userspace/Makefile)" >&2; exit 1; fi

# The same at scale: metadata on a sparse file (userspace/Makefile).
bench-core-scale:
	$(MAKE) -C userspace bench-core-scale

stress:
	@if [ -e scripts/stress ]; then exec bash scripts/stress; \
	elif [ -n "$(HAVE_USERSPACE)" ]; then exec $(MAKE) -C userspace stress; \
	else echo "error: no stress yet (scripts/stress or userspace/Makefile)" >&2; exit 1; fi

test-long:
	@SIS_TEST_LONG=1 scripts/run-tests --long

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/dm-sis modules_install
ifneq ($(HAVE_USERSPACE),)
	$(MAKE) -C userspace install
endif

# ---- DKMS and Debian packages (README "Production use") ----
# The version is the one of debian/changelog.
SIS_VERSION := $(shell awk 'NR == 1 { print substr($$2, 2, length($$2) - 2) }' debian/changelog 2>/dev/null)
DKMS_SRC := $(DESTDIR)/usr/src/dm-sis-$(SIS_VERSION)
DKMS_CLEAN := \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod' \
	-o -name '*.mod.c' -o -name modules.order -o -name Module.symvers -o -name '.*.d' \)

# Copy the module source to /usr/src/dm-sis-<version>, then dkms add +
# install for every kernel in /lib/modules that has its headers (build
# link); AUTOINSTALL=yes makes DKMS rebuild it for kernels installed later.
dkms-install:
	@command -v dkms >/dev/null || { echo "dkms missing: apt-get install dkms (scripts/setup installs it)" >&2; exit 1; }
	@[ -n "$(SIS_VERSION)" ] || { echo "no version in debian/changelog" >&2; exit 1; }
	-@dkms status -m dm-sis -v $(SIS_VERSION) | grep -q . && dkms remove -m dm-sis -v $(SIS_VERSION) --all >/dev/null
	rm -rf $(DKMS_SRC) && mkdir -p $(DKMS_SRC)
	cp -a dm-sis include $(DKMS_SRC)/
	find $(DKMS_SRC) $(DKMS_CLEAN) -delete
	sed 's/#MODULE_VERSION#/$(SIS_VERSION)/' dkms.conf >$(DKMS_SRC)/dkms.conf
	dkms add -m dm-sis -v $(SIS_VERSION)
	@n=0; for k in $$(ls /lib/modules); do \
		[ -e /lib/modules/$$k/build ] || { echo "dkms-install: skipping $$k (no headers)"; continue; }; \
		dkms install -m dm-sis -v $(SIS_VERSION) -k $$k || exit 1; n=$$((n + 1)); \
	done; [ $$n -gt 0 ] || { echo "dkms-install: no kernel with headers (install linux-headers-\$$(uname -r))" >&2; exit 1; }
	dkms status -m dm-sis

dkms-remove:
	@command -v dkms >/dev/null || { echo "dkms missing" >&2; exit 1; }
	-dkms remove -m dm-sis -v $(SIS_VERSION) --all
	rm -rf $(DKMS_SRC)

# Build both packages from a copy of the tree under build/deb (the debs land
# in build/deb/), then lintian them: no errors allowed.
DEB_DIR := $(CURDIR)/build/deb
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh_dkms >/dev/null || \
		{ echo "debhelper/dh-dkms missing: run 'sudo scripts/setup'" >&2; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/dm-sis-$(SIS_VERSION)/docs
	cp -a Makefile LICENSE dkms.conf debian dist dm-sis include userspace $(DEB_DIR)/dm-sis-$(SIS_VERSION)/
	cp -a docs/sis.8 $(DEB_DIR)/dm-sis-$(SIS_VERSION)/docs/
	find $(DEB_DIR)/dm-sis-$(SIS_VERSION) $(DKMS_CLEAN) -delete
	cd $(DEB_DIR)/dm-sis-$(SIS_VERSION) && dpkg-buildpackage -b -us -uc >$(DEB_DIR)/build.log 2>&1 || \
		{ tail -n 40 $(DEB_DIR)/build.log; exit 1; }
	lintian --fail-on error --suppress-tags-from-file /dev/null $(DEB_DIR)/*.changes
	@ls $(DEB_DIR)/*.deb

clean:
	-@[ -z "$(KDIR)" ] || [ ! -d "$(KDIR)" ] || $(MAKE) -C $(KDIR) M=$(CURDIR)/dm-sis clean
	-@[ -z "$(HAVE_USERSPACE)" ] || $(MAKE) -C userspace clean
	-@[ ! -d tests/vm/warn-module ] || [ -z "$(KDIR)" ] || [ ! -d "$(KDIR)" ] || \
		$(MAKE) -C $(KDIR) M=$(CURDIR)/tests/vm/warn-module clean >/dev/null
	rm -rf build/mod build/lint build/test-logs

# Also drops the cached guest image (rebuilt by the next vm-run).
distclean: clean
	rm -rf build

help:
	@sed -n '3,17p' Makefile
