# powerd — build, test, run.
#
#   make            build build/powerd, build/powerctl, build/pulselog, build/canlog,
#                   build/modpoll (-O2)
#   make CC=clang   same with clang
#   make man        build/man/powerd.conf.5, generated from the configuration tables
#                   (the other pages are man/*.[18], written by hand)
#   make run        install missing packages, build, run the demo (no hardware)
#   make test       install missing packages, build (ASan+UBSan, TSan), run every test
#   make fuzz       build and run the libFuzzer targets (FUZZ_SECONDS each)
#   make bench      throughput figures, side by side with reference tools
#   make install    install (below); make uninstall removes it again
#   make deb        a Debian package, build/deb/powerd_VERSION-1_ARCH.deb
#   make deb ARCH=arm64|armhf   the same for a Raspberry Pi, in build/deb-ARCH
#   make cross ARCH=arm64|armhf   the binaries for a Raspberry Pi in build/cross-ARCH
#
# Variants live in their own trees: build/ (release), build/asan, build/tsan,
# build/install (what make install installs).
#
# Installing: sudo make install PREFIX=/usr (or make deb), then see README.md
# "Install on a Pi".  Every directory can be set on the command line:
#   PREFIX=/usr/local   the base of every directory below but SYSCONFDIR
#                       (/usr for a package)
#   DESTDIR=            prepended to every path written (a package's or a
#                       test's staging root); not seen by the programs
#   SYSCONFDIR=/etc     SYSCONFDIR/powerd/powerd.conf, the daemon's default
#                       configuration; the example is installed there only if
#                       none exists, and never overwritten or removed
#   BINDIR=PREFIX/bin   powerd, powerctl, pulselog, canlog, modpoll
#   DATAROOTDIR=PREFIX/share, PKGDATADIR=DATAROOTDIR/powerd (the decode table
#                       and register maps; the installed programs are built
#                       in build/install with it as their data directory),
#   MANDIR=DATAROOTDIR/man, DOCDIR=DATAROOTDIR/doc/powerd,
#   BASHCOMPDIR=DATAROOTDIR/bash-completion/completions
#   UNITDIR=PREFIX/lib/systemd/system, SYSUSERSDIR=PREFIX/lib/sysusers.d,
#   TMPFILESDIR=PREFIX/lib/tmpfiles.d, UDEVRULESDIR=PREFIX/lib/udev/rules.d
# The state (/var/lib/powerd) and the socket (/run/powerd) are systemd's
# StateDirectory= and RuntimeDirectory=: they do not follow PREFIX.

VERSION   := 0.1.0
O         ?= build
SAN       ?=
# PKG_CONFIG: make cross runs it against the sysroot (PKG_CONFIG_SYSROOT_DIR).
PKG_CONFIG ?= pkg-config

PREFIX       ?= /usr/local
DESTDIR      ?=
SYSCONFDIR   ?= /etc
BINDIR       ?= $(PREFIX)/bin
DATAROOTDIR  ?= $(PREFIX)/share
PKGDATADIR   ?= $(DATAROOTDIR)/powerd
MANDIR       ?= $(DATAROOTDIR)/man
DOCDIR       ?= $(DATAROOTDIR)/doc/powerd
BASHCOMPDIR  ?= $(DATAROOTDIR)/bash-completion/completions
UNITDIR      ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR  ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR  ?= $(PREFIX)/lib/tmpfiles.d
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
PKGS      := liburing libmicrohttpd libcjson libcurl inih libsystemd libmosquitto zlib libsocketcan

# The GPIO backend follows the libgpiod found: 1.x (Debian 12, Pi OS bookworm)
# -> daemon/gpio_v1.c, 2.x (Debian 13, Pi OS trixie) -> daemon/gpio_v2.c.
# GPIOD_PREFIX=DIR builds against a libgpiod unpacked in DIR instead
# (tools/fetch-libgpiod2.sh DIR gives trixie's 2.x on a bookworm machine).
ifdef GPIOD_PREFIX
GPIOD_LIBDIR  := $(abspath $(firstword $(wildcard $(GPIOD_PREFIX)/usr/lib/*/libgpiod.so)/..))
GPIOD_CFLAGS  := -I$(abspath $(GPIOD_PREFIX))/usr/include
GPIOD_LIBS    := -L$(GPIOD_LIBDIR) -Wl,-rpath,$(GPIOD_LIBDIR) -lgpiod
GPIOD_VERSION := $(shell sed -n 's/^Version: //p' $(GPIOD_LIBDIR)/pkgconfig/libgpiod.pc)
else
GPIOD_CFLAGS  := $(shell $(PKG_CONFIG) --cflags libgpiod 2>/dev/null)
GPIOD_LIBS    := $(shell $(PKG_CONFIG) --libs libgpiod 2>/dev/null)
GPIOD_VERSION := $(shell $(PKG_CONFIG) --modversion libgpiod 2>/dev/null)
endif
GPIOD_MAJOR := $(firstword $(subst ., ,$(GPIOD_VERSION)))
GPIO_BACKEND := $(if $(filter 0 1,$(GPIOD_MAJOR)),v1,v2)

PKG_CFLAGS := $(GPIOD_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(GPIOD_LIBS) $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wformat=2 -Wno-format-nonliteral
CFLAGS    ?= -O2 -g
# Where the daemon finds its data (the EcoFlow decode table, the register
# maps) when the configuration names none: the tree's share/ for a build that
# is not installed, PKGDATADIR for build/install (make install).
DATADIR   ?= $(CURDIR)/share
# Not CPPFLAGS +=: a CPPFLAGS from the environment (dpkg-buildflags) would
# reach the recursive makes (test-build, install) with these in it twice.
# 64-bit file offsets and inode numbers on 32-bit ARM too (a no-op on
# 64-bit): without it stat() and readdir() fail with EOVERFLOW on a file
# system of 64-bit inodes, and a spool stops at 2 GB.  time_t stays the
# C library's: bookworm's armhf libraries (libgpiod's events) use 32 bits.
ALL_CPPFLAGS = -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DPOWERD_VERSION='"$(VERSION)"' -DPOWERD_DATADIR='"$(DATADIR)"' \
             -DPOWERD_CONFIG='"$(SYSCONFDIR)/powerd/powerd.conf"' -Iinclude -Idaemon $(CPPFLAGS)
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SAN_FLAGS) $(PKG_CFLAGS) -fno-strict-aliasing
LDLIBS    += $(PKG_LIBS) -lpthread -lm

ifeq ($(SAN),asan)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS    := -O1 -g
endif
ifeq ($(SAN),tsan)
SAN_FLAGS := -fsanitize=thread
CFLAGS    := -O1 -g
endif

# The code the daemon and the tools share, built once into libpowerd.a.
LIB_SRCS    := daemon/trace.c daemon/canframe.c daemon/pulse.c daemon/config.c daemon/config_doc.c daemon/powerd_conf.c daemon/pulse_conf.c daemon/source_json_conf.c daemon/source_http_conf.c daemon/source_mqtt_conf.c daemon/source_can_conf.c daemon/source_modbus_conf.c daemon/source_eg4_conf.c daemon/sink_conf.c daemon/sink_influx_conf.c daemon/sink_file_conf.c daemon/sink_mqtt_conf.c daemon/sink_cloudwatch_conf.c daemon/buf.c daemon/log.c daemon/sample.c daemon/lineproto.c daemon/netaddr.c daemon/json.c daemon/jsonpoints.c daemon/fmt.c daemon/cw_select.c daemon/json_ckpt.c daemon/fields_conf.c daemon/expr.c daemon/integrate.c daemon/ecoflow_table.c daemon/crc.c daemon/ecoflow.c daemon/modbus.c daemon/eg4.c daemon/regmap.c daemon/regmap_conf.c daemon/serial.c daemon/units.c
# Everything else in daemon/ is the daemon; main.c holds only main().
DAEMON_SRCS := $(filter-out $(LIB_SRCS) daemon/main.c daemon/gpio_v%.c,$(wildcard daemon/*.c)) \
               daemon/gpio_$(GPIO_BACKEND).c
TOOLS       := powerctl pulselog canlog modpoll
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
BENCH_SRCS  := $(wildcard tests/bench/bench_*.c)

OBJ         := $(O)/obj
LIB_OBJS    := $(LIB_SRCS:%.c=$(OBJ)/%.o)
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(OBJ)/%.o)
LIB         := $(O)/libpowerd.a
DLIB        := $(O)/libpowerd-daemon.a
BINS        := $(O)/powerd $(TOOLS:%=$(O)/%)
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)
BENCH_BINS  := $(BENCH_SRCS:tests/bench/%.c=$(O)/bench/%)

.PHONY: all deps run test test-build unit servers man fuzz bench clean format check-format \
        install install-build uninstall deb cross
.DEFAULT_GOAL := all
# Keep objects of chained rules (tests, benches) for incremental builds.
.SECONDARY:

all: $(BINS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(DLIB): $(DAEMON_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(O)/powerd: $(OBJ)/daemon/main.o $(DLIB) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/%: $(OBJ)/tools/%.o $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/tests/%: $(OBJ)/tests/unit/%.o $(DLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/bench/%: $(OBJ)/tests/bench/%.o $(DLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT_BINS)

# powerd.conf(5) is printed by the powerd just built (--defaults=man): the
# page comes from the very tables it parses with, so it cannot drift.
# MAN_POWERD: the powerd that prints it, when the one built cannot run here
# (a cross build: a native build's powerd, or the target's under qemu-user).
man: $(O)/man/powerd.conf.5
MAN_POWERD ?= $(O)/powerd
$(O)/man/powerd.conf.5: $(O)/powerd
	@mkdir -p $(dir $@)
	$(MAN_POWERD) --defaults=man >$@.tmp && mv $@.tmp $@
bench-bins: $(BENCH_BINS)

# The systemd unit, its paths those of this install (daemon/powerd.service.in).
$(O)/powerd.service: daemon/powerd.service.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@DOCDIR@|$(DOCDIR)|g' $< >$@.tmp && mv $@.tmp $@

# Real peers for the tests and benches, built against their own libraries
# (libmodbus's server: a Modbus implementation that is not ours).
TEST_SERVERS := $(O)/tests/modbus_server
servers: $(TEST_SERVERS)
$(O)/tests/modbus_server: tests/modbus_server.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -g $(shell $(PKG_CONFIG) --cflags libmodbus) -o $@ $< \
		$(shell $(PKG_CONFIG) --libs libmodbus)

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- workflows
deps:
	@tools/install-deps.sh build

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(O)/demo
	@echo "powerd: demo configuration examples/demo.conf (replayed meter, no hardware needed)"
	@echo "powerd: metrics at http://127.0.0.1:9480/metrics, status at http://127.0.0.1:9480/"
	@echo "powerd: every sample is also shipped to $(O)/demo/samples.lp (a file sink, through the spool)"
	@echo "powerd: try '$(O)/powerctl -s $(O)/demo/powerd.sock status' in another terminal; Ctrl-C stops"
	exec $(O)/powerd -c examples/demo.conf

# Everything the tests need: release binaries (for the VM and Valgrind),
# ASan+UBSan binaries and unit tests, TSan binaries and unit tests.
test-build:
	@$(MAKE) --no-print-directory all unit servers man
	@$(MAKE) --no-print-directory O=$(O)/asan SAN=asan all unit
	@$(MAKE) --no-print-directory O=$(O)/tsan SAN=tsan all unit

test:
	@tools/install-deps.sh test
	@$(MAKE) --no-print-directory test-build
	@tests/run.sh $(O)

# make cross ARCH=arm64|armhf [SUITE=bookworm|trixie]: the binaries for a
# Raspberry Pi in $(O)/cross-ARCH[-SUITE], built by the rules above with
# Debian's cross compiler against a private sysroot of the target's -dev
# packages (tools/cross-sysroot.sh, cached in $(O)/cross), and the unit
# tests that run under qemu-user (QEMU_UNITS: io_uring is ENOSYS there,
# test_loop and test_tcpconn need it).  make deb ARCH=... (below) packages
# the same.
SUITE         ?= bookworm
CROSS_TRIPLET := $(if $(filter armhf,$(ARCH)),arm-linux-gnueabihf,aarch64-linux-gnu)
CROSS_DIR     := $(O)/cross-$(ARCH)$(if $(filter-out bookworm,$(SUITE)),-$(SUITE))
CROSS_ROOT    := $(abspath $(O))/cross/sysroot-$(SUITE)-$(ARCH)
CROSS_CC      := $(CROSS_TRIPLET)-gcc --sysroot=$(CROSS_ROOT)
CROSS_PKG_CONFIG := env PKG_CONFIG_SYSROOT_DIR=$(CROSS_ROOT) \
	PKG_CONFIG_LIBDIR=$(CROSS_ROOT)/usr/lib/$(CROSS_TRIPLET)/pkgconfig:$(CROSS_ROOT)/usr/share/pkgconfig pkg-config
QEMU_UNITS    := $(filter-out test_loop test_tcpconn,$(UNIT_SRCS:tests/unit/%.c=%))
# Debian 13's armhf libraries use a 64-bit time_t (bookworm's 32 bits).
CROSS_TIME64  := $(if $(filter armhf,$(ARCH)),$(if $(filter-out bookworm,$(SUITE)),-D_TIME_BITS=64))
# How this machine runs a cross-built powerd (MAN_POWERD: the manual page).
CROSS_QEMU    := qemu-$(if $(filter armhf,$(ARCH)),arm,aarch64)-static -L $(CROSS_ROOT)
CROSS_CHECK    = @case "$(ARCH)" in arm64|armhf) ;; *) echo "make $@: ARCH=arm64 or armhf" >&2; exit 2;; esac
cross:
	$(CROSS_CHECK)
	@tools/install-deps.sh cross
	@SUITE=$(SUITE) tools/cross-sysroot.sh $(ARCH) $(O)/cross >/dev/null
	@$(MAKE) --no-print-directory O=$(CROSS_DIR) CC="$(CROSS_CC)" CFLAGS="$(CFLAGS) $(CROSS_TIME64)" \
		AR=$(CROSS_TRIPLET)-ar PKG_CONFIG="$(CROSS_PKG_CONFIG)" all $(QEMU_UNITS:%=$(CROSS_DIR)/tests/%)

FUZZ_SECONDS ?= 20
fuzz:
	@tools/install-deps.sh fuzz
	@tests/fuzz/run.sh $(O)/fuzz $(FUZZ_SECONDS)

bench:
	@tools/install-deps.sh bench
	@$(MAKE) --no-print-directory all bench-bins servers
	@tests/bench/run.sh $(O)

# ---------------------------------------------------------------- install
# The installed programs look for their data in PKGDATADIR and for their
# configuration in SYSCONFDIR, compiled in: they are built in a tree of their
# own, INST_O, made again from scratch when those paths change.
INST_O      := $(O)/install
INST_PATHS  := $(PKGDATADIR) $(SYSCONFDIR) $(BINDIR) $(DOCDIR)
MAN_PAGES   := $(wildcard man/*.[158]) $(INST_O)/man/powerd.conf.5
MAPS        := $(wildcard share/maps/*.map)
COMPLETIONS := $(wildcard share/bash-completion/*)
DOCS        := README.md $(wildcard docs/*.md)
CONTRIB     := $(wildcard contrib/*.md contrib/*/*.json contrib/*/*.yml)
CONF        := $(DESTDIR)$(SYSCONFDIR)/powerd/powerd.conf
# Every file install writes but the configuration, as DESTDIR-less paths.
INSTALLED   := $(addprefix $(BINDIR)/,powerd $(TOOLS)) $(UNITDIR)/powerd.service \
               $(SYSUSERSDIR)/powerd.conf $(TMPFILESDIR)/powerd.conf \
               $(UDEVRULESDIR)/60-powerd-gpio.rules $(PKGDATADIR)/ecoflow.json \
               $(MAPS:share/%=$(PKGDATADIR)/%) \
               $(foreach p,$(notdir $(MAN_PAGES)),$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(p)) \
               $(COMPLETIONS:share/bash-completion/%=$(BASHCOMPDIR)/%) \
               $(addprefix $(DOCDIR)/,$(notdir $(DOCS)) examples/powerd.conf $(CONTRIB))
INSTALL     ?= install

install-build:
	@[ "$$(cat $(INST_O)/paths 2>/dev/null)" = '$(INST_PATHS)' ] || \
		{ rm -rf $(INST_O) && mkdir -p $(INST_O) && echo '$(INST_PATHS)' >$(INST_O)/paths; }
	@$(MAKE) --no-print-directory O=$(INST_O) DATADIR=$(PKGDATADIR) all man \
		$(INST_O)/powerd.service

install: install-build
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(PKGDATADIR)/maps \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(DOCDIR)/examples \
		$(addprefix $(DESTDIR)$(MANDIR)/man,1 5 8) \
		$(sort $(dir $(CONTRIB:%=$(DESTDIR)$(DOCDIR)/%)))
	$(INSTALL) -m 0755 $(addprefix $(INST_O)/,powerd $(TOOLS)) $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0644 $(INST_O)/powerd.service $(DESTDIR)$(UNITDIR)/powerd.service
	$(INSTALL) -m 0644 daemon/powerd.sysusers $(DESTDIR)$(SYSUSERSDIR)/powerd.conf
	$(INSTALL) -m 0644 daemon/powerd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/powerd.conf
	$(INSTALL) -m 0644 daemon/powerd-gpio.rules $(DESTDIR)$(UDEVRULESDIR)/60-powerd-gpio.rules
	$(INSTALL) -m 0644 share/ecoflow.json $(DESTDIR)$(PKGDATADIR)
	$(INSTALL) -m 0644 $(MAPS) $(DESTDIR)$(PKGDATADIR)/maps
	for p in $(MAN_PAGES); do $(INSTALL) -m 0644 $$p $(DESTDIR)$(MANDIR)/man$${p##*.} || exit 1; done
	$(INSTALL) -m 0644 $(COMPLETIONS) $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 0644 examples/powerd.conf $(DESTDIR)$(DOCDIR)/examples
	for f in $(CONTRIB); do $(INSTALL) -m 0644 $$f $(DESTDIR)$(DOCDIR)/$${f%/*} || exit 1; done
	@if [ -e $(CONF) ]; then \
		echo "powerd: $(CONF) exists: kept (the example is $(DOCDIR)/examples/powerd.conf)"; \
	else \
		$(INSTALL) -D -m 0644 examples/powerd.conf $(CONF) && echo "powerd: installed $(CONF)"; \
	fi
	@# On the running system (no DESTDIR): the user and group, the state
	@# directory, udev's rule applied to the chips there are, systemd told.
	@if [ -z "$(DESTDIR)" ]; then \
		systemd-sysusers $(SYSUSERSDIR)/powerd.conf && \
		systemd-tmpfiles --create $(TMPFILESDIR)/powerd.conf || exit 1; \
		if [ -d /run/udev ] && command -v udevadm >/dev/null; then \
			udevadm control --reload-rules; udevadm trigger --subsystem-match=gpio --action=add; \
		fi; \
		if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
		echo "powerd: installed; write $(SYSCONFDIR)/powerd/powerd.conf, then: systemctl enable --now powerd"; \
	fi

# Removes what install wrote, never the configuration nor the state.
uninstall:
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ] && \
	    systemctl -q is-enabled powerd.service 2>/dev/null; then \
		echo "systemctl disable --now powerd"; systemctl disable --now powerd.service; \
	fi
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	for d in $(DESTDIR)$(DOCDIR) $(DESTDIR)$(PKGDATADIR); do \
		[ ! -d $$d ] || find $$d -depth -type d -empty -delete || exit 1; \
	done
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "powerd: kept $(CONF) and /var/lib/powerd (remove them by hand if wanted)"

# A Debian package built from a copy of the tree in $(O)/deb/src, so that
# nothing is written outside $(O): $(O)/deb/powerd_$(VERSION)-1_ARCH.deb.
# With ARCH=arm64|armhf, cross-built against make cross's sysroot into
# $(O)/deb-ARCH: debhelper hands CC, AR and PKG_CONFIG from the
# environment to the make, and dh_shlibdeps takes the libraries' packages
# from the sysroot's dpkg database (POWERD_SYSROOT, debian/rules).
deb:
ifeq ($(ARCH),)
	@tools/build-deb.sh $(O)/deb
else
	$(CROSS_CHECK)
	@tools/install-deps.sh cross
	@SUITE=$(SUITE) tools/cross-sysroot.sh $(ARCH) $(O)/cross >/dev/null
	@CC="$(CROSS_CC)" AR=$(CROSS_TRIPLET)-ar PKG_CONFIG="$(CROSS_PKG_CONFIG)" MAN_POWERD='$(CROSS_QEMU) $$(O)/powerd' \
		POWERD_SYSROOT="$$(readlink -f $(CROSS_ROOT))" DEB_CPPFLAGS_APPEND="$(CROSS_TIME64)" \
		DEB_BUILD_OPTIONS="nocheck $$DEB_BUILD_OPTIONS" \
		tools/build-deb.sh $(O)/deb-$(ARCH)$(if $(filter-out bookworm,$(SUITE)),-$(SUITE)) -a$(ARCH) -d
endif

format:
	clang-format -i $(wildcard daemon/*.[ch] include/*.h tools/*.c tests/unit/*.[ch] tests/*.c tests/fuzz/*.c tests/bench/*.c tests/vm/*.c)

check-format:
	@clang-format --dry-run -Werror $(wildcard daemon/*.[ch] include/*.h tools/*.c tests/unit/*.[ch] tests/*.c tests/fuzz/*.c tests/bench/*.c tests/vm/*.c)

clean:
	rm -rf build
