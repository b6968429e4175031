# Event Processor — plain Makefile.
#   make            build every tool into $(BUILD)/bin
#   make test       install missing packages, build, run every test, then again under ASan+UBSan
#   make check      run the tests against what is built (SAN=1 for the sanitizer build)
#   make demo       install, build, run the demo
#   make bench      benchmarks (ratios against a baseline run in the same invocation)
#   make install PREFIX=/usr/local
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
ifneq ($(SAN),)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -O1
LDFLAGS  += -fsanitize=address,undefined
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
# then the unit tests under valgrind.
test: deps
	$(MAKE) all
	$(MAKE) check
	$(MAKE) all SAN=1
	$(MAKE) check SAN=1
	$(MAKE) valgrind

check: all
	BUILD=$(abspath $(BUILD)) CMOCKA_MESSAGE_OUTPUT=TAP \
	  prove --exec '' --timer $(UNIT_BINS) $(sort $(wildcard tests/blackbox/*.t))

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

clean:
	rm -rf build

format:
	clang-format -i lib/*.[ch] */main.c tests/unit/*.c scripts/*.c

.PHONY: all deps test check valgrind demo bench install clean format

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
