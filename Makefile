# Thin wrapper over meson + ninja. `make run` and `make test` are the two
# quick-start commands; both install missing Debian packages first.
BUILD      ?= build
BUILD_ASAN ?= build-asan
MESON_OPTS ?=
PYTHON     ?= /usr/bin/python3

.PHONY: all deps build asan test run bench clean format

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

run: build
	$(BUILD)/portiso-agent $(ARGS)

bench: build
	$(PYTHON) bench/run.py --build $(BUILD) $(BENCH_ARGS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
