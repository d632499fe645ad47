// examples/progress.h — a one-line progress bar on a terminal, rewritten in place
// (nothing when stderr is not a terminal, so logs and tests stay clean).
//
//   examples::Progress bar(loader.num_batches(), /*enabled=*/true);
//   bar.update(step, samples_so_far);
#pragma once

#include <unistd.h>  // isatty

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace minidp::examples {

class Progress {
 public:
  Progress(std::int64_t total_steps, bool enabled)
      : total_(total_steps), enabled_(enabled && isatty(fileno(stderr))), start_(std::chrono::steady_clock::now()) {}

  // `done` steps of `total_steps`, `samples` processed so far (host clock:
  // queued steps count as done; the bar never waits for a device).
  void update(std::int64_t done, std::int64_t samples) {
    if (!enabled_ || (done % 10 != 0 && done != total_)) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double samples_per_s = samples / std::max(s, 1e-9);
    const double left = s / std::max<std::int64_t>(done, 1) * static_cast<double>(total_ - done);
    const int width = 30, filled = static_cast<int>(width * done / std::max<std::int64_t>(total_, 1));
    std::fprintf(stderr, "\r  [%s%s] %lld/%lld  %.0f samples/s  %.0fs left ", std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), samples_per_s, left);
    if (done == total_) std::fprintf(stderr, "\r%s\r", std::string(100, ' ').c_str());
  }

 private:
  std::int64_t total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace minidp::examples
