# pgpitr build. `make` builds build/pgpitr; `make check` runs every test (unit + integration,
# then the same under ASan/UBSan); `make bench` prints benchmark figures.
# Sources are found by wildcard so adding a module needs no edit here.

# The archive module (src/module/, docs/archive-module.md) is built with PGXS against
# PostgreSQL 15 (postgresql-server-dev-15); `make` builds it too when PGXS is there.
PG_CONFIG ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
PGXS_MK := $(wildcard $(shell $(PG_CONFIG) --pgxs 2>/dev/null))

# Installation directories (`make install PREFIX=/usr DESTDIR=/tmp/stage`; docs/install.md).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/pgpitr
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
CC ?= cc
# Linked: what archive-push/get need. Headers only: libpq and libarchive are dlopen'ed by
# soname where they are used (src/pg/libpq_lazy.h, src/pg/libarchive_lazy.h), because loading
# them and what they pull in costs ~8 ms per process start, paid once per WAL segment;
# libcurl too (src/storage/s3.c loads it on the first S3 repository opened), and ISA-L
# (libisal: CRC-32C for backup, src/pipe/crc32c.c). --as-needed drops any library nothing
# references.
PKGS := libzstd liblz4 libcrypto jansson inih expat libmicrohttpd
LAZY_PKGS := libpq libarchive libcurl libisal
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(LAZY_PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lpthread -ldl
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
# -fPIC: the same objects also make the archive module (make module); with
# -fno-semantic-interposition the code is what -fPIE gives the executable.
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -fPIC -fno-semantic-interposition $(WARN) $(PKG_CFLAGS) -DPGPITR_VERSION='"$(VERSION)"'
OPT ?= -O2 -g

B ?= build
ALL_MODULE := $(if $(and $(PGXS_MK),$(filter build,$(B))),$(B)/module/pgpitr.so)
SAN_FLAGS :=
ifeq ($(B),build/asan)
# float-cast-overflow is not part of "undefined" in GCC: a double out of an integer's range
# (a tampered number read from the repository) converted to it is undefined all the same.
SAN_FLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT := -O1 -g
endif
# The libFuzzer build (make fuzz-build): the same sources compiled again with clang, instrumented
# for coverage (fuzzer-no-link) and checked by ASan/UBSan; only the harnesses link libFuzzer.
FUZZ_CC ?= clang
ifeq ($(B),build/fuzz)
CC := $(FUZZ_CC)
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
OPT := -O1 -g
endif
CFLAGS_ALL := $(BASE_CFLAGS) $(OPT) $(SAN_FLAGS) $(CPPFLAGS) $(CFLAGS)
LDFLAGS_ALL := -Wl,--as-needed $(SAN_FLAGS) $(LDFLAGS)

LIB_SRC := $(sort $(wildcard src/common/*.c src/storage/*.c src/crypto/*.c src/pipe/*.c src/pg/*.c src/repo/*.c src/archive/*.c src/backup/*.c src/restore/*.c src/drill/*.c src/serve/*.c src/cmd/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_NAMES := $(patsubst tests/unit/test_%.c,%,$(UNIT_SRC))
# fx_*.c: fixtures shared by several suites (fabricated repositories, ...)
UNIT_FX := $(sort $(wildcard tests/unit/fx_*.c))
UNIT_OBJ := $(UNIT_SRC:%.c=$(B)/obj/%.o) $(UNIT_FX:%.c=$(B)/obj/%.o) $(B)/obj/tests/unit/run_unit.o
# One libFuzzer harness per tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/corpus/<name>/.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 120
FUZZ_JOBS ?= 2
FUZZ ?=

.PHONY: all module install-module check check-layout check-prometheus check-unit check-integration check-s3 check-encrypted check-valgrind asan check-asan fuzz fuzz-build bench \
        demo install uninstall man deb check-packaging clean deps
all: $(B)/pgpitr $(B)/man/.stamp $(ALL_MODULE)

deps:
	contrib/install-deps.sh

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(B)/libpgpitr.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/pgpitr: $(B)/obj/src/main.o $(B)/libpgpitr.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# The archive module: module_push.o and libpgpitr.a from this build, module_pg.c by PGXS
# (src/module/Makefile) in $(B)/module. Not in the sanitizer builds: the server would need
# their runtimes.
module: $(B)/module/pgpitr.so
MODULE_OBJ := $(B)/obj/src/module/module_push.o
$(B)/module/pgpitr.so: $(MODULE_OBJ) $(B)/libpgpitr.a src/module/module_pg.c src/module/Makefile \
		src/module/exports.map include/pgpitr/module/module_push.h include/pgpitr/common/log.h
	@test -n "$(PGXS_MK)" || { echo "make module: no PGXS (install postgresql-server-dev-15: make deps)" >&2; exit 1; }
	@mkdir -p $(B)/module
	@rm -f $@   # PGXS knows nothing of the objects above: link again whenever they changed
	$(MAKE) -C $(B)/module with_llvm=no -f $(abspath src/module/Makefile) VPATH=$(abspath src/module) \
	  PG_CONFIG=$(PG_CONFIG) TOP=$(abspath .) \
	  PGPITR_OBJS="$(abspath $(MODULE_OBJ)) $(abspath $(B)/libpgpitr.a)" PGPITR_LIBS="$(PKG_LIBS)"

# The unit runner includes a generated list of suites, one per tests/unit/test_<name>.c.
$(B)/unit_suites.h: $(UNIT_SRC)
	@mkdir -p $(B)
	@printf '%s\n' $(foreach n,$(UNIT_NAMES),'UNIT_SUITE($(n))') > $@.tmp && \
	  (cmp -s $@.tmp $@ || mv $@.tmp $@); rm -f $@.tmp

$(B)/obj/tests/unit/run_unit.o: tests/unit/run_unit.c $(B)/unit_suites.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -I$(B) -MMD -MP -c $< -o $@

$(B)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

# The unit tests link libarchive itself: they write the tar archives the reader is fed.
$(B)/unit_tests: $(UNIT_OBJ) $(B)/libpgpitr.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS) $(shell pkg-config --libs libarchive)

# Each suite in its own process, one per core (tests/unit/run-parallel.sh).
check-unit: $(B)/unit_tests $(B)/pgpitr
	tests/unit/run-parallel.sh $(B)/unit_tests

# Includes only down the allowed calls, unique basenames, files <= 800 lines, functions <= 80
# (docs/architecture.md).
check-layout:
	tests/check-layout.sh

# The unit tests under valgrind (memcheck): Check forks every test and valgrind follows the
# forks, so an error or a definite leak makes that test's process exit 99 and the test fail.
check-valgrind: $(B)/unit_tests
	tests/unit/run-parallel.sh $(B)/unit_tests env CK_TIMEOUT_MULTIPLIER=10 valgrind -q \
	  --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect

# contrib/prometheus (promtool check and test rules) and contrib/grafana against the metric
# names a real `pgpitr metrics` writes (tests/check-prometheus.sh)
check-prometheus: $(B)/pgpitr
	PGPITR_BIN=$(abspath $(B)/pgpitr) tests/check-prometheus.sh

check-integration: $(B)/pgpitr
	PGPITR_BIN=$(abspath $(B)/pgpitr) tests/integration/run.sh

# the whole integration suite against an S3 repository on the local S3 test server, then over
# TLS (CI runs a subset of it: tests/run-all.sh)
check-s3: $(B)/pgpitr
	PGPITR_IT_REPO_KIND=s3 PGPITR_BIN=$(abspath $(B)/pgpitr) tests/integration/run.sh
	PGPITR_IT_REPO_KIND=s3-tls PGPITR_BIN=$(abspath $(B)/pgpitr) tests/integration/run.sh

# the whole integration suite with every repository encrypted (docs/encryption.md), on a
# local repository and then on S3 (CI runs a subset of it: tests/run-all.sh, enc_stage)
check-encrypted: $(B)/pgpitr
	PGPITR_IT_ENCRYPT=1 PGPITR_BIN=$(abspath $(B)/pgpitr) tests/integration/run.sh
	PGPITR_IT_ENCRYPT=1 PGPITR_IT_REPO_KIND=s3 PGPITR_BIN=$(abspath $(B)/pgpitr) tests/integration/run.sh

check:
	tests/run-all.sh

asan:
	$(MAKE) B=build/asan build/asan/pgpitr build/asan/unit_tests

check-asan: asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  tests/unit/run-parallel.sh build/asan/unit_tests
	PGPITR_BIN=$(abspath build/asan/pgpitr) tests/integration/run.sh

# Harnesses link the instrumented library; -fsanitize=fuzzer adds libFuzzer's main.
$(B)/fuzz_%: $(B)/obj/tests/fuzz/fuzz_%.o $(B)/libpgpitr.a
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS)
.SECONDARY: $(FUZZ_SRC:%.c=$(B)/obj/%.o)

fuzz-build:
	$(MAKE) B=build/fuzz $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

# Runs every harness (or those named in FUZZ) for FUZZ_SECONDS each, FUZZ_JOBS at a time, on a
# working corpus in build/fuzz/corpus (the checked-in seeds are only read); exits non-zero on a
# crash, naming the reproducer. FUZZ_SECONDS=0 only replays the seeds.
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh $(FUZZ)

# tests/tools/chunkstat.c: what chunked storage would store between two snapshots of a data
# directory, per chunk size (tests/bench/chunk-size.sh); a bench tool, not part of pgpitr.
$(B)/chunkstat: tests/tools/chunkstat.c
	@mkdir -p $(B)
	$(CC) $(BASE_CFLAGS) $(OPT) -o $@ $< $(shell pkg-config --libs libcrypto libzstd)

# The memory benchmark's generator of big manifests (tests/tools/gen-manifest.c).
$(B)/gen-manifest: $(B)/obj/tests/tools/gen-manifest.o $(B)/libpgpitr.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# The encryption filters' throughput beside SHA-256 and zstd (tests/tools/cryptobench.c).
$(B)/cryptobench: $(B)/obj/tests/tools/cryptobench.o $(B)/libpgpitr.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

bench: $(B)/pgpitr $(B)/chunkstat $(B)/gen-manifest $(B)/cryptobench $(ALL_MODULE)
	PGPITR_BIN=$(abspath $(B)/pgpitr) CHUNKSTAT_BIN=$(abspath $(B)/chunkstat) \
	  GEN_MANIFEST_BIN=$(abspath $(B)/gen-manifest) CRYPTOBENCH_BIN=$(abspath $(B)/cryptobench) \
	  tests/bench/run.sh

demo: $(B)/pgpitr
	PGPITR_BIN=$(abspath $(B)/pgpitr) contrib/demo.sh

# The manual pages, written from the command and option tables by a build tool linked with the
# library (man/mangen.c, src/cmd/cmd_man.c): pgpitr(1), pgpitr-COMMAND(1), pgpitr.conf(5), and
# the example configuration file with every key.
# Rewritten whole (a removed command leaves no page behind). The pages' date is the last
# commit's, so that a rebuild gives the same pages.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
$(B)/pgpitr-mangen: $(B)/obj/man/mangen.o $(B)/libpgpitr.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(B)/man/.stamp: $(B)/pgpitr-mangen
	rm -rf $(B)/man && mkdir -p $(B)/man
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(B)/pgpitr-mangen $(B)/man
	@touch $@

man: $(B)/man/.stamp

# The binary, the manual pages, every unit of systemd/ (ExecStart= pointed at BINDIR), the
# tmpfiles.d entry that creates the repository directory, the example configuration (written
# from the option table) and the documentation. Nothing is listed by name: a new command's page or a new unit is picked up.
DOCS := README.md $(wildcard docs/*.md docs/*.json docs/*.yaml)
install: $(B)/pgpitr $(B)/man/.stamp
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(B)/pgpitr $(DESTDIR)$(BINDIR)/pgpitr
	install -m 0644 $(B)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(B)/man/*.5 $(DESTDIR)$(MANDIR)/man5/
	for u in systemd/*.service systemd/*.timer; do \
	  sed 's|/usr/local/bin/pgpitr|$(BINDIR)/pgpitr|g' "$$u" >"$(DESTDIR)$(SYSTEMDUNITDIR)/$${u#systemd/}" && \
	  chmod 0644 "$(DESTDIR)$(SYSTEMDUNITDIR)/$${u#systemd/}" || exit 1; \
	done
	install -m 0644 contrib/pgpitr.tmpfiles $(DESTDIR)$(TMPFILESDIR)/pgpitr.conf
	install -m 0644 $(B)/man/pgpitr.conf.example $(DESTDIR)$(DOCDIR)/examples/pgpitr.conf.example
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/

# The archive module into PostgreSQL 15's library directory (`archive_library = 'pgpitr'`),
# apart from `install` because that directory is PostgreSQL's, not under PREFIX; the Debian
# package runs it (contrib/debian/rules).
install-module: $(B)/module/pgpitr.so
	install -D -m 0755 $(B)/module/pgpitr.so $(DESTDIR)$(shell $(PG_CONFIG) --pkglibdir)/pgpitr.so

# Removes what install put there (the pages and units by the names this tree has).
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/pgpitr $(DESTDIR)$(TMPFILESDIR)/pgpitr.conf
	rm -f $(DESTDIR)$(MANDIR)/man1/pgpitr.1 $(DESTDIR)$(MANDIR)/man1/pgpitr-*.1 \
	  $(DESTDIR)$(MANDIR)/man5/pgpitr.conf.5
	for u in systemd/*.service systemd/*.timer; do rm -f "$(DESTDIR)$(SYSTEMDUNITDIR)/$${u#systemd/}"; done
	rm -rf $(DESTDIR)$(DOCDIR)

# A Debian package of this tree in build/deb/ (contrib/debian/, docs/install.md).
deb:
	contrib/make-deb.sh

# make install into a temporary prefix, the manual pages under mandoc -Tlint, every unit under
# systemd-analyze verify and security, and the hardening every unit must have (docs/install.md).
check-packaging: $(B)/pgpitr $(B)/man/.stamp
	tests/packaging/check-install.sh

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
