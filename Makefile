# weir — a portable user-space TCP/IP stack with a pure core.
#
#   make            libweir.a, the backends and the apps, in build/
#   make test       install what is missing, build, run every test
#   make demo       install what is missing, build, show weir talking to Linux
#   make fuzz       run the fuzz targets open-ended (FUZZ_TIME seconds each)
#   make fmt        clang-format the tree
#   make clean

B        := build
CC       ?= cc
CLANG    ?= clang
CSTD     := -std=c11
WARN     := -Wall -Wextra -Werror
OPT      ?= -O2 -g
CPPFLAGS := -Icore/include -Icore
CFLAGS   := $(CSTD) $(WARN) $(OPT)

CORE_SRC    := $(sort $(wildcard core/*.c core/wire/*.c core/tcp/*.c))
CORE_HDR    := $(wildcard core/include/weir/*.h core/*.h core/wire/*.h core/tcp/*.h)
BACKEND_SRC := $(sort $(wildcard backends/*.c))
BACKEND_HDR := $(wildcard backends/*.h)
APPS        := echoserver echoclient
APP_COMMON  := $(filter-out $(addprefix apps/,$(addsuffix .c,$(APPS))),$(wildcard apps/*.c))
UNIT_SRC    := $(sort $(wildcard test/unit/*.c)) test/harness/runner.c
UNIT_HDR    := $(wildcard test/harness/*.h test/unit/*.h)
REPLAY_SRC  := $(sort $(wildcard test/replay/*.c))
DRIVER_SRC  := $(sort $(wildcard test/backends/*.c))
TCPS_SRC    := $(sort $(wildcard test/tcp/*.c))
TCPS_HDR    := $(wildcard test/tcp/*.h)
FUZZ_SRC    := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(patsubst test/fuzz/%.c,%,$(FUZZ_SRC))

UV_CFLAGS   := $(shell pkg-config --cflags libuv 2>/dev/null)
UV_LIBS     := $(shell pkg-config --libs libuv 2>/dev/null || echo -luv)
PCAP_CFLAGS := $(shell pkg-config --cflags libpcap 2>/dev/null)
PCAP_LIBS   := $(shell pkg-config --libs libpcap 2>/dev/null || echo -lpcap)
SYS_CFLAGS  := $(CSTD) $(WARN) $(OPT) -D_GNU_SOURCE $(UV_CFLAGS) $(PCAP_CFLAGS)

CORE_OBJ    := $(patsubst %.c,$(B)/obj/%.o,$(CORE_SRC))
BACKEND_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(BACKEND_SRC))
APPC_OBJ    := $(patsubst %.c,$(B)/obj/%.o,$(APP_COMMON))

all: $(B)/libweir.a $(B)/libweir-backends.a $(addprefix $(B)/,$(APPS))

$(B)/obj/core/%.o: core/%.c $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/obj/backends/%.o: backends/%.c $(CORE_HDR) $(BACKEND_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ibackends $(SYS_CFLAGS) -c $< -o $@

$(B)/obj/apps/%.o: apps/%.c $(CORE_HDR) $(BACKEND_HDR) $(wildcard apps/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ibackends -Iapps $(SYS_CFLAGS) -c $< -o $@

$(B)/libweir.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libweir-backends.a: $(BACKEND_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/echoserver $(B)/echoclient: $(B)/%: $(B)/obj/apps/%.o $(APPC_OBJ) $(B)/libweir-backends.a $(B)/libweir.a
	$(CC) $(OPT) -o $@ $^ $(UV_LIBS) $(PCAP_LIBS)

# ---------------------------------------------------------------- tests
# The unit tests need only libc: the same sources build natively, with
# ASan+UBSan, and for two big-endian targets run under qemu-user.
$(B)/test/unit: $(UNIT_SRC) $(UNIT_HDR) $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itest $(CFLAGS) -o $@ $(UNIT_SRC) $(CORE_SRC)

$(B)/test/unit-san: $(UNIT_SRC) $(UNIT_HDR) $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itest $(CSTD) $(WARN) -O1 -g -fno-omit-frame-pointer \
	  -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -o $@ $(UNIT_SRC) $(CORE_SRC)

$(B)/test/unit-mips: $(UNIT_SRC) $(UNIT_HDR) $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	mips-linux-gnu-gcc $(CPPFLAGS) -Itest $(CFLAGS) -o $@ $(UNIT_SRC) $(CORE_SRC)

$(B)/test/unit-s390x: $(UNIT_SRC) $(UNIT_HDR) $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	s390x-linux-gnu-gcc $(CPPFLAGS) -Itest $(CFLAGS) -o $@ $(UNIT_SRC) $(CORE_SRC)

$(B)/test/replay: $(REPLAY_SRC) test/harness/runner.c $(UNIT_HDR) $(B)/libweir.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itest $(SYS_CFLAGS) -o $@ $(REPLAY_SRC) test/harness/runner.c \
	  $(B)/libweir.a $(PCAP_LIBS)

# The scripted TCP tests: a runner that needs only libc, fed the scripts
# in test/tcp/scripts/ (natively and under ASan+UBSan).
$(B)/test/tcpscript: $(TCPS_SRC) $(TCPS_HDR) $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itest $(CFLAGS) -o $@ $(TCPS_SRC) $(CORE_SRC)

$(B)/test/tcpscript-san: $(TCPS_SRC) $(TCPS_HDR) $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itest $(CSTD) $(WARN) -O1 -g -fno-omit-frame-pointer \
	  -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -o $@ $(TCPS_SRC) $(CORE_SRC)

# The driver's tests: the libuv driver over an in-process link.
$(B)/test/driver: $(DRIVER_SRC) test/harness/runner.c $(UNIT_HDR) $(B)/libweir-backends.a $(B)/libweir.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itest -Ibackends $(SYS_CFLAGS) -o $@ $(DRIVER_SRC) \
	  test/harness/runner.c $(B)/libweir-backends.a $(B)/libweir.a $(UV_LIBS) $(PCAP_LIBS)

$(B)/fuzz/%: test/fuzz/%.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CLANG) $(CPPFLAGS) $(CSTD) -O1 -g -fsanitize=fuzzer,address,undefined \
	  -fno-sanitize-recover=all -o $@ $< $(CORE_SRC)

TEST_BINS := $(B)/test/unit $(B)/test/unit-san $(B)/test/unit-mips \
             $(B)/test/unit-s390x $(B)/test/replay \
             $(if $(DRIVER_SRC),$(B)/test/driver) \
             $(if $(TCPS_SRC),$(B)/test/tcpscript $(B)/test/tcpscript-san) \
             $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))

# ---------------------------------------------------------------- bench
# The core's benchmark: two stacks in one process on a virtual clock, libc
# only. -g so that callgrind and perf name functions and lines; make test
# builds it too, for the callgrind regression check (test/perf/).
BENCH_BINS := $(B)/bench/core
TEST_BINS  += $(B)/bench/core

$(B)/bench/core: bench/core.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CSTD) $(WARN) -O2 -g -o $@ bench/core.c $(CORE_SRC)

# ---- bench net
# The helpers of bench/net.sh (weir against Linux over TUN, TAP, raw and
# pcap): the Linux end of the bulk transfers, the request/response
# latency client and server, and the link's own frame rate. They use
# kernel sockets only: libc, and libpcap for linkrate's pcap_inject.
BENCH_NET_BINS := $(B)/bench/netxfer $(B)/bench/rr $(B)/bench/linkrate

$(B)/bench/netxfer $(B)/bench/rr: $(B)/bench/%: bench/%.c bench/tool.h
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 -g -D_GNU_SOURCE -o $@ $<

$(B)/bench/linkrate: bench/linkrate.c bench/tool.h
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) -O2 -g -D_GNU_SOURCE $(PCAP_CFLAGS) -o $@ $< $(PCAP_LIBS)

deps:
	@bash ci/deps.sh

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BINS)
	@bash test/run.sh

# Build, then run only the tests whose name contains T: make check T=arp
check: all $(B)/test/unit
	@$(B)/test/unit $(T)

demo: deps
	@$(MAKE) --no-print-directory all
	@bash apps/demo.sh

# Every benchmark in one run, as one table (build/bench/results.csv and
# results.png); see bench/run.sh. Root for the network part.
bench:
	@bash ci/deps.sh bench
	@$(MAKE) --no-print-directory all $(BENCH_BINS) $(BENCH_NET_BINS)
	@bash bench/run.sh $(B)

FUZZ_TIME ?= 600
fuzz: $(addprefix $(B)/fuzz/,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(B)/fuzz/corpus/$$t test/fuzz/crashes; \
	  $(B)/fuzz/$$t -max_total_time=$(FUZZ_TIME) -artifact_prefix=test/fuzz/crashes/$$t- \
	    $(B)/fuzz/corpus/$$t test/fuzz/corpus/$$t || exit 1; \
	done

FMT_SRC = $(shell find core backends apps test bench -name '*.[ch]' | sort)
fmt:
	clang-format -i $(FMT_SRC)

fmt-check:
	@clang-format --dry-run --Werror $(FMT_SRC) && echo "clang-format: clean"

print-core-objs:
	@echo $(CORE_OBJ)

clean:
	rm -rf $(B)

.PHONY: all deps test check demo bench fuzz fmt fmt-check clean print-core-objs
.SECONDARY:
