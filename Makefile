# Thin wrapper over meson + ninja. `make run` and `make test` are the two
# quick-start commands; both install missing Debian packages first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
MESON_OPTS ?=
PYTHON     ?= /usr/bin/python3
DEB_DIR    ?= build-deb

.PHONY: all deps build asan test stress run bench deb clean format

all: build

deps:
	@./scripts/deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) --buildtype=debugoptimized $(MESON_OPTS)

$(BUILD_ASAN)/build.ninja: | deps
	meson setup $(BUILD_ASAN) --buildtype=debug -Db_sanitize=address,undefined \
		-Db_lundef=false $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

asan: deps $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)

test: build asan
	$(PYTHON) tests/run.py --build $(BUILD) --asan-build $(BUILD_ASAN) $(TESTS)

# The crash harness for longer: STRESS_ROUNDS rounds per build.
STRESS_ROUNDS ?= 500
stress: build asan
	PORTISO_CRASH_ROUNDS=$(STRESS_ROUNDS) PORTISO_MODULE_TIMEOUT=7200 $(PYTHON) tests/run.py --build $(BUILD) \
		--asan-build $(BUILD_ASAN) test_crash

run: build
	$(BUILD)/portiso-agent $(ARGS)

bench: build
	$(PYTHON) bench/run.py --build $(BUILD) $(BENCH_ARGS)

# The Debian package, built with dpkg-buildpackage from a copy of the tree
# (tracked and new files, nothing ignored) so that nothing lands beside the
# work tree: $(DEB_DIR)/portiso_<version>_<arch>.deb.
deb: deps
	@v=$$(dpkg-parsechangelog -S Version); m=$$(meson introspect --projectinfo meson.build 2>/dev/null | \
		$(PYTHON) -c 'import json,sys; print(json.load(sys.stdin)["version"])'); \
	if [ "$$v" != "$$m" ]; then \
		echo "deb: debian/changelog says $$v, meson.build says $$m" >&2; exit 1; fi; \
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/portiso-$$v && \
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
		tar --null -T - -cf - | tar -xf - -C $(DEB_DIR)/portiso-$$v && \
	cd $(DEB_DIR)/portiso-$$v && dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
		{ tail -40 ../build.log >&2; exit 1; }; \
	ls $(abspath $(DEB_DIR))/portiso_*.deb

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(DEB_DIR)
