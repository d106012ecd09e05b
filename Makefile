# sasl-oauth: `make install` and `make test` are all a new machine needs.
# Both install missing Debian packages when run as root (scripts/deps.sh).

SHELL        := /bin/bash
CARGO        ?= cargo
LIBDIR       := $(shell pkg-config --variable=libdir libsasl2 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)
PLUGINDIR    ?= $(LIBDIR)/sasl2
BINDIR       ?= /usr/local/bin
DESTDIR      ?=
BUILD        := $(CURDIR)/build
PLUGIN_DIR   := $(BUILD)/plugin
FIXTURES     := $(BUILD)/fixtures

FUZZ_PHONY := fuzz-corpus fuzz-save docs check-interop-doc
.PHONY: $(FUZZ_PHONY) plugin-hooks idp idp-selftest all deps deps-build deps-lint plugin release fixtures header check-header check-links lint unit c-tests e2e test install uninstall demo bench fuzz interop hardening helgrind tsan secrets clean

all: plugin

# What building needs (make install), and what the tests need besides (make test).
deps-build:
	@bash scripts/deps.sh build

deps-lint:
	@bash scripts/deps.sh lint

deps:
	@bash scripts/deps.sh test

# The debug build, copied alone into build/plugin so libsasl2 loads only our plugin from there.
plugin: deps-build
	$(CARGO) build --lib
	@mkdir -p $(PLUGIN_DIR)
	@cp target/debug/libsasloauth.so $(PLUGIN_DIR)/libsasloauth.so

release: deps-build
	$(CARGO) build --release --lib --bins

# The testkit (testkit/) writes them; its binary is copied beside them, where
# the C harness finds it to sign the JWTs it builds (`testkit sign`).
fixtures: deps
	@rm -rf $(FIXTURES)
	$(CARGO) build -q -p testkit
	target/debug/testkit fixtures $(FIXTURES)
	@cp target/debug/testkit $(FIXTURES)/testkit

# Regenerates include/sasl_oauth.h from the Rust sources with cbindgen.
header: deps-build
	SASL_OAUTH_UPDATE_HEADER=1 $(CARGO) test -q --test header

# Fails when the checked-in header differs from what cbindgen generates, or
# when the exports no longer type-check against libsasl2's own typedefs.
check-header: deps-build
	$(CARGO) test -q --test header
	$(MAKE) -C c-tests typecheck

# Every shell script, by shellcheck (warnings and errors; sourced files followed).
SHELL_SCRIPTS := $(wildcard c-tests/e2e/*.sh scripts/*.sh tests/idp/*.sh c-tests/*.sh) .ci/run

lint: deps-lint
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	shellcheck -S warning -x -P SCRIPTDIR $(SHELL_SCRIPTS)

unit: deps-build
	$(CARGO) test

# The plugin must not depend on libsasl2 (it is linked -z defs against libc
# & co only), and must stay mapped after sasl_done (-z nodelete).
check-links: plugin
	@if readelf -d $(PLUGIN_DIR)/libsasloauth.so | grep -q 'libsasl2'; then \
	  echo "not ok - libsasloauth.so links libsasl2: it must not"; exit 1; fi
	@readelf -d $(PLUGIN_DIR)/libsasloauth.so | grep -q 'NODELETE' || \
	  { echo "not ok - libsasloauth.so is not linked with -z nodelete"; exit 1; }
	@echo "ok - libsasloauth.so links no libsasl2 and is NODELETE"

# The plugin with the test-hooks feature (crash injection), in its own target dir.
plugin-hooks: deps-build
	$(CARGO) build --lib --features test-hooks --target-dir target/hooks
	@mkdir -p $(BUILD)/plugin-hooks
	@cp target/hooks/debug/libsasloauth.so $(BUILD)/plugin-hooks/libsasloauth.so

# The test identity provider (npm oidc-provider, pinned by tests/idp/package-lock.json).
idp: deps
	@test -d tests/idp/node_modules/oidc-provider || npm ci --prefix tests/idp --no-audit --no-fund

idp-selftest: idp
	bash tests/idp/selftest.sh

c-tests: plugin fixtures
	$(MAKE) -C c-tests PLUGIN_DIR=$(PLUGIN_DIR) FIXTURES=$(FIXTURES) check

e2e: plugin plugin-hooks fixtures idp
	bash c-tests/e2e/pluginviewer.sh $(PLUGIN_DIR) $(FIXTURES)
	bash c-tests/e2e/cyrus_imapd.sh $(PLUGIN_DIR) $(FIXTURES)
	bash c-tests/e2e/tokenfile.sh $(PLUGIN_DIR) $(BUILD)/plugin-hooks
	bash c-tests/e2e/setuid.sh $(PLUGIN_DIR)
	bash c-tests/e2e/postfix_relay.sh $(PLUGIN_DIR)
	$(MAKE) -C c-tests bin/test_oauth_mechs
	bash c-tests/e2e/cyrus_oauth_mechs.sh $(PLUGIN_DIR) $(FIXTURES)
	$(CARGO) build --bins
	bash c-tests/e2e/tool.sh $(PLUGIN_DIR) $(FIXTURES)
	bash c-tests/e2e/idp_harness.sh $(PLUGIN_DIR)
	bash c-tests/e2e/providers_idp.sh $(PLUGIN_DIR)
	bash c-tests/e2e/cyrus_idp.sh $(PLUGIN_DIR)
	bash c-tests/e2e/imtest.sh $(PLUGIN_DIR)
	bash scripts/bench_imap.sh --smoke $(PLUGIN_DIR) $(FIXTURES)

# Memory (valgrind memcheck), threads (8 at once), a broad hostile corpus, and
# a validator panic that must not cross into C.
hardening: plugin plugin-hooks fixtures
	$(MAKE) -C c-tests PLUGIN_DIR=$(PLUGIN_DIR) HOOKS_DIR=$(BUILD)/plugin-hooks FIXTURES=$(FIXTURES) forged_tokens threads panic memcheck

# helgrind over the threads test. Not in make test: helgrind cannot see Rust's
# futex-based locks and atomics, so its reports need a triage (c-tests/memcheck.sh)
# whose verdict depends on scheduling; ThreadSanitizer (make tsan) is the verdict.
helgrind: plugin fixtures
	$(MAKE) -C c-tests PLUGIN_DIR=$(PLUGIN_DIR) FIXTURES=$(FIXTURES) helgrind

# ThreadSanitizer over the threads test (needs the rust-src component; not in make test).
tsan: plugin fixtures
	$(MAKE) -C c-tests PLUGIN_DIR=$(PLUGIN_DIR) FIXTURES=$(FIXTURES) tsan

# Every log line and error detail the suites produced, scanned for the tokens
# and secrets they used. No fixtures prerequisite: that would mint new tokens.
TEST_LOGDIR := $(BUILD)/test-logs
secrets:
	$(MAKE) -C c-tests FIXTURES=$(FIXTURES) LOGDIR=$(TEST_LOGDIR) secrets

test: deps lint unit check-header check-links
	@rm -rf $(TEST_LOGDIR)
	SASL_OAUTH_TEST_LOGDIR=$(TEST_LOGDIR) $(MAKE) c-tests hardening idp-selftest e2e interop
	$(MAKE) check-interop-doc
	$(MAKE) secrets
	@echo "make test: all suites passed"

install: release
	install -d $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(BINDIR)
	install -s -m 0644 target/release/libsasloauth.so $(DESTDIR)$(PLUGINDIR)/libsasloauth.so
	install -s -m 0755 target/release/sasl-oauth $(DESTDIR)$(BINDIR)/sasl-oauth
	@echo "installed $(DESTDIR)$(PLUGINDIR)/libsasloauth.so and $(DESTDIR)$(BINDIR)/sasl-oauth"
	@echo "check with: saslpluginviewer -c -m OAUTHBEARER"

uninstall:
	rm -f $(DESTDIR)$(PLUGINDIR)/libsasloauth.so $(DESTDIR)$(BINDIR)/sasl-oauth

demo: deps plugin
	bash scripts/demo.sh $(PLUGIN_DIR)

# The interoperability matrix (real servers and clients), written to
# build/interop.md; check-interop-doc fails when docs/interop.md no longer says
# the same (the run's date, commit and duration aside): `make docs` updates it.
# Tests write only under build/, so make test leaves git status clean.
interop: plugin fixtures idp
	bash c-tests/e2e/interop.sh $(PLUGIN_DIR) $(FIXTURES) $(BUILD)/interop.md

INTEROP_SAME := sed -E -e '/^Run on /{N;d}' -e 's/ in [0-9]+ s\.$$/./'
check-interop-doc:
	@diff <($(INTEROP_SAME) docs/interop.md) <($(INTEROP_SAME) $(BUILD)/interop.md) >/dev/null || \
	  { diff <($(INTEROP_SAME) docs/interop.md) <($(INTEROP_SAME) $(BUILD)/interop.md); \
	    echo "not ok - docs/interop.md differs from this run's matrix: run make docs and commit it"; exit 1; }
	@echo "ok - docs/interop.md says what this run found"

docs: interop
	cp $(BUILD)/interop.md docs/interop.md

# Fuzzing (cargo-fuzz, libFuzzer; sanitizers need nightly features, enabled on
# the stable toolchain by RUSTC_BOOTSTRAP=1; SASL_OAUTH_FUZZ=1 tells build.rs to
# drop -z defs, since the sanitizer runtime's symbols come from the executable): every target for FUZZ_SECONDS on the corpus kept in git as
# one archive (fuzz/corpus.tar.xz), unpacked under build/; then the corpus is
# minimised there. An input slower than 10 s is a failure (-timeout). A crash
# stops the run and leaves its input in fuzz/artifacts/TARGET/ (turn it into a
# regression test). `make fuzz-save` writes the grown corpus back into the archive.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS := gs2 kv oauthbearer xoauth2 oauth10a http_oauth client_challenge jwt token_file introspection server_exchange token_flows
FUZZ_ENV := SASL_OAUTH_FUZZ=1 RUSTC_BOOTSTRAP=1
FUZZ_CORPUS := $(BUILD)/fuzz-corpus
# The archive is deterministic (sorted, no owners or times), so an unchanged
# corpus writes the same bytes.
FUZZ_TAR := tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner

fuzz-corpus:
	@if [ ! -d $(FUZZ_CORPUS) ]; then mkdir -p $(FUZZ_CORPUS) && tar -C $(FUZZ_CORPUS) -xJf fuzz/corpus.tar.xz --strip-components=1; fi
	@for t in $(FUZZ_TARGETS); do mkdir -p $(FUZZ_CORPUS)/$$t; done

fuzz: fuzz-corpus
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && $(FUZZ_ENV) $(CARGO) fuzz build -O
	@set -e; cd fuzz; for t in $(FUZZ_TARGETS); do \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_ENV) $(CARGO) fuzz run -O $$t $(FUZZ_CORPUS)/$$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=70000 -timeout=10 2>&1 | grep -E '^(Done|SUMMARY)|panicked|timeout' ; \
	  test "$${PIPESTATUS[0]}" -eq 0; \
	  $(FUZZ_ENV) $(CARGO) fuzz cmin -O $$t $(FUZZ_CORPUS)/$$t >/dev/null 2>&1; \
	done

fuzz-save: fuzz-corpus
	@rm -rf $(BUILD)/fuzz-pack && mkdir -p $(BUILD)/fuzz-pack && cp -r $(FUZZ_CORPUS) $(BUILD)/fuzz-pack/corpus
	$(FUZZ_TAR) -C $(BUILD)/fuzz-pack -cJf fuzz/corpus.tar.xz corpus
	@rm -rf $(BUILD)/fuzz-pack
	@echo "fuzz/corpus.tar.xz: $$(tar -tJf fuzz/corpus.tar.xz | grep -vc '/$$') inputs"

# Handshake cost and memory against libsasl2's own ANONYMOUS and PLAIN (docs/benchmarks.md).
bench: release fixtures idp
	bash scripts/bench.sh
	bash scripts/bench_introspection.sh | tee build/bench/introspection.md
	bash scripts/bench_imap.sh

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
	$(MAKE) -C c-tests clean
