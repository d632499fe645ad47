// The collective watchdog (parallel/watchdog.h) with a fake communicator:
// the ordering rules that keep ncclCommAbort safe, checked without NCCL.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "minidp/parallel/fatal.h"
#include "minidp/parallel/process_group.h"
#include "minidp/parallel/watchdog.h"

using namespace minidp;
using namespace minidp::parallel;
using namespace std::chrono_literals;

namespace {
// A communicator that records what the watchdog did to it and whether two of
// its calls ever overlapped the abort.
struct FakeComm {
  std::atomic<int> in_call{0};       // calls running now (error queries, collectives)
  std::atomic<int> aborts{0};
  std::atomic<bool> abort_during_call{false};
  std::atomic<int> queries{0};
  std::mutex mu;
  std::vector<std::string> fatal;
  std::atomic<std::thread::id> device_set_on{};
  std::atomic<int> calls_before_device{0};

  WatchdogHooks hooks(std::string async = "") {
    WatchdogHooks h;
    h.set_device = [this] { device_set_on = std::this_thread::get_id(); };
    h.async_error = [this, async] {
      if (device_set_on.load() != std::this_thread::get_id()) ++calls_before_device;
      ++in_call;
      ++queries;
      std::this_thread::sleep_for(2ms);  // a slow query: an abort must wait for it
      --in_call;
      return async;
    };
    h.abort_comm = [this] {
      if (in_call.load() != 0) abort_during_call = true;
      ++aborts;
    };
    h.fatal = [this](const std::string& why) {
      std::lock_guard<std::mutex> lock(mu);
      fatal.push_back(why);
    };
    return h;
  }
  std::vector<std::string> fatals() {
    std::lock_guard<std::mutex> lock(mu);
    return fatal;
  }
};

template <class Pred>
bool eventually(Pred p, std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (p()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return p();
}
}  // namespace

TEST_CASE("watchdog: an abort never runs under a call into the communicator, and happens once") {
  FakeComm c;
  CollectiveWatchdog w(1, 2, 60.0, c.hooks(), 1ms);
  w.start();
  REQUIRE(eventually([&] { return c.queries.load() >= 3; }));
  // The owner's collectives, on two threads, through the same lock, while the
  // watchdog keeps querying; then aborts from both threads at once.
  std::atomic<int> won{0};
  std::atomic<int> refused{0};
  auto owner = [&] {
    for (int i = 0; i < 20; ++i) {
      try {
        w.call([&] {
          ++c.in_call;
          std::this_thread::sleep_for(100us);
          --c.in_call;
        });
      } catch (const Error&) {  // the other thread aborted first: refused, never run
        ++refused;
        break;
      }
    }
    if (w.abort("a replica failed")) ++won;
  };
  std::thread a(owner), b(owner);
  a.join();
  b.join();
  CHECK(won.load() == 1);
  CHECK(c.aborts.load() == 1);
  CHECK_FALSE(c.abort_during_call.load());
  CHECK(w.aborted());
  // After the abort, no call reaches the communicator: it raises, naming the reason.
  bool ran = false;
  try {
    w.call([&] { ran = true; });
    FAIL("a call after the abort must raise");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("a replica failed") != std::string::npos);
  }
  CHECK_FALSE(ran);
  // The watchdog does not report the owner's abort as a fatal error of its own.
  std::this_thread::sleep_for(20ms);
  CHECK(c.fatals().empty());
}

TEST_CASE("watchdog: a collective that never completes ends the job once, naming the rank and what it waited for") {
  FakeComm c;
  CollectiveWatchdog w(3, 4, 0.05, c.hooks(), 1ms);
  w.start();
  w.watch([] { return true; }, "a finished sum");  // done at once: forgotten
  w.watch([] { return false; }, "a sum (allreduce) of [1024] float32");
  REQUIRE(eventually([&] { return !c.fatals().empty(); }));
  const auto f = c.fatals();
  REQUIRE(f.size() == 1);
  CHECK(f[0].find("a sum (allreduce) of [1024] float32") != std::string::npos);
  CHECK(f[0].find("another rank is dead or stuck") != std::string::npos);
  CHECK(c.aborts.load() == 1);
  CHECK(w.aborted());
  CHECK_FALSE(w.abort("late"));  // already aborted: not twice
  CHECK(c.aborts.load() == 1);
  CHECK(c.calls_before_device.load() == 0);  // the device was set before the first query
}

TEST_CASE("watchdog: an asynchronous error reported by the library ends the job") {
  FakeComm c;
  CollectiveWatchdog w(0, 2, 60.0, c.hooks("NCCL: remote process exited"), 1ms);
  w.start();
  REQUIRE(eventually([&] { return !c.fatals().empty(); }));
  CHECK(c.fatals()[0].find("remote process exited") != std::string::npos);
  CHECK(c.aborts.load() == 1);
}

TEST_CASE("watchdog: an exception on the watchdog thread is a fatal error of the rank, never std::terminate") {
  FakeComm c;
  WatchdogHooks h = c.hooks();
  CollectiveWatchdog w(0, 2, 60.0, h, 1ms);
  w.watch([]() -> bool { throw std::runtime_error("CUDA error: an illegal memory access was encountered"); },
          "a sum");
  w.start();
  REQUIRE(eventually([&] { return !c.fatals().empty(); }));
  CHECK(c.fatals()[0].find("the watchdog itself failed") != std::string::npos);
  CHECK(c.fatals()[0].find("illegal memory access") != std::string::npos);
  CHECK(c.aborts.load() == 1);
}

TEST_CASE("watchdog: stopped and joined at destruction, with nothing reported") {
  FakeComm c;
  {
    CollectiveWatchdog w(0, 2, 60.0, c.hooks(), 1ms);
    w.start();
    w.watch([] { return false; }, "a sum still pending");  // within its timeout
    REQUIRE(eventually([&] { return c.queries.load() >= 2; }));
  }
  CHECK(c.fatals().empty());
  CHECK(c.aborts.load() == 0);
}

// ---- the fatal handler (parallel/fatal.h): the host program decides how a job ends
TEST_CASE("fatal handler: the host's handler gets the rank-named message, and if it returns minidp raises (never exits)") {
  std::string seen;
  int seen_code = 0;
  auto previous = set_fatal_handler([&](const std::string& m, int code) {
    seen = m;
    seen_code = code;
  });
  struct Restore {
    FatalHandler h;
    ~Restore() { set_fatal_handler(std::move(h)); }
  } restore{std::move(previous)};
  auto& world = ProcessGroup::world();  // a world of one here (no mpirun)
  try {
    world.abort("the data loader failed", 3);
    FAIL("abort returned");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "minidp rank 0 of 1: the data loader failed");
  }
  CHECK(seen == "minidp rank 0 of 1: the data loader failed");
  CHECK(seen_code == 3);
  // The default again: in a world of one, without MPI running, it prints and raises.
  set_fatal_handler(nullptr);
  CHECK_THROWS_WITH_AS(fatal_error("minidp rank 0 of 1: x"), "minidp rank 0 of 1: x", Error);
}
