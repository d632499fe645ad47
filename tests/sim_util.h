// tests/sim_util.h — what the simulated-GPU tests share: a gate that holds a
// stream (as a slow kernel would), and shake for a scope.
#pragma once

#include <cstdint>
#include <future>

#include "minidp/core/device.h"
#include "minidp/kernels/sim/runtime.h"

namespace minidp::test {

// Holds a stream: nothing queued on it after block() runs before open().
struct Gate {
  std::promise<void> p;
  std::shared_future<void> f = p.get_future().share();
  void block(const Stream& s) { kernels::sim::enqueue(s.handle, s.device.index, [f = f] { f.wait(); }); }
  void open() { p.set_value(); }
};

// Shake on for a scope (random delays before queued work, NaN in fresh and
// freed memory), as CI runs the sim suites; the previous setting after.
struct Shake {
  std::uint64_t prev = kernels::sim::shake_seed();
  explicit Shake(std::uint64_t seed, int max_delay_us = 100) { kernels::sim::set_shake(seed, max_delay_us); }
  ~Shake() { kernels::sim::set_shake(prev); }
  Shake(const Shake&) = delete;
  Shake& operator=(const Shake&) = delete;
};

}  // namespace minidp::test
