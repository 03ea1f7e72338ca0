# Anya: one GNU Makefile, out-of-tree objects under build/.
#   make          build/bin/anya, build/bin/anyad (+ build/lib/libanya.a)
#   make check    build and run every test this machine can run
#   make asan     the tests under AddressSanitizer + UBSan (build/asan/)
#   make fuzz     the libFuzzer targets with clang (build/fuzz/)
#   make bench    the benchmarks (tests/bench/), figures with their references
#   make deps     install the Debian packages (root; idempotent)

BUILD   ?= build
CC      ?= cc
PKGS    := liburing libcrypto libssl libcbor jansson libevent_core libevent_pthreads libevent_openssl libnghttp2 libcurl libprotobuf-c
# Debian's libleveldb-dev ships no .pc file; fall back to plain -lleveldb.
LDLEVEL := $(shell pkg-config --libs leveldb 2>/dev/null || echo -lleveldb)
SAN     ?=

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
# CFLAGS is the user's (optimisation, debug); ALL_CFLAGS adds what the build needs.
CFLAGS  ?= -O2 -g
ALL_CFLAGS := $(CFLAGS) -std=gnu11 $(WARN) -D_GNU_SOURCE -MMD -MP -pthread $(SAN) \
           $(shell pkg-config --cflags $(PKGS)) -Iengine -Inet -I$(BUILD)/gen
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lhttp_parser -lwslay $(LDLEVEL) -lm -pthread $(SAN)
TESTLIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

ENGINE_SRC := $(wildcard engine/*.c engine/dwn/*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
LIB        := $(BUILD)/lib/libanya.a
# fs/: the daemon; its modules (all but anyad.c) are a library the unit tests link too.
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS  := $(shell pkg-config --libs fuse3 2>/dev/null)
FS_SRC     := $(filter-out fs/anyad.c,$(wildcard fs/*.c))
FS_OBJ     := $(FS_SRC:%.c=$(BUILD)/obj/%.o)
FSLIB      := $(BUILD)/lib/libanyafs.a
# net/: the HTTP server and its listeners (later libp2p), a library anyad and the tests link.
NET_SRC    := $(wildcard net/*.c)
# libp2p's protobufs: net/proto/*.proto compiled by protoc-c into $(BUILD)/gen (never committed).
PROTO_SRC  := $(wildcard net/proto/*.proto)
GEN_C      := $(PROTO_SRC:net/proto/%.proto=$(BUILD)/gen/%.pb-c.c)
GEN_H      := $(GEN_C:.c=.h)
NET_OBJ    := $(NET_SRC:%.c=$(BUILD)/obj/%.o) $(GEN_C:$(BUILD)/gen/%.c=$(BUILD)/obj/gen/%.o)
NETLIB     := $(BUILD)/lib/libanyanet.a
TOOLS_SRC  := $(wildcard tools/*.c)
TOOLS_OBJ  := $(TOOLS_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/replay/%)
# Interop checkers: C programs the interop drivers run over vectors made by the JS oracles.
CHECK_SRC  := $(wildcard tests/interop/check_*.c)
CHECK_BIN  := $(CHECK_SRC:tests/interop/%.c=$(BUILD)/interop/%)
# Integration helpers: C programs the integration drivers run (e.g. the POSIX suite).
INTEG_SRC  := $(wildcard tests/integration/*.c)
INTEG_BIN  := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/integration/%)
BENCH_SRC  := $(wildcard tests/bench/*.c)
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

.PHONY: all check asan fuzz bench deps clean tests run
# Keep object files that pattern chains would otherwise delete as intermediates.
.SECONDARY:
all: $(BUILD)/bin/anya $(BUILD)/bin/anyad

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: net/proto/%.proto
	@mkdir -p $(dir $@)
	protoc-c --c_out=$(BUILD)/gen -Inet/proto $<

# Generated code is protoc-c's, built without -Werror's extra warnings.
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -Werror -Wshadow,$(ALL_CFLAGS)) -c $< -o $@

# Anything may include a generated header: generate them first (explicit targets:
# a recipe-less pattern rule would not add the prerequisite).
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard engine/*.c engine/dwn/*.c net/*.c fs/*.c tools/*.c tests/*/*.c)): | $(GEN_H)

$(BUILD)/obj/fs/%.o: fs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUSE_CFLAGS) -Ifs -c $< -o $@

$(BUILD)/obj/tests/unit/test_fs_%.o: tests/unit/test_fs_%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUSE_CFLAGS) -Ifs -c $< -o $@

$(FSLIB): $(FS_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(NETLIB): $(NET_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/anyad: $(BUILD)/obj/fs/anyad.o $(FSLIB) $(NETLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS) $(FUSE_LIBS)

$(LIB): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/anya: $(TOOLS_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(TOOLS_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(FSLIB) $(NETLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(FSLIB) $(NETLIB) $(LIB) $(LDLIBS) $(TESTLIBS)

# Fuzz targets replayed over their corpus by a plain driver (no clang needed).
$(BUILD)/replay/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay_main.o $(NETLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/interop/%: $(BUILD)/obj/tests/interop/%.o $(NETLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/integration/%: $(BUILD)/obj/tests/integration/%.o $(NETLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(NETLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

tests: all $(UNIT_BIN) $(REPLAY_BIN) $(CHECK_BIN) $(INTEG_BIN) $(BENCH_BIN)

check: tests
	tests/run $(BUILD)

# The sanitizer pass looks for memory errors, not endurance: the files/ kill -9
# test runs 5 of its 20 rounds, the big file is 256 MiB.
asan:
	CRASH_ROUNDS=5 FS_BIGFILE_MIB=256 $(MAKE) BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" check

FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/bin/%)
fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined" build/fuzz/lib/libanya.a build/fuzz/lib/libanyanet.a
	$(MAKE) BUILD=build/fuzz CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined" $(FUZZ_BIN)

build/fuzz/bin/%: build/fuzz/obj/tests/fuzz/%.o build/fuzz/lib/libanyanet.a build/fuzz/lib/libanya.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

bench: all $(BENCH_BIN)
	tests/bench/run $(BUILD)

deps:
	tools/install-deps

# The main job: the daemon in the foreground, the filesystem at /mnt/anya (creates
# ~/.anya with the embedded default config if there is none); Ctrl-C unmounts.
run: all
	$(BUILD)/bin/anyad --foreground

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
