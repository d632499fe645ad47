// The CPU's worker pool (kernels/cpu/parallel.cpp): how long its idle
// threads spin before they sleep (the wait policy, as OpenMP's), and that
// loops give the same results whether the helpers spin or sleep.
#include <doctest/doctest.h>

#include <atomic>
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

TEST_CASE("cpu pool: a loop's result is the same with sleeping helpers (more threads than cores) as on one thread") {
  const int prev = cpu::max_threads();
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // Each chunk writes its own sums; the loop runs 200 times so that helpers
  // go to sleep between loops and must be woken.
  const std::int64_t n = 1 << 16, grain = 1 << 10;
  auto run = [&](int threads) {
    cpu::set_max_threads(threads);
    std::vector<std::int64_t> out(static_cast<std::size_t>(cpu::num_chunks(n, grain)), 0);
    for (int rep = 0; rep < 200; ++rep)
      cpu::parallel_for(n, grain, [&](std::int64_t lo, std::int64_t hi) {
        std::int64_t s = 0;
        for (std::int64_t i = lo; i < hi; ++i) s += i * i % 7;
        out[static_cast<std::size_t>(lo / grain)] += s;
      });
    return out;
  };
  const std::vector<std::int64_t> one = run(1);
  const std::vector<std::int64_t> over = run(cores + 2);
  const char* policy = std::getenv("MINIDP_WAIT_POLICY");
  if (policy == nullptr || *policy == '\0') policy = std::getenv("OMP_WAIT_POLICY");
  const bool active = policy != nullptr && cpu::spin_microseconds_for(nullptr, policy) == -1;
  if (!active) CHECK(cpu::spin_microseconds() == 0);  // the budget above the cores: helpers sleep at once
  cpu::set_max_threads(prev);
  // Hand-computed: chunk c sums i*i % 7 over its 1,024 values of i, 200 times.
  REQUIRE(one.size() == 64);
  std::int64_t first = 0;
  for (std::int64_t i = 0; i < grain; ++i) first += i * i % 7;
  CHECK(one[0] == 200 * first);
  CHECK(over == one);
}
