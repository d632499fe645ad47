// labs/3-ring/test.cpp — what allreduce_sum_cpu must do. Run by `make lab 3`
// against YOUR version.
#include <doctest/doctest.h>
#include <minidp/minidp.h>

#include <cmath>
#include <exception>
#include <random>
#include <thread>
#include <vector>

using namespace minidp;
using parallel::AbortableBarrier;
using parallel::allreduce_sum_cpu;

namespace {
// k threads, each with its own buffer of n floats (values of very different
// sizes, so the order of the additions changes the last bits); runs the
// all-reduce as the communicator does — the call, then one barrier — and
// returns the buffers. An exception on any thread is rethrown here.
std::vector<std::vector<float>> run(int k, std::int64_t n, std::vector<std::vector<float>>* inputs = nullptr) {
  std::mt19937 gen(static_cast<unsigned>(k * 1000 + n));
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<std::vector<float>> bufs(k, std::vector<float>(static_cast<std::size_t>(n)));
  for (int r = 0; r < k; ++r)
    for (auto& v : bufs[r]) v = u(gen) * std::pow(10.0f, static_cast<float>(r % 3) * 3 - 3);
  if (inputs) *inputs = bufs;
  std::vector<float*> ptrs;
  for (auto& b : bufs) ptrs.push_back(b.data());
  AbortableBarrier barrier(k);
  std::vector<std::exception_ptr> errors(k);
  std::vector<std::thread> threads;
  for (int r = 0; r < k; ++r)
    threads.emplace_back([&, r] {
      try {
        allreduce_sum_cpu(r, ptrs, n, barrier);
        barrier.arrive_and_wait();
      } catch (...) {
        errors[r] = std::current_exception();
        barrier.abort("rank " + std::to_string(r) + " failed");
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  return bufs;
}

void check_sum(int k, std::int64_t n) {
  CAPTURE(k);
  CAPTURE(n);
  std::vector<std::vector<float>> in;
  const auto out = run(k, n, &in);
  for (std::int64_t i = 0; i < n; ++i) {
    double want = 0;
    for (int r = 0; r < k; ++r) want += in[r][i];
    CHECK(out[0][i] == doctest::Approx(want).epsilon(1e-5));
  }
  for (int r = 1; r < k; ++r) CHECK(out[r] == out[0]);  // the same bits in every buffer
}
}  // namespace

TEST_CASE("lab 3: one thread - the buffer is its own sum") {
  std::vector<std::vector<float>> in;
  const auto out = run(1, 5, &in);
  CHECK(out[0] == in[0]);
}

TEST_CASE("lab 3: 2, 3 and 4 threads - the sum, and the same bits in every buffer") {
  for (int k : {2, 3, 4}) check_sum(k, 1000);
}

TEST_CASE("lab 3: sizes that do not split evenly, and fewer floats than threads") {
  for (int k : {2, 3, 4})
    for (std::int64_t n : {1, 2, 3, 7, 1001}) check_sum(k, n);
}

TEST_CASE("lab 3: an empty buffer") {
  for (int k : {1, 3}) CHECK(run(k, 0).size() == static_cast<std::size_t>(k));
}

TEST_CASE("lab 3: the real in-process communicator of 3 replicas sums through it") {
  parallel::InProcessCommunicator comm(3);
  std::vector<Tensor> t = {full({5}, 1.0), full({5}, 2.0), full({5}, 4.0)};
  std::vector<std::exception_ptr> errors(3);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r)
    threads.emplace_back([&, r] {
      try {
        comm.allreduce_sum(r, t[r]);
      } catch (...) {  // an exception leaving a thread would end the program without its message
        errors[r] = std::current_exception();
        comm.abort("rank " + std::to_string(r) + " failed");
      }
    });
  for (auto& th : threads) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (int r = 0; r < 3; ++r) CHECK(t[r].to_vector<float>() == std::vector<float>(5, 7.0f));
}
