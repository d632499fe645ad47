// minidp/core/device.h — where a tensor lives (`cpu`, `cuda:N`, `sim:N`) and
// on which stream its work is queued.
//
// `sim:N` (N < 8) is a GPU simulated on the CPU (kernels/sim/runtime.h): the
// CPU's kernels, queued on streams that really run asynchronously, memory the
// host cannot touch without a copy. It tests the GPU code's streams and events
// on machines without a GPU; its results are never GPU results.
//
// A data-parallel replica is a (Device, Stream) pair, so several replicas can
// share one GPU (each on its own stream) or the CPU (each on its own host
// thread). The current device and the current stream are per host thread,
// exactly like CUDA's own notion of a current device; the guards below switch
// them for a scope and restore them after:
//
//   Device d = Device::parse("cuda:1");
//   { DeviceGuard g(d); StreamGuard s(my_stream); y = relu(x); }  // queued on my_stream
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minidp {

enum class DeviceType : std::uint8_t { CPU, CUDA, Sim };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // GPU ordinal; always 0 for the CPU

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  static Device sim(int i = 0) { return {DeviceType::Sim, i}; }
  // "cpu", "cuda", "cuda:3", "sim:0". Anything else raises minidp::Error.
  static Device parse(const std::string& s);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool is_sim() const { return type == DeviceType::Sim; }
  std::string str() const;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

// True when minidp was compiled with the CUDA backend.
bool cuda_compiled();
// Number of GPUs visible at run time (0 without CUDA, driver or GPU).
int cuda_device_count();
// Raise a clear minidp::Error unless `d` can be used in this process.
void check_device_available(const Device& d);
// The CPU device's thread budget: how many threads a CPU op may use. All
// cores by default; MINIDP_NUM_THREADS (else OMP_NUM_THREADS) in the
// environment, or set_num_threads. CPU replicas of DataParallel divide it.
// Results never depend on it: the CPU kernels cut their work into chunks of
// fixed size and add partial sums in a fixed order (kernels/cpu/parallel.h).
void set_num_threads(int n);
int num_threads();  // the calling thread's share
// The CPU's float32 matrix products: "onednn" (oneDNN's sgemm, its kernels
// picked at run time for this processor; the default in builds that have
// oneDNN) or "blas" (OpenBLAS, or Eigen in a build without it; float64
// always runs there). Each gives the same bits for any thread count; the two
// differ from each other in the last bits. MINIDP_CPU_GEMM=blas in the
// environment chooses the BLAS at start.
void set_cpu_gemm(const std::string& path);
std::string cpu_gemm();
// The library behind the float32 products: "oneDNN", "OpenBLAS" or "Eigen".
const char* cpu_gemm_library();
// Their kernels for this run (oneDNN: "avx512_core", "avx2", ...; OpenBLAS:
// "SkylakeX", "Haswell", ...; "" with Eigen), and a warning when OpenBLAS runs
// them with the kernels of an older CPU than this one (OpenBLAS did not
// recognise it: a virtual CPU, say), saying what to set; "" when not.
const char* cpu_gemm_kernels();
std::string cpu_gemm_warning();
// The CPU's float32 convolutions: "onednn" (oneDNN's kernels, picked at run
// time for this processor; the default in builds that have oneDNN) or
// "reference" (minidp's im2col + GEMM, kernels/cpu/conv.cpp; float64 always
// runs there). Each gives the same bits for any thread count; the two differ
// from each other in the last bits. MINIDP_CPU_CONV=reference in the
// environment chooses the reference at start.
void set_cpu_conv(const std::string& path);
std::string cpu_conv();
// For reports: "oneDNN 2.6.3 (jit:avx512_core)" or "im2col + GEMM (reference)".
std::string cpu_conv_kernels();

// TF32 tensor cores for float32 GEMMs and convolutions on the GPU. Off by
// default: float32 results then match the CPU reference to ~1e-6. On, large
// GEMMs run several times faster (Ampere and later) with ~1e-3 relative
// accuracy — torch.backends.cuda.matmul.allow_tf32 and cudnn.allow_tf32 in one.
// No effect on the CPU.
void set_allow_tf32(bool allow);
bool allow_tf32();

// cuDNN autotuning, like torch.backends.cudnn.benchmark. Off by default: each
// convolution shape takes the first *deterministic* algorithm that cuDNN's
// heuristics rank (nothing is timed), so runs are bitwise repeatable. On: the
// first convolution of each shape and pass benchmarks cuDNN's algorithms
// once (a device synchronisation and some milliseconds) and keeps the fastest,
// which may be a non-deterministic one (atomic accumulation in the backward
// passes). Set it before training, not inside a captured CUDA graph.
// No effect on the CPU.
void set_cudnn_benchmark(bool on);
bool cudnn_benchmark();
// The convolution algorithms chosen so far, one line per (device, dtype,
// shape, pass), with how each was chosen, e.g. "conv fwd cuda:0 float32 N=256
// C=1 H=28 W=28 K=32 3x3 stride 1 pad 1: IMPLICIT_PRECOMP_GEMM (benchmarked,
// 0.012 ms)" — for verbose output. Empty on a build without CUDA or before
// the first GPU convolution.
std::vector<std::string> cudnn_algorithms_chosen();

// A queue of work on one device. On the CPU it is a label only (CPU work runs
// on the calling thread); on CUDA `handle` is a cudaStream_t, on a simulated
// GPU a queue with a worker thread of its own (nullptr = the per-thread
// default stream).
struct Stream {
  Device device;
  void* handle = nullptr;
  bool operator==(const Stream& o) const { return device == o.device && handle == o.handle; }
};

// The calling thread's current CUDA device (what new cuda tensors default to).
Device current_device();
// The calling thread's current stream on `d`.
Stream current_stream(const Device& d);

// Make `d` the current device of this thread for the guard's lifetime.
class DeviceGuard {
 public:
  explicit DeviceGuard(const Device& d);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  Device prev_;
  bool active_ = false;
};

// Make `s` the current stream of its device on this thread for the guard's lifetime.
class StreamGuard {
 public:
  explicit StreamGuard(const Stream& s);
  ~StreamGuard();
  StreamGuard(const StreamGuard&) = delete;
  StreamGuard& operator=(const StreamGuard&) = delete;

 private:
  Stream prev_;
};

}  // namespace minidp
