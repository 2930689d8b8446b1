# ringtracker - top-level Makefile.
#
# Out-of-tree builds in build/<variant>/ (release, debug, asan, ubsan) with
# automatic header dependencies. `make` builds the release server and leaves
# it at build/ringtracker.
#
#   make            build/ringtracker (release, jemalloc)
#   make run        install missing packages, build, run with the defaults
#   make test       install, build, fuzz briefly, run a third-party client
#                   against the server, then unit + integration suites, then
#                   the same suites under ASan+UBSan
#   make fuzz       build the libFuzzer harnesses and run each FUZZ_SECONDS
#   make bench      ringtracker vs opentracker vs the ceiling (bench/README.md)
#   make microbench hot-path ns/op (bench/micro.c)
#   make xdp-flood  junk flood with and without the XDP prefilter (root)
#   make format     clang-format every source file
#   make clean

VARIANT ?= release
FUZZ_SECONDS ?= 30
# Extra flags for the server under `make run`, e.g. RUN_ARGS="-c my.ini".
RUN_ARGS ?=

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

PKGS := liburing libsodium inih libbpf
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -luring -lsodium -linih -lbpf) \
	-lelf -lz

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-missing-field-initializers
CFLAGS_COMMON := -std=gnu11 -D_GNU_SOURCE -Iinclude -Ibuild/bpf $(WARN) -g -pthread $(PKG_CFLAGS)
ifneq ($(CI),)
CFLAGS_COMMON += -Werror
endif
ifneq ($(WERROR),)
CFLAGS_COMMON += -Werror
endif

ifeq ($(VARIANT),release)
VFLAGS := -O2 -fno-plt
VLIBS := -ljemalloc
else ifeq ($(VARIANT),debug)
VFLAGS := -O0
VLIBS :=
else ifeq ($(VARIANT),asan)
VFLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
VLIBS :=
else ifeq ($(VARIANT),ubsan)
VFLAGS := -O1 -fsanitize=undefined -fno-sanitize-recover=undefined
VLIBS :=
else
$(error unknown VARIANT=$(VARIANT): use release, debug, asan or ubsan)
endif

B := build/$(VARIANT)
CFLAGS_ALL := $(CFLAGS_COMMON) $(VFLAGS) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) $(VLIBS) -lpthread

SRCS := $(wildcard src/*.c)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
TEST_SRCS := $(wildcard tests/test_*.c) $(wildcard tests/integration/*.c)
TEST_OBJS := $(TEST_SRCS:%.c=$(B)/%.o)

.PHONY: all server tests run test test-suite fuzz fuzz-build bench microbench xdp-flood format clean \
	deps

# Tools beside the server: the load generator and the stateless ceiling
# responder (bench/), and the tracker client (tools/). Each is built from its
# files plus the shared protocol library.
LOAD_SRCS := $(wildcard bench/load*.c)
ECHO_SRCS := $(wildcard bench/ceiling*.c)
CLIENT_SRCS := $(wildcard tools/client*.c)
TOOLS :=
ifneq ($(LOAD_SRCS),)
TOOLS += build/ringtracker-load
endif
ifneq ($(ECHO_SRCS),)
TOOLS += build/ringtracker-ceiling
endif
ifneq ($(CLIENT_SRCS),)
TOOLS += build/ringtracker-client
endif
ifneq ($(wildcard bench/micro.c),)
TOOLS += build/ringtracker-micro
endif
ifneq ($(wildcard bench/flood.c),)
TOOLS += build/ringtracker-flood
endif

ifeq ($(VARIANT),release)
all: build/ringtracker $(TOOLS)
else
all: server
endif

deps:
	@sh tools/install-deps.sh

server: $(B)/ringtracker

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# --- XDP prefilter: BPF objects and their libbpf skeletons (build/bpf/) ---
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=build/bpf/%.skel.h)
BPF_CFLAGS := -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -Ibpf -Wall -Werror
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)

build/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h)
	@mkdir -p build/bpf
	clang $(BPF_CFLAGS) -c $< -o $@

build/bpf/%.skel.h: build/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# Every C object may include a skeleton: generate them first.
$(LIB_OBJS) $(B)/src/main.o $(TEST_OBJS): | $(BPF_SKELS)

$(B)/libringtracker.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/ringtracker: $(B)/src/main.o $(B)/libringtracker.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

# The release server is what users run; other variants stay in their dirs.
build/ringtracker: build/release/ringtracker
	cp $< $@.tmp && mv $@.tmp $@

build/ringtracker-load: $(LOAD_SRCS:%.c=$(B)/%.o) $(B)/libringtracker.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL) -lm

build/ringtracker-ceiling: $(ECHO_SRCS:%.c=$(B)/%.o) $(B)/libringtracker.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

build/ringtracker-client: $(CLIENT_SRCS:%.c=$(B)/%.o) $(B)/libringtracker.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

build/ringtracker-micro: $(B)/bench/micro.o $(B)/bench/load_model.o $(B)/libringtracker.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL) -lm

build/ringtracker-flood: $(B)/bench/flood.o
	$(CC) $(CFLAGS_ALL) -o $@ $^

# One Criterion runner holding every unit and integration suite, so that one
# summary line covers them all.
$(B)/tests/ringtracker-tests: $(TEST_OBJS) $(B)/libringtracker.a
	$(CC) $(CFLAGS_ALL) -o $@ $^ -lcriterion $(LDLIBS_ALL)

tests: $(B)/ringtracker $(B)/tests/ringtracker-tests

# Runs the suites of one variant. Integration tests find the server through
# RINGTRACKER_BIN.
test-suite: tests
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) \
		RINGTRACKER_BIN=$(abspath $(B)/ringtracker) $(B)/tests/ringtracker-tests --jobs 2

# Fuzzing runs first so that Criterion's summary lines close the output.
test: deps
	$(MAKE) VARIANT=release all
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
	sh tests/interop/run.sh build/ringtracker
	$(MAKE) VARIANT=release test-suite
	$(MAKE) VARIANT=asan test-suite

run: deps
	$(MAKE) VARIANT=release all
	./build/ringtracker $(RUN_ARGS)

# --- fuzzing: libFuzzer harnesses built with clang, run when the runtime exists ---
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Iinclude -Ibuild/bpf -g -O1 \
	-fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
HAVE_FUZZER := $(shell echo 'int LLVMFuzzerTestOneInput(const char*d,unsigned long n){(void)d;(void)n;return 0;}' | \
	clang -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null && echo yes)

build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(wildcard include/*.h) | $(BPF_SKELS)
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(PKG_LIBS) -lpthread

fuzz-build: $(FUZZ_BINS)

ifeq ($(HAVE_FUZZER),yes)
fuzz: fuzz-build
	@for f in $(FUZZ_BINS); do \
		name=$${f#build/fuzz/fuzz_}; \
		mkdir -p build/fuzz/corpus-$$name; \
		echo "fuzz: $$f for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			build/fuzz/corpus-$$name tests/fuzz/corpus/$$name 2>build/fuzz/$$name.log \
			|| { tail -40 build/fuzz/$$name.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units' build/fuzz/$$name.log; \
	done
else
fuzz:
	@echo "fuzz: clang's libFuzzer runtime not found (libclang-rt-14-dev); skipped"
endif

# Side-by-side benchmark (bench/run-bench.sh; knobs: RUNS, DURATION, CASES, ...),
# then the junk flood with and without the XDP prefilter (needs root).
bench: deps
	$(MAKE) VARIANT=release all
	bash bench/run-bench.sh
	bash bench/xdp-flood.sh

xdp-flood:
	$(MAKE) VARIANT=release all
	bash bench/xdp-flood.sh

# Hot-path microbenchmarks (not part of make test).
microbench:
	$(MAKE) VARIANT=release all
	taskset -c 1 build/ringtracker-micro

format:
	clang-format -i $(wildcard src/*.c src/*.h include/*.h tests/*.c tests/*.h tests/integration/*.c \
		tests/integration/*.h tests/fuzz/*.c tools/*.c tools/*.h bench/*.c bench/*.h \
		bpf/*.c bpf/*.h)

clean:
	rm -rf build

-include $(wildcard $(B)/src/*.d $(B)/tests/*.d $(B)/tests/integration/*.d $(B)/bench/*.d \
	$(B)/tools/*.d)
