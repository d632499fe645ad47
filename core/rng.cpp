// minidp/core/rng.cpp — the default generator.
#include "minidp/core/rng.h"

namespace minidp {

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace minidp
