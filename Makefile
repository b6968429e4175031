# Event Processor — plain Makefile.
#   make            build every tool into $(BUILD)/bin
#   make test       install missing packages, build, run every test, then again under ASan+UBSan
#   make check      run the tests against what is built (SAN=1 for the sanitizer build)
#   make demo       install, build, run the demo
#   make bench      benchmarks (ratios against a baseline run in the same invocation)
#   make install PREFIX=/usr/local
#   make fuzz-short  fuzz each parser 15 s with clang's libFuzzer (make fuzz: 300 s; fuzz/README.md)
#
# Layout of a build (the same shape as an install, so tools find their data
# the same way in both): $(BUILD)/bin/<tool>, $(BUILD)/share/event-processor/.

PREFIX   ?= /usr/local
SAN      ?=
BUILD    ?= build$(if $(SAN),/san)
CC       ?= cc
PKGS     := libcjson libcurl openssl rdkafka libpcre2-8
VERSION  := 0.1.0

# pkg-config is only asked when building, so "make deps" works on a bare machine.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -MMD -MP -Ilib -DEP_VERSION='"$(VERSION)"' \
            -DEP_DATADIR='"$(PREFIX)/share/event-processor"'
LDLIBS   += -lm
# Hardened by default, as Debian's dpkg-buildflags would: stack canaries,
# checked string and memory calls, a position-independent executable whose
# relocations are read-only once loaded. _FORTIFY_SOURCE needs optimisation
# and fights ASan's interceptors, so the sanitizer build goes without it.
HARDEN_CFLAGS  := -fstack-protector-strong -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now
CFLAGS   += $(HARDEN_CFLAGS)
LDFLAGS  += $(HARDEN_LDFLAGS)
ifneq ($(SAN),)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
LDFLAGS  += -fsanitize=address,undefined
else
CFLAGS   += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
endif

LIB_SRCS  := $(wildcard lib/*.c)
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB_A     := $(BUILD)/libep.a
TOOLS     := $(patsubst %/main.c,%,$(wildcard */main.c))
TOOL_BINS := $(TOOLS:%=$(BUILD)/bin/%)
HELPERS   := $(patsubst scripts/%.c,$(BUILD)/bin/%,$(wildcard scripts/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
DATA      := $(BUILD)/share/event-processor/event.schema.json

all: $(TOOL_BINS) $(HELPERS) $(UNIT_BINS) $(DATA)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# A tool is a folder: every .c file in it, linked with the library.
define TOOL_RULE
$(BUILD)/bin/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard $(1)/*.c)) $(LIB_A)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) $$(LDLIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call TOOL_RULE,$(t))))

# Helper programs for tests, the demo and benchmarks: one .c file each.
$(HELPERS): $(BUILD)/bin/%: $(BUILD)/scripts/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(UNIT_BINS): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(shell pkg-config --libs cmocka 2>/dev/null) $(LDLIBS)

$(BUILD)/share/event-processor/%: schema/%
	@mkdir -p $(@D)
	cp $< $@

deps:
	@scripts/install-deps.sh

# The whole suite: the normal build, then the same tests under ASan+UBSan,
# then the unit tests under valgrind, then each fuzz target briefly.
test: deps
	$(MAKE) all
	$(MAKE) check
	$(MAKE) all SAN=1
	$(MAKE) check SAN=1
	$(MAKE) valgrind
	$(MAKE) fuzz-short FUZZ_SHORT_SECONDS=10

# Tests run JOBS at a time: most of a black-box test's time is spent
# waiting on servers and timers, not on the CPU. Each has its own ports
# and temporary folder.
JOBS ?= 2
check: all
	BUILD=$(abspath $(BUILD)) CMOCKA_MESSAGE_OUTPUT=TAP \
	  prove -j$(JOBS) --exec '' --timer $(UNIT_BINS) $(sort $(wildcard tests/blackbox/*.t))

# Unit tests under valgrind: no leaks, no invalid accesses.
valgrind: all
	@set -e; for t in $(UNIT_BINS); do \
	  echo "valgrind $$t"; \
	  valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
	    --error-exitcode=1 $$t >/dev/null; done; echo "valgrind: no errors, no leaks"

demo: deps
	$(MAKE) all
	scripts/demo.sh

bench: deps
	$(MAKE) all
	bench/run

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/event-processor
	install -m 755 $(TOOL_BINS) $(BUILD)/bin/kafka-produce $(DESTDIR)$(PREFIX)/bin
	install -m 755 scripts/pipeline.sh $(DESTDIR)$(PREFIX)/bin/ep-pipeline
	install -m 755 scripts/file-source.sh $(DESTDIR)$(PREFIX)/bin/ep-file-source
	install -m 644 schema/*.json $(DESTDIR)$(PREFIX)/share/event-processor
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 man/*.7 $(DESTDIR)$(PREFIX)/share/man/man7

clean:
	rm -rf build

format:
	clang-format -i lib/*.[ch] */main.c tests/unit/*.c scripts/*.c

.PHONY: all deps test check valgrind demo bench install clean format

# Fuzzing (fuzz/README.md): one libFuzzer target per parser of outside
# input, fuzz/fuzz_<name>.c -> $(FUZZ_BUILD)/fuzz_<name>, linked with the
# library compiled again by clang with the same sanitizers ($(LIB_A) is
# gcc's, without libFuzzer's coverage hooks). No -Werror: gcc's warnings are
# the build's; clang's differ. fuzz-short replays fuzz/regressions/ and
# fuzzes each target FUZZ_SHORT_SECONDS; fuzz does it for FUZZ_SECONDS.
# Both run the targets one after another; make -jN runs them side by side.
FUZZ_CC            ?= clang
FUZZ_BUILD         ?= build/fuzz
FUZZ_SECONDS       ?= 300
FUZZ_SHORT_SECONDS ?= 15
FUZZ_CFLAGS        := -std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wshadow \
                      -fsanitize=address,undefined -fno-sanitize-recover=all -MMD -MP -Ilib \
                      -DEP_VERSION='"$(VERSION)"' -DEP_DATADIR='"$(PREFIX)/share/event-processor"' \
                      -DFUZZ_SCHEMA='"$(abspath schema/event.schema.json)"'
FUZZ_NAMES         := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS          := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libep.a: $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_BUILD)/libep.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< $(FUZZ_BUILD)/libep.a \
	  $(PKG_LIBS) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# One target: replay its regressions, then fuzz for FUZZ_TIME seconds from
# its seeds (new inputs kept in $(FUZZ_BUILD)/corpus, crashes written to
# $(FUZZ_BUILD)/crashes, the whole log in $(FUZZ_BUILD)/logs). Fails on a
# crash, a leak, undefined behaviour, a broken invariant or a 10 s hang.
FUZZ_TIME ?= $(FUZZ_SHORT_SECONDS)
fuzz-run-%: $(FUZZ_BUILD)/fuzz_%
	@set -e; t=$*; bin=$(FUZZ_BUILD)/fuzz_$$t; log=$(FUZZ_BUILD)/logs/$$t.log; \
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1; \
	mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/crashes/$$t $(FUZZ_BUILD)/logs; \
	if [ -n "$$(ls fuzz/regressions/$$t 2>/dev/null)" ]; then \
	  $$bin fuzz/regressions/$$t/* >$$log 2>&1 || { tail -n 40 $$log; \
	    echo "fuzz $$t: a regression input of fuzz/regressions/$$t fails (log: $$log)"; exit 1; }; \
	  echo "fuzz $$t: $$(ls fuzz/regressions/$$t | wc -l) regression inputs pass"; \
	fi; \
	dict=; if [ -f fuzz/$$t.dict ]; then dict=-dict=fuzz/$$t.dict; fi; \
	$$bin -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	  $$dict -artifact_prefix=$(FUZZ_BUILD)/crashes/$$t/ \
	  $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t >$$log 2>&1 || { tail -n 60 $$log; \
	  echo "fuzz $$t: FAILED; the input is in $(FUZZ_BUILD)/crashes/$$t/ (log: $$log)."; \
	  echo "Once fixed, keep it as fuzz/regressions/$$t/<name> so that fuzz-short replays it."; \
	  exit 1; }; \
	echo "fuzz $$t: $$(grep -o 'number_of_executed_units: [0-9]*' $$log | grep -o '[0-9]*$$') runs" \
	  "in $(FUZZ_TIME) s, $$(grep -E '^#[0-9]+' $$log | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')"

fuzz-short: fuzz-build
	@$(MAKE) --no-print-directory FUZZ_TIME=$(FUZZ_SHORT_SECONDS) $(FUZZ_NAMES:%=fuzz-run-%)

fuzz: fuzz-build
	@$(MAKE) --no-print-directory FUZZ_TIME=$(FUZZ_SECONDS) $(FUZZ_NAMES:%=fuzz-run-%)

.PHONY: fuzz-build fuzz-short fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------------------
# Packaging: the systemd units, the settings file, the supervisord example
# and the docs beside what `make install` puts in place; a Debian package.
# (deploy/systemd/README.md, debian/, README "Install it like a Debian
# program".)
#   make install-deploy PREFIX=/usr DESTDIR=…   units, examples, docs
#   make deb     build/deb/event-processor_<version>_<arch>.deb, built by
#                dpkg-buildpackage from a copy of the tracked files
# ---------------------------------------------------------------------------
# systemd reads units from /usr/local/lib/systemd/system too, so the same
# rule serves PREFIX=/usr/local; debian/rules names Debian's directory.
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DOCDIR  ?= $(PREFIX)/share/doc/event-processor
UNITS   := $(patsubst deploy/systemd/%.in,%,$(wildcard deploy/systemd/*.service.in))

# What `make install` copies, without the unit tests and helpers of `all`
# (the package builds only this).
tools: $(TOOL_BINS) $(BUILD)/bin/kafka-produce $(DATA)

# The units are templates with @BINDIR@ for where `make install` put the
# tools; their user comes from sysusers.d; deploy/ becomes the docs'
# examples/ folder.
install-deploy:
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR)/examples/systemd \
	  $(DESTDIR)$(DOCDIR)/examples/supervisor $(DESTDIR)$(DOCDIR)/examples/cloudformation
	for u in $(UNITS); do \
	  sed 's|@BINDIR@|$(PREFIX)/bin|g' deploy/systemd/$$u.in > $(DESTDIR)$(UNITDIR)/$$u && \
	  chmod 644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	install -m 644 deploy/systemd/event-processor.sysusers $(DESTDIR)$(SYSUSERSDIR)/event-processor.conf
	install -m 644 README.md $(DESTDIR)$(DOCDIR)
	install -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/docs
	install -m 644 deploy/README.md $(DESTDIR)$(DOCDIR)/examples
	install -m 644 deploy/systemd/README.md deploy/systemd/event-processor.env \
	  $(DESTDIR)$(DOCDIR)/examples/systemd
	install -m 644 deploy/supervisor/README.md deploy/supervisor/*.conf.in \
	  $(DESTDIR)$(DOCDIR)/examples/supervisor
	install -m 755 deploy/supervisor/render.sh $(DESTDIR)$(DOCDIR)/examples/supervisor
	install -m 644 deploy/cloudformation/*.yaml $(DESTDIR)$(DOCDIR)/examples/cloudformation

DEB_OUT ?= build/deb
deb:
	scripts/make-deb.sh $(DEB_OUT)

.PHONY: tools install-deploy deb
