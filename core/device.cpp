// minidp/core/device.cpp — parsing devices and the per-thread current device/stream.
#include "minidp/core/device.h"

#include <map>

#include "minidp/core/error.h"
#include "minidp/kernels/cpu/conv_onednn.h"
#include "minidp/kernels/cpu/gemm.h"
#include "minidp/kernels/cpu/parallel.h"
#include "minidp/kernels/cuda/conv.h"
#include "minidp/kernels/cuda/runtime.h"
#include "minidp/kernels/sim/runtime.h"

namespace minidp {

namespace detail {
void throw_error(const char* file, int line, const std::string& msg) {
  (void)file;
  (void)line;  // the message already names the op; file:line is added for library calls
  throw Error(msg);
}
}  // namespace detail

Device Device::parse(const std::string& s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5) {
    const std::string num = s.substr(5);
    bool digits = num.size() <= 4;
    for (char c : num) digits = digits && c >= '0' && c <= '9';
    if (digits) return cuda(std::stoi(num));
  }
  if (s.rfind("sim:", 0) == 0 && s.size() == 5 && s[4] >= '0' && s[4] < '0' + kernels::sim::kMaxDevices)
    return sim(s[4] - '0');
  MINIDP_FAIL("Device::parse: unknown device '", s, "'; expected 'cpu', 'cuda', 'cuda:N' or 'sim:N' (N < ",
              kernels::sim::kMaxDevices, ", a GPU simulated on the CPU)");
}

std::string Device::str() const {
  if (is_cpu()) return "cpu";
  return (is_sim() ? "sim:" : "cuda:") + std::to_string(index);
}

bool cuda_compiled() { return kernels::cuda::compiled(); }
void set_allow_tf32(bool allow) { kernels::cuda::set_allow_tf32(allow); }
void set_num_threads(int n) { kernels::cpu::set_max_threads(n); }
int num_threads() { return kernels::cpu::num_threads(); }
void set_cpu_gemm(const std::string& path) { kernels::cpu::set_gemm_path(path); }
std::string cpu_gemm() { return kernels::cpu::gemm_path(); }
const char* cpu_gemm_library() { return kernels::cpu::gemm_library(); }
const char* cpu_gemm_kernels() { return kernels::cpu::gemm_kernels(); }
std::string cpu_gemm_warning() { return kernels::cpu::gemm_kernel_mismatch(); }
void set_cpu_conv(const std::string& path) { kernels::cpu::set_conv_path(path); }
std::string cpu_conv() { return kernels::cpu::conv_path(); }
std::string cpu_conv_kernels() { return kernels::cpu::conv_kernels(); }
bool allow_tf32() { return kernels::cuda::allow_tf32(); }
void set_cudnn_benchmark(bool on) { kernels::cuda::set_cudnn_benchmark(on); }
bool cudnn_benchmark() { return kernels::cuda::cudnn_benchmark(); }
std::vector<std::string> cudnn_algorithms_chosen() { return kernels::cuda::cudnn_algorithms_chosen(); }
int cuda_device_count() { return kernels::cuda::device_count(); }

void check_device_available(const Device& d) {
  if (d.is_cpu()) return;
  if (d.is_sim()) {
    MINIDP_CHECK(d.index >= 0 && d.index < kernels::sim::kMaxDevices, "device ", d.str(), " requested, but the ",
                 "simulated GPUs are sim:0 .. sim:", kernels::sim::kMaxDevices - 1);
    return;
  }
  MINIDP_CHECK(cuda_compiled(), "device ", d.str(),
               " requested, but minidp was built without CUDA (configure with -DMINIDP_CUDA=ON)");
  const int n = cuda_device_count();
  MINIDP_CHECK(d.index >= 0 && d.index < n, "device ", d.str(), " requested, but ", n,
               " CUDA device(s) are visible", n == 0 ? " (no GPU or driver on this machine)" : "");
}

namespace {
thread_local Device t_current_device = Device::cuda(0);
thread_local std::map<std::pair<DeviceType, int>, void*> t_current_stream;  // device -> stream handle
}  // namespace

Device current_device() { return t_current_device; }

Stream current_stream(const Device& d) {
  if (d.is_cpu()) return Stream{d, nullptr};
  auto it = t_current_stream.find({d.type, d.index});
  return Stream{d, it == t_current_stream.end() ? nullptr : it->second};
}

DeviceGuard::DeviceGuard(const Device& d) : prev_(t_current_device) {
  if (!d.is_cuda()) return;
  active_ = true;
  t_current_device = d;
  kernels::cuda::set_device(d.index);
}

DeviceGuard::~DeviceGuard() {
  if (!active_) return;
  t_current_device = prev_;
  try {
    kernels::cuda::set_device(prev_.index);
  } catch (...) {  // never throw from a destructor
  }
}

StreamGuard::StreamGuard(const Stream& s) : prev_(current_stream(s.device)) {
  if (!s.device.is_cpu()) t_current_stream[{s.device.type, s.device.index}] = s.handle;
}

StreamGuard::~StreamGuard() {
  if (!prev_.device.is_cpu()) t_current_stream[{prev_.device.type, prev_.device.index}] = prev_.handle;
}

}  // namespace minidp
