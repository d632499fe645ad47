// minidp/kernels/stream_key.h — how per-stream tables (the caching allocator's
// pools, the device error slots) name a stream. Internal to kernels/.
#pragma once

#include <atomic>
#include <cstdint>
#include <tuple>

namespace minidp::kernels {

// A number unique to the calling host thread. The default stream (nullptr) is
// a different stream in every thread, so per-stream caches key it per thread.
inline std::uint64_t this_thread_key() {
  static std::atomic<std::uint64_t> next{1};
  thread_local const std::uint64_t key = next++;
  return key;
}

// A stream as the per-stream tables key it: (device, handle), and for the
// default stream (nullptr) the host thread too.
struct StreamKey {
  int device;
  std::uintptr_t stream;
  std::uint64_t thread;
  static StreamKey of(int device, void* stream) {
    return {device, reinterpret_cast<std::uintptr_t>(stream), stream == nullptr ? this_thread_key() : 0};
  }
  bool operator<(const StreamKey& o) const {
    return std::tie(device, stream, thread) < std::tie(o.device, o.stream, o.thread);
  }
  bool operator==(const StreamKey& o) const { return device == o.device && stream == o.stream && thread == o.thread; }
};

}  // namespace minidp::kernels
