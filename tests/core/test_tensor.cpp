// Tensor behaviour: factories, metadata, views sharing storage, copies,
// dtype conversion, element access, in-place updates and printing.
#include <doctest/doctest.h>

#include <sstream>

#include "gradcheck.h"
#include "minidp/minidp.h"
#include "test_util.h"

using namespace minidp;
using namespace minidp::test;
using minidp::test::contains;

// ---------------------------------------------------------------- factories
TEST_CASE("tensor: zeros, ones, full, zeros_like, ones_like, scalar_tensor") {
  const Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dtype() == kFloat32);
  CHECK(z.device() == Device::cpu());
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.0f));
  CHECK(ones({4}, kFloat64).to_vector<double>() == std::vector<double>(4, 1.0));
  const Tensor f = full({2, 2}, -2.5, kFloat64);
  CHECK(f.to_vector<double>() == std::vector<double>(4, -2.5));
  const Tensor i = full({3}, 7, kInt32);
  CHECK(i.dtype() == kInt32);
  CHECK(i.to_vector<std::int32_t>() == std::vector<std::int32_t>{7, 7, 7});
  CHECK(full({2}, 255, kUInt8).to_vector<std::uint8_t>() == std::vector<std::uint8_t>{255, 255});
  const Tensor zl = zeros_like(i), ol = ones_like(f);
  CHECK(zl.dtype() == kInt32);
  CHECK(zl.shape() == Shape{3});
  CHECK(zl.to_vector<std::int32_t>() == std::vector<std::int32_t>{0, 0, 0});
  CHECK(ol.dtype() == kFloat64);
  CHECK(ol.to_vector<double>() == std::vector<double>(4, 1.0));
  const Tensor s = scalar_tensor(3.25);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 3.25);
  // empty tensors
  const Tensor e = zeros({0, 3});
  CHECK(e.numel() == 0);
  CHECK(e.to_vector<float>().empty());
  // requires_grad through the options
  CHECK(zeros({2}, TensorOptions(kFloat64).with_requires_grad(true)).requires_grad());
  CHECK_FALSE(zeros({2}).requires_grad());
}

TEST_CASE("tensor: arange and from_vector") {
  const Tensor a = arange(5);
  CHECK(a.dtype() == kInt64);
  CHECK(a.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  CHECK(arange(0.0, 1.0, 0.25).to_vector<float>() == std::vector<float>{0, 0.25, 0.5, 0.75});
  CHECK(arange(0.0, 1.0, 0.25).dtype() == kFloat32);
  CHECK(arange(5.0, 0.0, -2.0, kFloat64).to_vector<double>() == std::vector<double>{5, 3, 1});
  CHECK(arange(0.0, 0.0, 1.0).numel() == 0);

  const Tensor v = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(v.shape() == Shape{2, 3});
  CHECK(v.strides() == Shape{3, 1});
  CHECK(v.dtype() == kFloat32);
  CHECK(v.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  // converted on the way in
  const Tensor c = from_vector<std::int32_t>({1, -2}, {2}, kFloat64);
  CHECK(c.dtype() == kFloat64);
  CHECK(c.to_vector<double>() == std::vector<double>{1, -2});
  const Tensor r = from_vector<double>({1, 2}, {2}, TensorOptions(kFloat64).with_requires_grad(true));
  CHECK(r.requires_grad());
  CHECK(r.is_leaf());
}

// ---------------------------------------------------------------- metadata
TEST_CASE("tensor: shape, strides, size, numel, dim, describe") {
  const Tensor t = zeros({2, 3, 4});
  CHECK(t.dim() == 3);
  CHECK(t.numel() == 24);
  CHECK(t.size(0) == 2);
  CHECK(t.size(-1) == 4);
  CHECK(t.strides() == Shape{12, 4, 1});
  CHECK(contiguous_strides({5, 1, 2}) == Shape{2, 2, 1});
  CHECK(shape_str({2, 3}) == "[2, 3]");
  CHECK(shape_str({}) == "[]");
  CHECK(shape_numel({}) == 1);
  CHECK(t.describe() == "float32[2, 3, 4] on cpu");
  Tensor named = ones({2}, kInt64);
  named.set_name("labels");
  CHECK(named.name() == "labels");
  CHECK(named.describe() == "'labels' int64[2] on cpu");
  CHECK(Tensor().describe() == "undefined tensor");
  CHECK_FALSE(Tensor().defined());
  CHECK(t.defined());
  CHECK(t.is_contiguous());
  CHECK(t.options().dtype == kFloat32);
}

// ---------------------------------------------------------------- views
TEST_CASE("tensor: reshape of a contiguous tensor, flatten, view and unsqueeze share storage") {
  Tensor base = arange(0.0, 12.0, 1.0);
  const Tensor r = base.reshape({3, 4});
  CHECK(r.storage().get() == base.storage().get());
  CHECK(r.shape() == Shape{3, 4});
  CHECK(base.reshape({2, -1}).shape() == Shape{2, 6});
  CHECK(base.view({4, 3}).storage().get() == base.storage().get());
  CHECK(r.flatten().storage().get() == base.storage().get());
  CHECK(r.unsqueeze(0).shape() == Shape{1, 3, 4});
  CHECK(r.unsqueeze(-1).shape() == Shape{3, 4, 1});
  CHECK(r.unsqueeze(0).squeeze(0).shape() == Shape{3, 4});
  CHECK(r.squeeze(0).shape() == Shape{3, 4});  // not of size 1: unchanged
  // writes through the view are seen by the base
  Tensor rv = r;
  rv.fill_(5.0);
  CHECK(base.to_vector<float>() == std::vector<float>(12, 5.0f));
}

TEST_CASE("tensor: narrow, slice and row indexing are views at an offset") {
  Tensor base = arange(0.0, 12.0, 1.0, kFloat64).reshape({3, 4});
  Tensor n = base.narrow(1, 1, 2);
  CHECK(n.storage().get() == base.storage().get());
  CHECK(n.shape() == Shape{3, 2});
  CHECK(n.offset() == 1);
  CHECK_FALSE(n.is_contiguous());
  CHECK(n.to_vector<double>() == std::vector<double>{1, 2, 5, 6, 9, 10});
  Tensor s = base.slice(1, 3);
  CHECK(s.storage().get() == base.storage().get());
  CHECK(s.offset() == 4);
  CHECK(s.is_contiguous());
  CHECK(s.to_vector<double>() == std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11});
  Tensor row = base[2];
  CHECK(row.shape() == Shape{4});
  CHECK(row.to_vector<double>() == std::vector<double>{8, 9, 10, 11});
  // writing into a strided view modifies exactly those elements of the base
  n.fill_(-1.0);
  s.narrow(0, 1, 1).zero_();
  CHECK(base.to_vector<double>() == std::vector<double>{0, -1, -1, 3, 4, -1, -1, 7, 0, 0, 0, 0});
  // split pieces are views too
  const auto parts = split(base, 2, 1);
  CHECK(parts[1].storage().get() == base.storage().get());
}

TEST_CASE("tensor: transpose and permute are views, contiguous() and clone() copy") {
  Tensor base = arange(0.0, 6.0, 1.0).reshape({2, 3});
  Tensor t = base.t();
  CHECK(t.storage().get() == base.storage().get());
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.strides() == Shape{1, 3});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  Tensor p = arange(0.0, 24.0, 1.0).reshape({2, 3, 4}).permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Shape{1, 12, 4});

  // contiguous() of a contiguous tensor is the tensor itself
  CHECK(base.contiguous().same_as(base));
  // of a transposed one: a fresh, row-major copy
  Tensor c = t.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.storage().get() != base.storage().get());
  CHECK(c.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  // reshape of a non-contiguous tensor copies (it cannot be a view)
  Tensor rs = t.reshape({6});
  CHECK(rs.storage().get() != base.storage().get());
  CHECK(rs.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  // clone() always copies, and the copy is independent
  Tensor cl = base.clone();
  CHECK(cl.storage().get() != base.storage().get());
  cl.fill_(9.0);
  CHECK(base.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  c.fill_(7.0);
  CHECK(base.to_vector<float>() == std::vector<float>{0, 1, 2, 3, 4, 5});
  // writing through the transposed view lands in the base
  t.narrow(0, 0, 1).fill_(-1.0);  // first row of t = first column of base
  CHECK(base.to_vector<float>() == std::vector<float>{-1, 1, 2, -1, 4, 5});
  // transpose of a 1-D tensor is itself
  CHECK(arange(3).t().shape() == Shape{3});
}

TEST_CASE("tensor: detach shares data but not the graph") {
  Tensor x = from_vector<double>({1, 2}, {2}).requires_grad_();
  Tensor d = x.detach();
  CHECK(d.storage().get() == x.storage().get());
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  {
    NoGradGuard ng;
    x.fill_(3.0);
  }
  CHECK(d.to_vector<double>() == std::vector<double>{3, 3});
}

// ---------------------------------------------------------------- dtype, device, access
TEST_CASE("tensor: to(dtype) converts (truncating toward zero like a C++ cast), to(same) is a no-op") {
  const Tensor f = from_vector<float>({2.7f, -2.7f, 0.5f, 255.0f}, {4});
  CHECK(f.to(kInt64).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, -2, 0, 255});
  CHECK(f.to(kInt32).dtype() == kInt32);
  CHECK(f.to(kFloat64).to_vector<double>() == std::vector<double>{2.7f, -2.7f, 0.5, 255});
  CHECK(f.to(kFloat32).same_as(f));
  CHECK(f.to(Device::cpu()).same_as(f));
  const Tensor i = from_vector<std::int64_t>({1, 2, 3}, {3});
  CHECK(i.to(kFloat32).to_vector<float>() == std::vector<float>{1, 2, 3});
  CHECK(from_vector<std::uint8_t>({0, 128, 255}, {3}).to(kFloat32).to_vector<float>() ==
        std::vector<float>{0, 128, 255});
  // a converted copy is independent
  Tensor g = f.to(kFloat64);
  g.fill_(0.0);
  CHECK(f.to_vector<float>()[0] == 2.7f);
}

TEST_CASE("tensor: item, to_vector of views and with conversion, data<T>") {
  CHECK(scalar_tensor(4.5).item() == 4.5);
  CHECK(from_vector<std::int64_t>({-3}, {1, 1}).item<std::int64_t>() == -3);
  CHECK(full({}, 2.9).item<int>() == 2);
  const Tensor t = arange(0.0, 6.0, 1.0, kFloat64).reshape({2, 3});
  CHECK(t.t().to_vector<double>() == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(t.t().to_vector<std::int32_t>() == std::vector<std::int32_t>{0, 3, 1, 4, 2, 5});
  CHECK(t[1].narrow(0, 2, 1).item() == 5.0);
  double* p = t.data<double>();
  p[4] = 40.0;
  CHECK(t.to_vector<double>()[4] == 40.0);
  CHECK(t[1].data<double>() == p + 3);  // data() of a view points at the view's first element
}

TEST_CASE("tensor: devices parse and print, CPU is always available") {
  CHECK(Device::parse("cpu") == Device::cpu());
  CHECK(Device::parse("cuda") == Device::cuda(0));
  CHECK(Device::parse("cuda:3") == Device::cuda(3));
  CHECK(Device::cuda(2).str() == "cuda:2");
  CHECK(Device::cpu().str() == "cpu");
  CHECK(Device::cpu() != Device::cuda(0));
  CHECK(Device::parse("cuda:1").is_cuda());
  CHECK_NOTHROW(check_device_available(Device::cpu()));
  CHECK(cuda_device_count() >= 0);
  if (!cuda_compiled()) CHECK(cuda_device_count() == 0);
}

// ---------------------------------------------------------------- in-place
TEST_CASE("tensor: in-place zero_, fill_, copy_, add_, mul_") {
  Tensor a = from_vector<double>({1, 2, 3, 4}, {2, 2});
  a.mul_(2.0);
  CHECK(a.to_vector<double>() == std::vector<double>{2, 4, 6, 8});
  a.add_(from_vector<double>({1, 1, 1, 1}, {2, 2}), -0.5);
  CHECK(a.to_vector<double>() == std::vector<double>{1.5, 3.5, 5.5, 7.5});
  a.add_(from_vector<double>({10, 20, 30, 40}, {2, 2}));
  CHECK(a.to_vector<double>() == std::vector<double>{11.5, 23.5, 35.5, 47.5});
  // add_ broadcasts a smaller operand over the destination, like PyTorch
  a.add_(from_vector<double>({100, 200}, {2}));
  CHECK(a.to_vector<double>() == std::vector<double>{111.5, 223.5, 135.5, 247.5});
  a.copy_(from_vector<float>({4, 3, 2, 1}, {2, 2}));  // converting copy
  CHECK(a.to_vector<double>() == std::vector<double>{4, 3, 2, 1});
  a.t().copy_(from_vector<double>({1, 2, 3, 4}, {2, 2}));  // into a strided view
  CHECK(a.to_vector<double>() == std::vector<double>{1, 3, 2, 4});
  a.zero_();
  CHECK(a.to_vector<double>() == std::vector<double>{0, 0, 0, 0});
  // chaining returns the same tensor
  Tensor& ref = a.fill_(1.0).mul_(3.0);
  CHECK(&ref == &a);
  CHECK(a.to_vector<double>() == std::vector<double>{3, 3, 3, 3});
  // a leaf that requires grad may be updated under NoGradGuard (what optimizers do)
  Tensor w = ones({2}, kFloat64).requires_grad_();
  {
    NoGradGuard ng;
    w.add_(from_vector<double>({0.5, -0.5}, {2}), 2.0);
  }
  CHECK(w.to_vector<double>() == std::vector<double>{2, 0});
  CHECK(w.requires_grad());
}

// ---------------------------------------------------------------- printing
TEST_CASE("tensor: operator<< prints values, then shape, dtype, device and requires_grad") {
  const std::string s = to_string(from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  CHECK(contains(s, "[float32 tensor of shape [2, 3] on cpu]"));
  CHECK(contains(s, "1"));
  CHECK(contains(s, "6"));
  CHECK_FALSE(contains(s, "requires_grad"));
  std::ostringstream os;
  os << ones({2}, kFloat64).requires_grad_();
  CHECK(contains(os.str(), "[float64 tensor of shape [2] on cpu, requires_grad]"));
  // long dimensions are abridged: first 3, "...", last 3
  const std::string longs = to_string(arange(100));
  CHECK(contains(longs, "..."));
  CHECK(contains(longs, "99"));
  CHECK_FALSE(contains(longs, " 50,"));
  CHECK(contains(longs, "int64 tensor of shape [100]"));
  CHECK(contains(to_string(scalar_tensor(2.5)), "2.5"));
  CHECK(contains(to_string(scalar_tensor(2.5)), "shape []"));
  CHECK(contains(to_string(zeros({0, 2})), "shape [0, 2]"));
  CHECK(to_string(Tensor()) == "[undefined tensor]");
  // a transposed view prints in its own (logical) order
  const std::string tr = to_string(from_vector<float>({1, 2, 3, 4}, {2, 2}).t());
  CHECK(tr.find('3') < tr.find('2'));
}
