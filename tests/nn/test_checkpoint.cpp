// Tests of nn/checkpoint: safetensors round trips, the reference byte layout,
// atomic saves, rejection of corrupt files, and mismatch reports.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "minidp.h"
#include "test_util.h"
#include "temp_dir.h"
#include "nn/checkpoint.h"

using namespace minidp;
using namespace minidp::nn;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

using minidp::test::TempDir;

Bytes read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

void write_raw(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// A safetensors file from a header string and raw data (the length prefix added here).
Bytes file_of(const std::string& header, const Bytes& data) {
  Bytes b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(header.size()) >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  const auto* p = static_cast<const std::uint8_t*>(c.raw_data());
  return Bytes(p, p + c.numel() * static_cast<std::int64_t>(dtype_size(c.dtype())));
}

TensorMap all_dtypes() {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  TensorMap m;
  m["f32"] = from_vector<float>({1.5f, -0.0f, nan, inf, -inf, 1e-45f}, {2, 3});
  m["f64"] = from_vector<double>({3.141592653589793, -1e308, 5e-324}, {3});
  m["i64"] = from_vector<std::int64_t>({std::numeric_limits<std::int64_t>::min(), -1, 0,
                                        std::numeric_limits<std::int64_t>::max()}, {2, 2});
  m["i32"] = from_vector<std::int32_t>({-7, 2147483647}, {2, 1});
  m["u8"] = from_vector<std::uint8_t>({0, 128, 255}, {3});
  m["scalar"] = from_vector<float>({42.0f}, {});
  m["empty"] = zeros({0, 4});
  m["transposed"] = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).t();  // non-contiguous view
  return m;
}

}  // namespace

TEST_CASE("checkpoint: every dtype round-trips bitwise, with metadata") {
  TempDir dir("ckpt");
  const TensorMap m = all_dtypes();
  const StringMap meta = {{"epoch", "7"}, {"format", "pt"}, {"note", "\u00e9t\u00e9 \"quoted\"\n"}};
  save_safetensors(dir / "all.safetensors", m, meta);
  const Checkpoint ck = load_safetensors(dir / "all.safetensors");
  CHECK(ck.metadata == meta);
  REQUIRE(ck.tensors.size() == m.size());
  for (const auto& [name, t] : m) {
    INFO(name);
    const Tensor& u = ck.tensors.at(name);
    CHECK(u.dtype() == t.dtype());
    CHECK(u.shape() == t.shape());
    CHECK(bytes_of(u) == bytes_of(t));
  }
  CHECK(ck.tensors.at("transposed").to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(dir.files() == std::vector<std::string>{"all.safetensors"});  // no temporary left behind
  // The ordered-list overload (a Module's state_dict) writes the same file.
  std::vector<std::pair<std::string, Tensor>> list(m.rbegin(), m.rend());
  save_safetensors(dir / "list.safetensors", list, meta);
  CHECK(read_all(dir / "list.safetensors") == read_all(dir / "all.safetensors"));
  list.push_back(list[0]);
  CHECK_THROWS_WITH_AS(save_safetensors(dir / "dup.safetensors", list), doctest::Contains("occurs twice"), Error);
}

TEST_CASE("checkpoint: the byte layout is the reference implementation's") {
  TempDir dir("ckptref");
  // The reference's own serialisation test: "attn.0", F32 [1,2,3] = 0..5.
  save_safetensors(dir / "a", TensorMap{{"attn.0", from_vector<float>({0, 1, 2, 3, 4, 5}, {1, 2, 3})}});
  const std::string h = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  CHECK(h.size() == 64);
  const float values[6] = {0, 1, 2, 3, 4, 5};
  Bytes data(sizeof(values));
  std::memcpy(data.data(), values, sizeof(values));  // little-endian float32, as the file stores them
  CHECK(read_all(dir / "a") == file_of(h, data));
  // No tensors, metadata only: padded with spaces to a multiple of 8.
  save_safetensors(dir / "b", TensorMap{}, {{"framework", "pt"}});
  CHECK(read_all(dir / "b") == file_of(R"({"__metadata__":{"framework":"pt"}}     )", {}));
  save_safetensors(dir / "c", TensorMap{});
  CHECK(read_all(dir / "c") == file_of("{}      ", {}));
  // Widest dtypes first, then by name; metadata keys sorted.
  save_safetensors(dir / "d",
                   TensorMap{{"a", from_vector<std::uint8_t>({1}, {1})}, {"b", from_vector<std::int64_t>({2}, {1})},
                             {"c", from_vector<float>({3}, {1})}, {"d", from_vector<std::int64_t>({4}, {1})}},
                   {{"z", "1"}, {"a", "2"}});
  const Bytes d = read_all(dir / "d");
  const std::string header(d.begin() + 8, d.end() - 21);
  CHECK(header.find(R"({"__metadata__":{"a":"2","z":"1"},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                    R"("d":{"dtype":"I64","shape":[1],"data_offsets":[8,16]},)"
                    R"("c":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},)"
                    R"("a":{"dtype":"U8","shape":[1],"data_offsets":[20,21]}})") == 0);
  CHECK((d.size() - 21) % 8 == 0);  // data starts 8-byte aligned
}

TEST_CASE("checkpoint: a failed save never destroys the previous checkpoint") {
  TempDir dir("ckptatomic");
  const std::string path = dir / "model.safetensors";
  save_safetensors(path, TensorMap{{"w", from_vector<float>({1, 2, 3}, {3})}}, {{"epoch", "1"}});
  const Bytes before = read_all(path);
  const TensorMap newer{{"w", from_vector<float>({9, 9, 9, 9}, {4})}};

  for (const char* stage : {"write", "fsync", "rename"}) {
    INFO(stage);
    nn::detail::checkpoint_fault_hook = [&](const std::string& s) {
      if (s == stage) MINIDP_FAIL("simulated failure at ", s);
    };
    CHECK_THROWS_WITH_AS(save_safetensors(path, newer, {{"epoch", "2"}}), doctest::Contains("simulated failure"), Error);
    nn::detail::checkpoint_fault_hook = nullptr;
    CHECK(read_all(path) == before);
    CHECK(dir.files() == std::vector<std::string>{"model.safetensors"});
  }

  // The temporary path cannot be created (a directory is in the way).
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  fs::create_directories(tmp);
  CHECK_THROWS_WITH_AS(save_safetensors(path, newer), doctest::Contains("cannot create the temporary file"), Error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, newer), doctest::Contains("untouched"), Error);
  CHECK(read_all(path) == before);
  fs::remove(tmp);

  CHECK_THROWS_WITH_AS(save_safetensors(dir / "no/such/dir/x.safetensors", newer), doctest::Contains("cannot create"), Error);
  save_safetensors(path, newer, {{"epoch", "2"}});  // and a good save replaces it
  CHECK(load_safetensors(path).metadata.at("epoch") == "2");
  CHECK(dir.files() == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("checkpoint: corrupt files are rejected with the file and the problem") {
  TempDir dir("ckptbad");
  auto load_bytes = [&](const Bytes& b) {  // writes the bytes, then loads them (and throws)
    write_raw(dir / "bad.safetensors", b);
    load_safetensors(dir / "bad.safetensors");
  };
  const Bytes four(16, 0);
  auto entry = [](const std::string& dtype, const std::string& shape, const std::string& off) {
    return R"({"t":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + off + "}}";
  };
  CHECK_THROWS_WITH_AS(load_bytes({1, 2, 3}), doctest::Contains("bad.safetensors: not a safetensors file: 3 bytes"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(Bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'}), doctest::Contains("bad header length"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of("{\"t\": [1,", {})), doctest::Contains("the header is not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of("[1, 2]  ", {})), doctest::Contains("the header must be a JSON object"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(entry("BF16", "[2]", "[0,4]"), Bytes(4, 0))),
                       doctest::Contains(R"(tensor "t": dtype "BF16" is not supported by minidp)"), Error);
  CHECK_THROWS_WITH_AS(
      load_bytes(file_of(entry("F32", "[4]", "[0,16]"), Bytes(8, 0))),
      doctest::Contains(R"(tensor "t": data_offsets [0, 16] are out of bounds: the data section holds 8 bytes)"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(entry("F32", "[3]", "[0,16]"), four)),
                       doctest::Contains("span 16 bytes, but shape [3] of F32 needs 12"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(entry("F32", "[-3]", "[0,16]"), four)),
                       doctest::Contains("must hold non-negative integers"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(entry("F32", "[4]", "[0]"), four)),
                       doctest::Contains("data_offsets must be [begin, end]"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(R"({"t":{"dtype":"F32","shape":[2]}})", four)), doctest::Contains("expected {\"dtype\""), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                    R"("b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]}})",
                                    four)), doctest::Contains(R"(tensors "a" [0, 8] and "b" [4, 12] overlap)"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(R"({"__metadata__":{"epoch":3}})", {})), doctest::Contains(R"(metadata "epoch" must be a string)"), Error);
  CHECK_THROWS_WITH_AS(load_safetensors(dir / "missing.safetensors"), doctest::Contains("missing.safetensors: cannot open"), Error);

  // A checkpoint cut short by a crash (what atomic saves prevent).
  save_safetensors(dir / "ok.safetensors", TensorMap{{"w", zeros({64})}});
  Bytes cut = read_all(dir / "ok.safetensors");
  cut.resize(cut.size() - 10);
  CHECK_THROWS_WITH_AS(load_bytes(cut), doctest::Contains("out of bounds"), Error);
}

TEST_CASE("checkpoint: every mismatch with the expected tensors is listed at once") {
  const TensorMap loaded{{"fc1.weight", zeros({64, 784})},
                         {"fc1.bias", zeros({64}, kFloat64)},
                         {"fc3.weight", zeros({10, 64})}};
  std::map<std::string, TensorSpec> expected{{"fc1.weight", {{128, 784}, kFloat32}},
                                             {"fc1.bias", {{64}, kFloat32}},
                                             {"fc2.weight", {{10, 128}, kFloat32}}};
  const auto problems = tensor_mismatches(loaded, expected);
  CHECK(problems.size() == 4);
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), doctest::Contains("model.safetensors: 4 mismatches with the expected tensors:"), Error);
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), doctest::Contains("missing: \"fc2.weight\" (expected float32[10, 128])"), Error);
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), doctest::Contains("unexpected: \"fc3.weight\" (float32[10, 64])"), Error);
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), doctest::Contains("shape mismatch: \"fc1.weight\" is [64, 784], expected [128, 784]"), Error);
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), doctest::Contains("dtype mismatch: \"fc1.bias\" is float64, expected float32"), Error);
  CHECK_NOTHROW(check_tensors(loaded, specs_of(loaded)));
}
