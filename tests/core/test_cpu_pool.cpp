// The CPU's worker pool (kernels/cpu/parallel.cpp): how long its idle
// threads spin before they sleep (the wait policy, read as OpenMP reads it),
// that sleeping helpers are woken for every loop, and that loops give the
// same results whether the helpers spin or sleep.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "minidp/kernels/cpu/parallel.h"
#include "minidp/minidp.h"

using namespace minidp;
namespace cpu = minidp::kernels::cpu;

TEST_CASE("cpu pool: the wait policy, from MINIDP_WAIT_POLICY, else OMP_WAIT_POLICY, as OpenMP reads it") {
  CHECK(cpu::spin_microseconds_for(nullptr, nullptr) == 1000);      // unset: spin 1 ms, then sleep
  CHECK(cpu::spin_microseconds_for("passive", nullptr) == 0);       // sleep at once
  CHECK(cpu::spin_microseconds_for("ACTIVE", nullptr) == -1);       // never sleep; any case, as OpenMP
  CHECK(cpu::spin_microseconds_for(nullptr, "Passive") == 0);
  CHECK(cpu::spin_microseconds_for(nullptr, "active") == -1);
  CHECK(cpu::spin_microseconds_for("passive", "active") == 0);      // minidp's own variable first
  CHECK(cpu::spin_microseconds_for("", "active") == -1);            // an empty variable counts as unset
  CHECK(cpu::spin_microseconds_for(nullptr, "sometimes") == 1000);  // OpenMP's variable: not ours to refuse
  try {
    cpu::spin_microseconds_for("fast", nullptr);
    FAIL("MINIDP_WAIT_POLICY=fast was accepted");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find("MINIDP_WAIT_POLICY: unknown policy 'fast'") != std::string::npos);
    CHECK(what.find("expected 'passive'") != std::string::npos);
  }
}

TEST_CASE("cpu pool: more threads than cores spin not at all, unless the policy is active") {
  CHECK(cpu::spin_microseconds_with(1000, 2, 2) == 1000);
  CHECK(cpu::spin_microseconds_with(1000, 1, 16) == 1000);
  CHECK(cpu::spin_microseconds_with(1000, 3, 2) == 0);  // a spinning thread would hold a core another needs
  CHECK(cpu::spin_microseconds_with(0, 1, 2) == 0);
  CHECK(cpu::spin_microseconds_with(-1, 8, 2) == -1);   // active: what the user asked for
}

TEST_CASE("cpu pool: helpers asleep (more threads than cores) are woken for every loop, and the result is the one-thread result") {
  const int prev = cpu::max_threads();
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const std::int64_t n = 1 << 16, grain = 1 << 10, chunks = cpu::num_chunks(n, grain);
  // Each chunk adds its own sum, 200 loops in a row. With more threads than
  // cores the helpers do not spin: they sleep between loops and must be woken.
  // The first chunk of each loop waits (up to 10 s) until a second thread has
  // taken a chunk: a lost wake-up fails here instead of passing on the
  // caller's thread alone.
  auto run = [&](int threads, int& loops_with_help) {
    cpu::set_max_threads(threads);
    std::vector<std::int64_t> out(static_cast<std::size_t>(chunks), 0);
    loops_with_help = 0;
    for (int rep = 0; rep < 200; ++rep) {
      std::atomic<int> started{0};
      std::atomic<bool> first_taken{false};
      cpu::parallel_for(n, grain, [&](std::int64_t lo, std::int64_t hi) {
        started.fetch_add(1);
        if (threads > 1 && !first_taken.exchange(true)) {
          const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          while (started.load() < 2 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
          if (started.load() >= 2) ++loops_with_help;
        }
        std::int64_t sum = 0;
        for (std::int64_t i = lo; i < hi; ++i) sum += i * i % 7;
        out[static_cast<std::size_t>(lo / grain)] += sum;
      });
    }
    return out;
  };
  int helped_one = 0, helped_over = 0;
  const std::vector<std::int64_t> one = run(1, helped_one);
  const std::vector<std::int64_t> over = run(cores + 2, helped_over);
  const char* policy = std::getenv("MINIDP_WAIT_POLICY");
  if (policy == nullptr || *policy == '\0') policy = std::getenv("OMP_WAIT_POLICY");
  const bool active = policy != nullptr && cpu::spin_microseconds_for(nullptr, policy) == -1;
  if (!active) CHECK(cpu::spin_microseconds() == 0);  // the budget above the cores: helpers sleep at once
  cpu::set_max_threads(prev);
  if (!active) CHECK(cpu::spin_microseconds() == 0);  // the pool still holds cores + 1 threads: they do not spin either
  CHECK(helped_over == 200);  // every loop woke a helper
  // Hand-computed: chunk c sums i*i % 7 over its 1,024 values of i, 200 times.
  REQUIRE(one.size() == 64);
  for (std::int64_t c = 0; c < chunks; ++c) {
    std::int64_t sum = 0;
    for (std::int64_t i = c * grain; i < (c + 1) * grain; ++i) sum += i * i % 7;
    CHECK(one[static_cast<std::size_t>(c)] == 200 * sum);
  }
  CHECK(over == one);
}

// Run by ctest with the policy in the environment (tests/scripts/pool_policy.cmake),
// which also says what to expect: MINIDP_TEST_EXPECT_SPIN.
TEST_CASE("cpu pool: spin_microseconds() follows OMP_WAIT_POLICY / MINIDP_WAIT_POLICY in the environment") {
  const char* want = std::getenv("MINIDP_TEST_EXPECT_SPIN");
  if (want == nullptr) {
    MESSAGE("run with a policy and MINIDP_TEST_EXPECT_SPIN in the environment (ctest does: 'core policy |')");
    return;
  }
  cpu::set_max_threads(1);  // within the cores, and no pool grown by another case of this process
  CHECK(cpu::spin_microseconds() == std::atoll(want));
}
