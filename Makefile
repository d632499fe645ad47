# minidp — the two commands a new user needs:
#   make demo   install what is missing, build, train the MLP data-parallel on every device
#   make test   install what is missing, build, run every test
#   make lab N  build YOUR labs/N-*/exercise.cpp, run its tests, then train with it in minidp's place
# More: make build | pictures | sanitize | tsan | fuzz [FUZZ_SECONDS=600] | install PREFIX=... | clean
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
PREFIX ?= $(CURDIR)/install
FUZZ_SECONDS ?= 600
FUZZ_BUILD ?= build-fuzz
# A Python with matplotlib (Debian's, which make deps installs it into, before another on the PATH).
PYTHON_PLOT ?= $(shell for p in /usr/bin/python3 python3; do $$p -c 'import matplotlib' 2>/dev/null && echo $$p && break; done)

# Ninja when it is there (it schedules the whole tree at once and decides what
# to rebuild faster); a build folder keeps the generator it was made with.
generator = $(if $(wildcard $(1)/CMakeCache.txt),,$(if $(shell command -v ninja),-G Ninja))

.PHONY: deps configure build test demo pictures lab sanitize sanitize-build tsan tsan-build fuzz install clean

# `make lab 2`: the words after `lab` are the lab's number, not targets.
ifeq (lab,$(firstword $(MAKECMDGOALS)))
  LAB := $(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))
  $(eval $(LAB):;@:)
endif

deps:
	@bash tools/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) $(call generator,$(BUILD)) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > $(BUILD).configure.log 2>&1 || \
	  (cat $(BUILD).configure.log; exit 1)
	@grep -E '^-- minidp' $(BUILD).configure.log || true

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The library and the one program the demo runs, nothing else (make test builds the rest).
demo: configure
	@cmake --build $(BUILD) -j$(JOBS) --target train_mlp
	@$(BUILD)/examples/train_mlp --devices auto --epochs 2

# The walkthrough's pictures (docs/images/), drawn from one real train_mlp --explain step.
pictures: configure
	@cmake --build $(BUILD) -j$(JOBS) --target train_mlp
	@$(PYTHON_PLOT) tools/draw_pictures.py --train-mlp $(BUILD)/examples/train_mlp

# One lab (labs/README.md): builds only what the lab needs.
lab: configure
	@BUILD=$(BUILD) bash labs/run.sh $(LAB)

# AddressSanitizer + UndefinedBehaviorSanitizer build of the CPU test suites
# (sanitize-build only builds them), with clang at -O1: the same build also
# has libFuzzer's coverage and the fuzz harnesses, so that CI fuzzes on it
# (make fuzz FUZZ_BUILD=$(BUILD)-asan) instead of compiling everything once
# more (docs/build.md). A folder made by an older g++ configuration is made anew.
sanitize-build: deps
	@grep -qs '^CMAKE_CXX_COMPILER:.*clang' $(BUILD)-asan/CMakeCache.txt || rm -rf $(BUILD)-asan
	@CC=clang CXX=clang++ cmake -S . -B $(BUILD)-asan $(call generator,$(BUILD)-asan) -DCMAKE_BUILD_TYPE=Debug \
	  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -gline-tables-only" -DMINIDP_SANITIZE=ON -DMINIDP_FUZZ=ON -DMINIDP_CUDA=OFF \
	  -DMINIDP_BUILD_EXAMPLES=OFF > $(BUILD)-asan.configure.log 2>&1 || (cat $(BUILD)-asan.configure.log; exit 1)
	@cmake --build $(BUILD)-asan -j$(JOBS)
sanitize: sanitize-build
	@cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS) -LE 'gpu|install'

# ThreadSanitizer build (clang, -O1, line tables for the reports) of the in-process suites: tensors and autograd, the
# CPU worker pool, DataParallel with 1-4 CPU replicas, the communicators and
# the watchdog, the data loader's prefetch thread (the nn suite). No MPI (one
# process), no CUDA, Eigen's GEMM (instrumented, unlike OpenBLAS), the
# reference convolutions (oneDNN and its OpenMP runtime are not instrumented).
tsan-build: deps
	@grep -qs '^CMAKE_CXX_COMPILER:.*clang' $(BUILD)-tsan/CMakeCache.txt || rm -rf $(BUILD)-tsan
	@CC=clang CXX=clang++ cmake -S . -B $(BUILD)-tsan $(call generator,$(BUILD)-tsan) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" -DMINIDP_TSAN=ON \
	  -DMINIDP_CUDA=OFF -DMINIDP_MPI=OFF -DMINIDP_OPENBLAS=OFF -DMINIDP_ONEDNN=OFF -DMINIDP_BUILD_EXAMPLES=OFF \
	  > $(BUILD)-tsan.configure.log 2>&1 || (cat $(BUILD)-tsan.configure.log; exit 1)
	@cmake --build $(BUILD)-tsan -j$(JOBS) --target test_core test_nn test_parallel test_distributed safetensors_compat
tsan: tsan-build
	@cd $(BUILD)-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  ctest --output-on-failure -j$(JOBS) -L 'core|nn|parallel|distributed' -E 'fuzz|install|tools'

# Every reader of user files under libFuzzer (clang, ASan, UBSan), FUZZ_SECONDS
# each; docs/reliability.md. CI runs it for 15 s each.
fuzz: deps
	@FUZZ_BUILD=$(FUZZ_BUILD) bash tools/fuzz.sh $(FUZZ_SECONDS)

install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD).configure.log $(BUILD)-asan.configure.log \
	  $(BUILD)-tsan.configure.log $(FUZZ_BUILD) $(FUZZ_BUILD).configure.log
