// minidp/kernels/sim/queue.cpp — the table of the simulated GPU's streams,
// and each host thread's default streams.
#include "minidp/kernels/sim/queue.h"

namespace minidp::kernels::sim::detail {

std::atomic<std::uint64_t> g_shake_seed{0};
std::atomic<int> g_shake_delay_us{200};
std::atomic<std::uint64_t> g_stream_ids{0};
thread_local bool t_on_worker = false;

void read_shake_env() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (const char* v = std::getenv("MINIDP_SIM_SHAKE"); v != nullptr && *v != '\0')
      g_shake_seed = std::strtoull(v, nullptr, 10);
  });
}

// Every live stream, for device_synchronize and for turning a handle back
// into the shared pointer an event keeps.
std::mutex g_mu;
std::vector<std::shared_ptr<Queue>>& registry() {
  static auto* r = new std::vector<std::shared_ptr<Queue>>();  // never destroyed: threads may outlive statics
  return *r;
}

std::shared_ptr<Queue> make_queue(int device) {
  MINIDP_CHECK(device >= 0 && device < kMaxDevices, "sim: no device sim:", device);
  read_shake_env();
  auto q = std::make_shared<Queue>(device);
  std::lock_guard<std::mutex> lock(g_mu);
  registry().push_back(q);
  return q;
}

void unregister(const Queue* q) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto& r = registry();
  r.erase(std::remove_if(r.begin(), r.end(), [&](const auto& p) { return p.get() == q; }), r.end());
}

// The per-thread default streams (handle nullptr), made on first use; drained
// and stopped when the thread ends. Found by thread key too: a block freed by
// another thread is poisoned on its own thread's default stream.
std::map<std::pair<std::uint64_t, int>, std::weak_ptr<Queue>>& default_queues() {
  static auto* m = new std::map<std::pair<std::uint64_t, int>, std::weak_ptr<Queue>>();  // under g_mu
  return *m;
}
struct DefaultQueues {
  std::shared_ptr<Queue> q[kMaxDevices];
  ~DefaultQueues() {
    for (int d = 0; d < kMaxDevices; ++d)
      if (q[d]) {
        {
          std::lock_guard<std::mutex> lock(g_mu);
          default_queues().erase({this_thread_key(), d});
        }
        q[d]->wait_until(q[d]->position());
        q[d]->stop();
        unregister(q[d].get());
      }
  }
};
thread_local DefaultQueues t_default;

std::shared_ptr<Queue> queue_of(void* stream, int device) {
  if (stream != nullptr) return static_cast<Queue*>(stream)->shared_from_this();
  MINIDP_CHECK(device >= 0 && device < kMaxDevices, "sim: no device sim:", device);
  auto& q = t_default.q[device];
  if (!q) {
    q = make_queue(device);
    std::lock_guard<std::mutex> lock(g_mu);
    default_queues()[{this_thread_key(), device}] = q;
  }
  return q;
}

std::vector<std::shared_ptr<Queue>> queues_of_device(int device) {
  std::vector<std::shared_ptr<Queue>> qs;
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& q : registry())
    if (q->device() == device) qs.push_back(q);
  return qs;
}

std::shared_ptr<Queue> find_queue(void* handle) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& q : registry())
    if (q.get() == handle) return q;
  return nullptr;
}

std::shared_ptr<Queue> default_queue_of_thread(std::uint64_t thread, int device) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = default_queues().find({thread, device});
  return it == default_queues().end() ? nullptr : it->second.lock();
}

}  // namespace minidp::kernels::sim::detail
