// minidp/kernels/cpu/conv_onednn.cpp — the CPU's convolutions through oneDNN,
// the library PyTorch's CPU convolutions run on, with the reference's promise
// kept: the same bits for any number of threads.
//
// Why oneDNN. Its kernels (jit:avx512_core, jit:avx2, ... picked at run time
// for the processor, so the library stays portable) compute the convolution
// directly on blocked layouts, nChw16c (16 channels side by side, one vector
// register), with no im2col copy; measured 2-3x the GFLOP/s of im2col + GEMM
// on the CNN's shapes (docs/cpu.md). minidp's tensors are plain NCHW, so each
// call reorders its activations into the primitive's layout and back, and the
// weights once per call.
//
// Why groups of images on minidp's threads. oneDNN runs its own OpenMP
// threads, and its backward-weights splits the batch's sum by thread: its bits
// would follow the thread count. So minidp runs it as conv.cpp runs its GEMMs:
// the batch is cut into groups of images whose size depends only on the
// shapes; each group is one single-threaded oneDNN call (the calling thread's
// OpenMP team is set to 1 thread for it, and given back); the groups run on
// minidp's threads; backward-weights keeps one partial per group and adds the
// partials in group order. Forward and backward-data write each image's own
// outputs.
//
// The primitives (and the reorders around them) are created once per shape
// and options and cached; each call brings its own scratch memory (oneDNN's
// "user" scratchpad), so threads may run one primitive at the same time.
#include "minidp/kernels/cpu/conv_onednn.h"

#include <atomic>
#include <cstring>

#include "minidp/core/error.h"
#include "minidp/kernels/cpu/path_switch.h"

#if defined(MINIDP_WITH_ONEDNN) && MINIDP_WITH_ONEDNN

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <dnnl.hpp>

#include "minidp/kernels/cpu/one_omp_thread.h"
#include "minidp/kernels/cpu/parallel.h"

// minidp sets the calling thread's OpenMP team (kernels/cpu/one_omp_thread.h);
// a oneDNN built on TBB or a thread pool would ignore it
// (cmake/MinidpOneDnn.cmake refuses those builds; this says so again here).
static_assert(DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP || DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_SEQ,
              "minidp's oneDNN path needs oneDNN built on OpenMP (or sequential)");
#endif

namespace minidp::kernels::cpu {

namespace {
PathSwitch& conv_switch() {
  static PathSwitch s("reference", "MINIDP_CPU_CONV", "set_cpu_conv",
                      "the CPU's convolutions run on the reference path");
  return s;
}
[[maybe_unused]] bool use_onednn() { return conv_switch().onednn(); }  // (only the oneDNN path below asks)

std::atomic<std::int64_t> g_fallbacks{0};
}  // namespace

void set_conv_path(const std::string& path) { conv_switch().set(path); }

std::int64_t conv_fallbacks() { return g_fallbacks.load(); }

std::string conv_path() { return conv_switch().name(); }

#if defined(MINIDP_WITH_ONEDNN) && MINIDP_WITH_ONEDNN

namespace {
using dnnl::memory;
using Tag = memory::format_tag;
enum class Pass { Forward, BackwardData, BackwardWeights };

struct Geom {
  std::int64_t n, c, h, w, oc, kh, kw, ho, wo;
  std::int64_t image_in() const { return c * h * w; }
  std::int64_t image_out() const { return oc * ho * wo; }
  // Images per group: about 1 MiB of input and output activations (an L2
  // cache's worth), at least 1. From the shapes alone, never the threads.
  std::int64_t group() const { return std::max<std::int64_t>(1, (std::int64_t(1) << 18) / (image_in() + image_out())); }
};
Geom geom(const Tensor& x, const Tensor& w, const Tensor& y) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3), y.size(2), y.size(3)};
}

// One CPU engine for the process, never destroyed (threads' streams may outlive static destructors).
dnnl::engine& engine() {
  static dnnl::engine* e = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *e;
}

// A reorder between two layouts, or none where they are the same.
struct Reorder {
  bool needed = false;
  dnnl::reorder prim;
  std::size_t scratch = 0;
};
Reorder make_reorder(const memory::desc& from, const memory::desc& to) {
  Reorder r;
  if (from == to) return r;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::reorder::primitive_desc pd(engine(), from, engine(), to, attr);
  r.needed = true;
  r.scratch = pd.scratchpad_desc().get_size();
  r.prim = dnnl::reorder(pd);
  return r;
}

// One pass of one convolution shape, for a group of `n` images.
//   Forward:          in0 = src,  out = dst,          weights reordered once per call
//   BackwardData:     in0 = diff_dst, out = diff_src, weights reordered once per call
//   BackwardWeights:  in0 = src, in1 = diff_dst,      out = diff_weights (a group's partial)
struct Plan {
  bool ok = false;  // false: oneDNN refused this shape, the reference runs it
  dnnl::primitive conv;
  memory::desc in_plain[2], in[2], out_plain, out, wei_plain, wei;
  Reorder in_reorder[2], out_reorder, wei_reorder;
  std::size_t scratch = 0;  // bytes, the largest of the primitive's and the reorders'
  std::string impl;
};

memory::desc plain(memory::dims d, Tag t) { return memory::desc(d, memory::data_type::f32, t); }
memory::desc any(memory::dims d) { return memory::desc(d, memory::data_type::f32, Tag::any); }

Plan make_plan(Pass pass, const Geom& g, std::int64_t n, const Conv2dOptions& o, bool bias) {
  const memory::dims src{n, g.c, g.h, g.w}, wei{g.oc, g.c, g.kh, g.kw}, dst{n, g.oc, g.ho, g.wo};
  const memory::dims strides{o.stride_h, o.stride_w}, dil{o.dilation_h - 1, o.dilation_w - 1};
  const memory::dims pad_l{o.pad_h, o.pad_w};
  // The right/bottom padding that makes oneDNN's output size minidp's (the
  // last window may stop short of the padded edge: PyTorch's floor).
  const memory::dims pad_r{(g.ho - 1) * o.stride_h + (g.kh - 1) * o.dilation_h + 1 - g.h - o.pad_h,
                           (g.wo - 1) * o.stride_w + (g.kw - 1) * o.dilation_w + 1 - g.w - o.pad_w};
  const auto algo = dnnl::algorithm::convolution_direct;
  Plan p;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const memory::desc bias_md = bias ? plain({g.oc}, Tag::a) : memory::desc();
  dnnl::convolution_forward::primitive_desc fwd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, algo, any(src), any(wei), bias_md, any(dst),
                                      strides, dil, pad_l, pad_r),
      attr, engine());
  p.wei_plain = plain(wei, Tag::oihw);
  if (pass == Pass::Forward) {
    p.in_plain[0] = plain(src, Tag::nchw), p.in[0] = fwd.src_desc();
    p.out_plain = plain(dst, Tag::nchw), p.out = fwd.dst_desc();
    p.wei = fwd.weights_desc();
    p.conv = dnnl::convolution_forward(fwd);
    p.scratch = fwd.scratchpad_desc().get_size();
    p.impl = fwd.impl_info_str();
  } else if (pass == Pass::BackwardData) {
    dnnl::convolution_backward_data::primitive_desc bwd(
        dnnl::convolution_backward_data::desc(algo, any(src), any(wei), any(dst), strides, dil, pad_l, pad_r), attr,
        engine(), fwd);
    p.in_plain[0] = plain(dst, Tag::nchw), p.in[0] = bwd.diff_dst_desc();
    p.out_plain = plain(src, Tag::nchw), p.out = bwd.diff_src_desc();
    p.wei = bwd.weights_desc();
    p.conv = dnnl::convolution_backward_data(bwd);
    p.scratch = bwd.scratchpad_desc().get_size();
    p.impl = bwd.impl_info_str();
  } else {
    dnnl::convolution_backward_weights::primitive_desc bwd(
        dnnl::convolution_backward_weights::desc(algo, any(src), any(wei), any(dst), strides, dil, pad_l, pad_r),
        attr, engine(), fwd);
    p.in_plain[0] = plain(src, Tag::nchw), p.in[0] = bwd.src_desc();
    p.in_plain[1] = plain(dst, Tag::nchw), p.in[1] = bwd.diff_dst_desc();
    p.out_plain = p.wei_plain, p.out = bwd.diff_weights_desc();
    p.conv = dnnl::convolution_backward_weights(bwd);
    p.scratch = bwd.scratchpad_desc().get_size();
    p.impl = bwd.impl_info_str();
    p.in_reorder[1] = make_reorder(p.in_plain[1], p.in[1]);
  }
  p.in_reorder[0] = make_reorder(p.in_plain[0], p.in[0]);
  p.out_reorder = make_reorder(p.out, p.out_plain);
  if (pass != Pass::BackwardWeights) p.wei_reorder = make_reorder(p.wei_plain, p.wei);
  for (const Reorder* r : {&p.in_reorder[0], &p.in_reorder[1], &p.out_reorder, &p.wei_reorder})
    p.scratch = std::max(p.scratch, r->scratch);
  p.ok = true;
  return p;
}

// One plan per shape seen, never freed (like the engine: a thread still
// running a convolution while the process exits finds them there).
std::mutex plans_mutex;
auto& plans = *new std::map<std::array<std::int64_t, 18>, std::unique_ptr<Plan>>;
std::string last_forward_impl;  // for reports

// The cached plan, made on first use (on a thread whose OpenMP team is 1).
const Plan& plan_for(Pass pass, const Geom& g, std::int64_t n, const Conv2dOptions& o, bool bias) {
  const std::array<std::int64_t, 18> key{static_cast<std::int64_t>(pass), n, g.c, g.h, g.w, g.oc, g.kh, g.kw, g.ho,
                                         g.wo, o.stride_h, o.stride_w, o.pad_h, o.pad_w, o.dilation_h, o.dilation_w,
                                         bias ? 1 : 0, 0};
  std::lock_guard<std::mutex> lock(plans_mutex);
  auto& slot = plans[key];
  if (!slot) {
    slot = std::make_unique<Plan>();
    try {
      *slot = make_plan(pass, g, n, o, bias);
    } catch (const dnnl::error&) {
      slot->ok = false;  // no oneDNN kernel for this shape: the reference path runs it, every time
    }
    if (slot->ok && pass == Pass::Forward) last_forward_impl = slot->impl;
  }
  return *slot;
}

// Scratch memory of the calling thread, 64-byte aligned, kept between calls.
float* scratch(std::size_t slot, std::size_t bytes) {
  thread_local std::vector<std::vector<float>> buffers;
  if (buffers.size() <= slot) buffers.resize(slot + 1);
  const std::size_t floats = bytes / sizeof(float) + 16;
  if (buffers[slot].size() < floats) buffers[slot].resize(floats);
  const auto addr = reinterpret_cast<std::uintptr_t>(buffers[slot].data());
  return reinterpret_cast<float*>((addr + 63) & ~std::uintptr_t(63));
}

memory mem(const memory::desc& d, const void* p) { return memory(d, engine(), const_cast<void*>(p)); }

// The plain tensor at `p` in the layout the plan wants for input i (a copy in
// scratch slot `slot`, or p itself where the layouts agree).
const float* reordered_in(const Plan& plan, int i, const float* p, std::size_t slot, dnnl::stream& s, const memory& pad) {
  const Reorder& r = plan.in_reorder[i];
  if (!r.needed) return p;
  float* dst = scratch(slot, plan.in[i].get_size());
  r.prim.execute(s, {{DNNL_ARG_FROM, mem(plan.in_plain[i], p)}, {DNNL_ARG_TO, mem(plan.in[i], dst)},
                     {DNNL_ARG_SCRATCHPAD, pad}});
  return dst;
}

// The plans of a call (one for the full groups, one for a smaller last group),
// or false when oneDNN does not take it.
struct Call {
  std::int64_t size, groups;
  const Plan* full;
  const Plan* last;
};
bool plan_call(Pass pass, const Geom& g, const Conv2dOptions& o, bool bias, Call& c) {
  c.size = std::min(g.group(), g.n);
  c.groups = num_chunks(g.n, c.size);
  c.full = &plan_for(pass, g, c.size, o, bias);
  const std::int64_t tail = g.n - (c.groups - 1) * c.size;
  c.last = tail == c.size ? c.full : &plan_for(pass, g, tail, o, bias);
  if (c.full->ok && c.last->ok) return true;
  g_fallbacks.fetch_add(1);  // counted, so that tests can tell which path ran
  return false;
}

// fn(plan, which plan (0 full, 1 last), first image, group index) for each group, on minidp's threads.
template <typename F>
void run_groups(const Call& c, F&& fn) {
  parallel_for(c.groups, 1, [&](std::int64_t lo, std::int64_t hi) {
    OneOmpThread one;
    thread_local dnnl::stream s(engine());
    for (std::int64_t grp = lo; grp < hi; ++grp) {
      const bool last = grp == c.groups - 1;
      fn(last ? *c.last : *c.full, last ? 1 : 0, grp * c.size, grp, s);
    }
    s.wait();  // a no-op on OpenMP's synchronous CPU stream, but the contract
  });
}

// The weights in each plan's layout, once per call, on the calling thread.
void weights_for(const Call& c, const float* w, const float* out[2]) {
  thread_local dnnl::stream s(engine());
  const Plan* p[2] = {c.full, c.last};
  for (int i = 0; i < 2; ++i) {
    if (!p[i]->wei_reorder.needed) {
      out[i] = w;
      continue;
    }
    float* dst = scratch(8 + i, p[i]->wei.get_size());
    const memory pad = mem(dnnl::memory::desc({static_cast<memory::dim>(p[i]->scratch)}, memory::data_type::u8, Tag::a),
                           scratch(10, p[i]->scratch));
    p[i]->wei_reorder.prim.execute(s, {{DNNL_ARG_FROM, mem(p[i]->wei_plain, w)}, {DNNL_ARG_TO, mem(p[i]->wei, dst)},
                                       {DNNL_ARG_SCRATCHPAD, pad}});
    out[i] = dst;
  }
  s.wait();
}

memory scratchpad(const Plan& p) {
  const auto bytes = static_cast<memory::dim>(std::max<std::size_t>(p.scratch, 1));
  return mem(memory::desc({bytes}, memory::data_type::u8, Tag::a), scratch(0, static_cast<std::size_t>(bytes)));
}

bool takes(const Tensor& t) { return use_onednn() && t.dtype() == kFloat32; }

// Forward and backward-data: one activation in (x, or the output's gradient)
// and one out, per group; the weights reordered once. `*_image`: floats per image.
bool activation_pass(Pass pass, const Geom& g, const Conv2dOptions& o, const float* in, std::int64_t in_image,
                     const float* w, const void* bias, float* out, std::int64_t out_image) {
  OneOmpThread one;
  Call c;
  if (!plan_call(pass, g, o, bias != nullptr, c)) return false;
  const float* wei[2];
  weights_for(c, w, wei);
  const bool fwd = pass == Pass::Forward;
  run_groups(c, [&](const Plan& p, int which, std::int64_t first, std::int64_t, dnnl::stream& s) {
    const memory pad = scratchpad(p);
    const float* src = reordered_in(p, 0, in + first * in_image, 1, s, pad);
    float* result = out + first * out_image;
    float* dst = p.out_reorder.needed ? scratch(2, p.out.get_size()) : result;
    std::unordered_map<int, memory> args{{fwd ? DNNL_ARG_SRC : DNNL_ARG_DIFF_DST, mem(p.in[0], src)},
                                         {DNNL_ARG_WEIGHTS, mem(p.wei, wei[which])},
                                         {fwd ? DNNL_ARG_DST : DNNL_ARG_DIFF_SRC, mem(p.out, dst)},
                                         {DNNL_ARG_SCRATCHPAD, pad}};
    if (bias != nullptr) args.emplace(DNNL_ARG_BIAS, mem(memory::desc({g.oc}, memory::data_type::f32, Tag::a), bias));
    p.conv.execute(s, args);
    if (p.out_reorder.needed)
      p.out_reorder.prim.execute(s, {{DNNL_ARG_FROM, mem(p.out, dst)}, {DNNL_ARG_TO, mem(p.out_plain, result)},
                                     {DNNL_ARG_SCRATCHPAD, pad}});
  });
  return true;
}
}  // namespace

bool onednn_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
                           const Conv2dOptions& o) {
  if (!takes(x)) return false;
  const Geom g = geom(x, w, out);
  return activation_pass(Pass::Forward, g, o, static_cast<const float*>(x.raw_data()), g.image_in(),
                         static_cast<const float*>(w.raw_data()), bias.defined() ? bias.raw_data() : nullptr,
                         static_cast<float*>(out.raw_data()), g.image_out());
}

// gx is written in full (the reference adds into the zeros the caller gives it).
bool onednn_conv2d_backward_input(const Tensor& gout, const Tensor& w, const Tensor& gx, const Conv2dOptions& o) {
  if (!takes(gout)) return false;
  const Geom g = geom(gx, w, gout);
  return activation_pass(Pass::BackwardData, g, o, static_cast<const float*>(gout.raw_data()), g.image_out(),
                         static_cast<const float*>(w.raw_data()), nullptr, static_cast<float*>(gx.raw_data()),
                         g.image_in());
}

bool onednn_conv2d_backward_weight(const Tensor& gout, const Tensor& x, const Tensor& gw, const Conv2dOptions& o) {
  if (!takes(gout)) return false;
  const Geom g = geom(x, gw, gout);
  OneOmpThread one;
  Call c;
  if (!plan_call(Pass::BackwardWeights, g, o, false, c)) return false;
  const auto* px = static_cast<const float*>(x.raw_data());
  const auto* pg = static_cast<const float*>(gout.raw_data());
  auto* pgw = static_cast<float*>(gw.raw_data());
  const std::int64_t wsize = g.oc * g.c * g.kh * g.kw;
  // One partial d W per group (plain oihw), summed in group order below: the same sums for any thread count.
  float* partials = scratch(11, static_cast<std::size_t>(c.groups * wsize) * sizeof(float));
  run_groups(c, [&](const Plan& p, int, std::int64_t first, std::int64_t grp, dnnl::stream& s) {
    const memory pad = scratchpad(p);
    const float* src = reordered_in(p, 0, px + first * g.image_in(), 1, s, pad);
    const float* ddst = reordered_in(p, 1, pg + first * g.image_out(), 2, s, pad);
    float* part = partials + grp * wsize;
    float* dwei = p.out_reorder.needed ? scratch(3, p.out.get_size()) : part;
    p.conv.execute(s, {{DNNL_ARG_SRC, mem(p.in[0], src)}, {DNNL_ARG_DIFF_DST, mem(p.in[1], ddst)},
                       {DNNL_ARG_DIFF_WEIGHTS, mem(p.out, dwei)}, {DNNL_ARG_SCRATCHPAD, pad}});
    if (p.out_reorder.needed)
      p.out_reorder.prim.execute(s, {{DNNL_ARG_FROM, mem(p.out, dwei)}, {DNNL_ARG_TO, mem(p.out_plain, part)},
                                     {DNNL_ARG_SCRATCHPAD, pad}});
  });
  std::fill(pgw, pgw + wsize, 0.0f);
  parallel_for(wsize, 4096, [&](std::int64_t lo, std::int64_t hi) {
    for (std::int64_t grp = 0; grp < c.groups; ++grp) {
      const float* part = partials + grp * wsize;
      for (std::int64_t e = lo; e < hi; ++e) pgw[e] += part[e];
    }
  });
  return true;
}

std::string conv_kernels() {
  if (!use_onednn()) return "im2col + GEMM (reference)";
  const dnnl_version_t* v = dnnl_version();
  std::string s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  std::lock_guard<std::mutex> lock(plans_mutex);
  if (!last_forward_impl.empty()) s += " (" + last_forward_impl + ")";
  return s;
}

#else  // a build without oneDNN: the reference runs every convolution

bool onednn_conv2d_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Conv2dOptions&) {
  return false;
}
bool onednn_conv2d_backward_input(const Tensor&, const Tensor&, const Tensor&, const Conv2dOptions&) { return false; }
bool onednn_conv2d_backward_weight(const Tensor&, const Tensor&, const Tensor&, const Conv2dOptions&) { return false; }
std::string conv_kernels() { return "im2col + GEMM (reference)"; }

#endif

}  // namespace minidp::kernels::cpu
