# minidp — the two commands a new user needs:
#   make demo   install what is missing, build, train the MLP data-parallel on every device
#   make test   install what is missing, build, run every test
# More: make build | sanitize | fuzz [FUZZ_SECONDS=600] | install PREFIX=... | clean
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PREFIX ?= $(CURDIR)/install
FUZZ_SECONDS ?= 600

.PHONY: deps configure build test demo sanitize fuzz install clean

deps:
	@bash tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > $(BUILD).configure.log 2>&1 || \
	  (cat $(BUILD).configure.log; exit 1)
	@grep -E '^-- minidp' $(BUILD).configure.log || true

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	@$(BUILD)/examples/train_mlp --devices auto --epochs 2

# AddressSanitizer + UndefinedBehaviorSanitizer build of the CPU test suites.
sanitize: deps
	@cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DMINIDP_SANITIZE=ON -DMINIDP_CUDA=OFF \
	  -DMINIDP_BUILD_EXAMPLES=OFF > $(BUILD)-asan.configure.log 2>&1 || (cat $(BUILD)-asan.configure.log; exit 1)
	@cmake --build $(BUILD)-asan -j$(JOBS)
	@cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS) -LE 'gpu|install'

# Every reader of user files under libFuzzer (clang, ASan, UBSan), FUZZ_SECONDS
# each; docs/fuzzing.md. CI runs it for 30 s each.
fuzz: deps
	@bash tools/fuzz.sh $(FUZZ_SECONDS)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD).configure.log $(BUILD)-asan.configure.log build-fuzz build-fuzz.configure.log
