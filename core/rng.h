// minidp/core/rng.h — counter-based random numbers (Philox4x32-10).
//
// A Philox generator is a pure function of (key, counter): element i of a
// random tensor is computed from (seed, offset + i) alone, with no hidden
// sequential state. So the same seed gives the same numbers on the CPU and on
// a GPU, however many threads or replicas share the work — the property that
// lets a data-parallel run reproduce a single-device run. A Generator only
// remembers the seed and how many counters it has handed out.
//
//   Generator g(42);
//   Tensor a = rand({3}, {}, &g);      // counters 0..3
//   Tensor b = rand({3}, {}, &g);      // counters 4..7, different numbers
//   manual_seed(7);                    // reseed the default generator
#pragma once

#include <array>
#include <cstdint>

namespace minidp {

// One Philox4x32-10 block: 4 random 32-bit words from a 128-bit counter and a 64-bit key.
// Usable on the host and (compiled by nvcc) on the device.
#if defined(__CUDACC__)
#define MINIDP_HOST_DEVICE __host__ __device__
#else
#define MINIDP_HOST_DEVICE
#endif

struct PhiloxBlock {
  std::uint32_t v[4];
};

MINIDP_HOST_DEVICE inline PhiloxBlock philox4x32_10(std::uint64_t counter_lo, std::uint64_t counter_hi,
                                                     std::uint64_t key) {
  std::uint32_t c0 = static_cast<std::uint32_t>(counter_lo), c1 = static_cast<std::uint32_t>(counter_lo >> 32);
  std::uint32_t c2 = static_cast<std::uint32_t>(counter_hi), c3 = static_cast<std::uint32_t>(counter_hi >> 32);
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const std::uint64_t p0 = static_cast<std::uint64_t>(0xD2511F53u) * c0;
    const std::uint64_t p1 = static_cast<std::uint64_t>(0xCD9E8D57u) * c2;
    const std::uint32_t hi0 = static_cast<std::uint32_t>(p0 >> 32), lo0 = static_cast<std::uint32_t>(p0);
    const std::uint32_t hi1 = static_cast<std::uint32_t>(p1 >> 32), lo1 = static_cast<std::uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return PhiloxBlock{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) from 24 random bits (exactly representable in float32).
MINIDP_HOST_DEVICE inline float philox_uniform_f32(std::uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}
// Uniform in [0, 1) from 53 random bits.
MINIDP_HOST_DEVICE inline double philox_uniform_f64(std::uint32_t a, std::uint32_t b) {
  const std::uint64_t bits = (static_cast<std::uint64_t>(a) << 21) ^ (b >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }
  void manual_seed(std::uint64_t seed) { seed_ = seed; offset_ = 0; }
  void set_offset(std::uint64_t offset) { offset_ = offset; }
  // Reserve `n` counters (one Philox block each) and return the first.
  std::uint64_t advance(std::uint64_t n) {
    const std::uint64_t first = offset_;
    offset_ += n;
    return first;
  }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

// The process-wide default generator (used when an op is given none).
Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace minidp
