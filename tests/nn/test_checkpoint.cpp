// Tests of nn/checkpoint: safetensors round trips, the reference byte layout,
// atomic saves, rejection of corrupt files, and mismatch reports.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "minidp/minidp.h"
#include "test_util.h"
#include "temp_dir.h"
#include "minidp/nn/checkpoint.h"

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

// A header padded with spaces to a multiple of 8, as the reference writer does.
std::string padded(std::string h) {
  h.append((8 - h.size() % 8) % 8, ' ');
  return h;
}

// zlib's crc32 of some bytes as 8 hex digits: what minidp records per tensor.
std::string crc_hex(const void* p, std::size_t n) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08lx", ::crc32(0L, static_cast<const Bytef*>(p), static_cast<uInt>(n)));
  return buf;
}

// doctest::Contains of a std::string (or a literal).
doctest::Contains contains(const std::string& s) { return doctest::Contains(s.c_str()); }

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
  CHECK(ck.metadata == meta);  // the checksum keys are minidp's own: not among the caller's metadata
  CHECK(ck.verified == m.size());
  REQUIRE(ck.tensors.size() == m.size());
  for (const auto& [name_binding, t] : m) {
    const std::string& name = name_binding;  // (INFO's lambda cannot take a structured binding on clang < 16)
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
  CHECK_THROWS_WITH_AS(save_safetensors(dir / "dup.safetensors", list), contains("occurs twice"), Error);
}

TEST_CASE("checkpoint: the byte layout is the reference implementation's") {
  TempDir dir("ckptref");
  // The reference's own serialisation test: "attn.0", F32 [1,2,3] = 0..5.
  // minidp adds one metadata string per tensor, its crc32; the reference
  // writes exactly these bytes when given that metadata.
  save_safetensors(dir / "a", TensorMap{{"attn.0", from_vector<float>({0, 1, 2, 3, 4, 5}, {1, 2, 3})}});
  const float values[6] = {0, 1, 2, 3, 4, 5};
  Bytes data(sizeof(values));
  std::memcpy(data.data(), values, sizeof(values));  // little-endian float32, as the file stores them
  const std::string h = R"({"__metadata__":{"crc32.attn.0":")" + crc_hex(data.data(), data.size()) +
                        R"("},"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  CHECK(read_all(dir / "a") == file_of(padded(h), data));
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
  const std::uint8_t u8 = 1;
  const std::int64_t i2 = 2, i4 = 4;
  const float f3 = 3;
  CHECK(header.find(R"({"__metadata__":{"a":"2","crc32.a":")" + crc_hex(&u8, 1) + R"(","crc32.b":")" +
                    crc_hex(&i2, 8) + R"(","crc32.c":")" + crc_hex(&f3, 4) + R"(","crc32.d":")" + crc_hex(&i4, 8) +
                    R"(","z":"1"},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
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
    CHECK_THROWS_WITH_AS(save_safetensors(path, newer, {{"epoch", "2"}}), contains("simulated failure"), Error);
    CHECK_THROWS_WITH_AS(save_safetensors(path, newer, {{"epoch", "2"}}),
                         contains("; the previous checkpoint " + path + " is untouched"), Error);
    CHECK_THROWS_WITH_AS(save_safetensors(dir / "new.safetensors", newer),
                         contains("; nothing was written at " + dir / "new.safetensors"), Error);
    nn::detail::checkpoint_fault_hook = nullptr;
    CHECK(read_all(path) == before);
    CHECK(dir.files() == std::vector<std::string>{"model.safetensors"});
  }

  // The temporary path cannot be created (a directory is in the way).
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  fs::create_directories(tmp);
  CHECK_THROWS_WITH_AS(save_safetensors(path, newer), contains("cannot create the temporary file"), Error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, newer), contains("untouched"), Error);
  CHECK(read_all(path) == before);
  fs::remove(tmp);

  CHECK_THROWS_WITH_AS(save_safetensors(dir / "no/such/dir/x.safetensors", newer), contains("cannot create"), Error);
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
  CHECK_THROWS_WITH_AS(load_bytes({1, 2, 3}), contains("bad.safetensors: not a safetensors file: 3 bytes"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(Bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'}), contains("bad header length"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of("{\"t\": [1,", {})), contains("the header is not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of("[1, 2]  ", {})), contains("the header must be a JSON object"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(entry("BF16", "[2]", "[0,4]"), Bytes(4, 0))),
                       contains(R"(tensor "t": dtype "BF16" is not supported by minidp)"), Error);
  CHECK_THROWS_WITH_AS(
      load_bytes(file_of(entry("F32", "[4]", "[0,16]"), Bytes(8, 0))),
      contains(R"(tensor "t": data_offsets [0, 16] are out of bounds: the data section holds 8 bytes)"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(entry("F32", "[3]", "[0,16]"), four)),
                       contains("span 16 bytes, but shape [3] of F32 needs 12"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(entry("F32", "[-3]", "[0,16]"), four)),
                       contains("must hold non-negative integers"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(entry("F32", "[4]", "[0]"), four)),
                       contains("data_offsets must be [begin, end]"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(R"({"t":{"dtype":"F32","shape":[2]}})", four)), contains("expected {\"dtype\""), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                    R"("b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]}})",
                                    four)), contains(R"(tensors "a" [0, 8] and "b" [4, 12] overlap)"), Error);
  CHECK_THROWS_WITH_AS(load_bytes(file_of(R"({"__metadata__":{"epoch":3}})", {})), contains(R"(metadata "epoch" must be a string)"), Error);
  CHECK_THROWS_WITH_AS(load_safetensors(dir / "missing.safetensors"), contains("missing.safetensors: cannot open"), Error);

  // A checkpoint cut short by a crash (what atomic saves prevent).
  save_safetensors(dir / "ok.safetensors", TensorMap{{"w", zeros({64})}});
  Bytes cut = read_all(dir / "ok.safetensors");
  cut.resize(cut.size() - 10);
  CHECK_THROWS_WITH_AS(load_bytes(cut), contains("out of bounds"), Error);
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
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), contains("model.safetensors: 4 mismatches with the expected tensors:"), Error);
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), contains("missing: \"fc2.weight\" (expected float32[10, 128])"), Error);
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), contains("unexpected: \"fc3.weight\" (float32[10, 64])"), Error);
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), contains("shape mismatch: \"fc1.weight\" is [64, 784], expected [128, 784]"), Error);
  CHECK_THROWS_WITH_AS(check_tensors(loaded, expected, "model.safetensors"), contains("dtype mismatch: \"fc1.bias\" is float64, expected float32"), Error);
  CHECK_NOTHROW(check_tensors(loaded, specs_of(loaded)));
}

namespace {

// Lowers the file size limit of this process (as `ulimit -f` does) with
// SIGXFSZ ignored, so a write past the limit fails with EFBIG like a write to
// a full disk; restores both on the way out.
struct FileSizeLimit {
  rlimit old{};
  struct sigaction old_action {};
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    REQUIRE(::sigaction(SIGXFSZ, &ignore, &old_action) == 0);
    rlimit lower = old;
    lower.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lower) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old);
    ::sigaction(SIGXFSZ, &old_action, nullptr);
  }
};

// Where tensor `name`'s bytes start in the file `b` (read from its header).
std::size_t data_start_of(const Bytes& b, const std::string& name) {
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(b[i]) << (8 * i);
  const auto h = nlohmann::json::parse(std::string(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n)));
  return 8 + n + h.at(name).at("data_offsets")[0].get<std::size_t>();
}

}  // namespace

TEST_CASE("checkpoint: a full disk (a real EFBIG) fails the save and keeps the previous checkpoint") {
  TempDir dir("ckptfull");
  const std::string path = dir / "model.safetensors";
  save_safetensors(path, TensorMap{{"w", full({64 * 1024}, 1.0)}});  // 256 KiB of data
  const Bytes before = read_all(path);
  {
    FileSizeLimit limit(100 * 1024);
    try {
      save_safetensors(path, TensorMap{{"w", full({64 * 1024}, 2.0)}});
      FAIL("the save past the file size limit succeeded");
    } catch (const Error& e) {
      const std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(path + ": cannot save: ") == 0);
      CHECK(msg.find(std::strerror(EFBIG)) != std::string::npos);
      CHECK(msg.find("(the disk is full, or a file size limit was reached)") != std::string::npos);
      CHECK(msg.find("; the previous checkpoint " + path + " is untouched") != std::string::npos);
    }
    CHECK_THROWS_WITH_AS(save_safetensors(dir / "first.safetensors", TensorMap{{"w", full({64 * 1024}, 2.0)}}),
                         contains("; nothing was written at " + dir / "first.safetensors"), Error);
  }
  CHECK(read_all(path) == before);
  CHECK(dir.files() == std::vector<std::string>{"model.safetensors"});  // no temporary file left
  CHECK(load_safetensors(path).tensors.at("w").to_vector<float>()[0] == 1.0f);
}

TEST_CASE("checkpoint: every tensor's crc32 is recorded and verified") {
  TempDir dir("ckptcrc");
  const std::string path = dir / "model.safetensors";
  const Tensor w = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = from_vector<float>({7, 8}, {2});
  save_safetensors(path, TensorMap{{"1.weight", w}, {"1.bias", b}}, {{"epoch", "3"}});
  const Bytes good = read_all(path);
  const std::string text(good.begin(), good.end());
  const Bytes wb = bytes_of(w);
  CHECK(text.find(R"("crc32.1.weight":")" + crc_hex(wb.data(), wb.size()) + "\"") != std::string::npos);
  const Checkpoint ck = load_safetensors(path);
  CHECK(ck.verified == 2);
  CHECK(ck.metadata == StringMap{{"epoch", "3"}});

  // One byte flipped in a tensor's data: the error names that tensor.
  for (const std::string name : {"1.weight", "1.bias"}) {
    INFO(name);
    Bytes bad = good;
    const std::size_t at = data_start_of(bad, name) + 5;
    bad[at] ^= 0x01;
    write_raw(path, bad);
    const Bytes tb = bytes_of(name == "1.weight" ? w : b);
    Bytes changed = tb;
    changed[5] ^= 0x01;
    CHECK_THROWS_WITH_AS(load_safetensors(path),
                         (path + ": tensor \"" + name +
                          "\": checksum mismatch: the file's bytes changed after it was written (stored crc32 " +
                          crc_hex(tb.data(), tb.size()) + ", computed " + crc_hex(changed.data(), changed.size()) + ")")
                             .c_str(),
                         Error);
  }

  // A file without checksums (as PyTorch writes it) loads, unverified.
  const std::string h = padded(R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})");
  write_raw(path, file_of(h, Bytes(8, 0)));
  const Checkpoint pt = load_safetensors(path);
  CHECK(pt.verified == 0);
  CHECK(pt.tensors.at("w").to_vector<float>() == std::vector<float>{0, 0});

  // A checksum of a tensor the file does not hold: the header was edited. Refused.
  write_raw(path, file_of(padded(R"({"__metadata__":{"crc32.gone":"00000000"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})"),
                          Bytes(8, 0)));
  CHECK_THROWS_WITH_AS(load_safetensors(path),
                       contains(path + R"(: metadata "crc32.gone" is the checksum of a tensor "gone" that the file does not hold)"),
                       Error);
  // A checksum that is not 8 hex digits.
  for (const std::string v : {"1234567", "123456789", "1234567g", "-1234567"}) {
    INFO(v);
    write_raw(path, file_of(padded(R"({"__metadata__":{"crc32.w":")" + v + R"("},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})"),
                            Bytes(8, 0)));
    CHECK_THROWS_WITH_AS(load_safetensors(path), contains("expected the tensor's crc32 as 8 hex digits"), Error);
  }
  // The key is minidp's own: a caller cannot set it.
  CHECK_THROWS_WITH_AS(save_safetensors(path, TensorMap{{"w", w}}, {{"crc32.w", "00000000"}}),
                       contains(R"(metadata key "crc32.w" is reserved)"), Error);
}

TEST_CASE("checkpoint: a header nested 100,000 levels deep is a clean error, not a stack overflow") {
  TempDir dir("ckptdeep");
  const std::string path = dir / "deep.safetensors";
  const int depth = 100'000;
  const std::string arrays = std::string(depth, '[') + std::string(depth, ']');
  std::string objects;
  for (int i = 0; i < depth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(depth, '}');
  const std::string in_metadata = "{\"__metadata__\":" + objects + "}";
  const std::string in_tensor = "{\"t\":{\"dtype\":\"F32\",\"shape\":" + arrays + ",\"data_offsets\":[0,0]}}";
  for (const std::string* h : std::vector<const std::string*>{&arrays, &objects, &in_metadata, &in_tensor}) {
    write_raw(path, file_of(padded(*h), {}));
    CHECK_THROWS_WITH_AS(load_safetensors(path),
                         contains(path + ": the header nests deeper than 8 levels (at byte "), Error);
  }
  // Brackets inside strings are not nesting: a name full of them is just a name.
  const std::string name = std::string(50, '[') + "\\\"{{{" + std::string(50, '{');
  write_raw(path, file_of(padded("{\"" + name + R"(":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})"), Bytes(4, 0)));
  CHECK(load_safetensors(path).tensors.size() == 1);
  // A value quoted in an error is cut short, however long it is.
  write_raw(path, file_of(padded(R"({"t":{"dtype":"F32","shape":"x)" + std::string(100'000, 'x') + R"(","data_offsets":[0,0]}})"), {}));
  try {
    load_safetensors(path);
    FAIL("a string shape was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("shape must be an array") != std::string::npos);
    CHECK(std::strlen(e.what()) < 400 + path.size());
  }
}

TEST_CASE("checkpoint: the tensors must fill the data section exactly") {
  TempDir dir("ckptfill");
  const std::string path = dir / "fill.safetensors";
  // A header with 7 spaces of padding, as the writer may leave; its length
  // field 1 to 7 bytes short still parses, and would read every tensor shifted.
  std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  while ((h.size() + 7) % 8 != 0) h += ' ';
  h += std::string(7, ' ');
  REQUIRE(h.size() % 8 == 0);
  const Bytes data(16, 0x3f);
  const Bytes ok = file_of(h, data);
  write_raw(path, ok);
  CHECK(load_safetensors(path).tensors.size() == 2);
  for (std::uint8_t k = 1; k <= 7; ++k) {
    INFO(int(k));
    Bytes shifted = ok;
    shifted[0] = static_cast<std::uint8_t>(h.size() - k);
    write_raw(path, shifted);
    CHECK_THROWS_WITH_AS(load_safetensors(path),
                         (path + ": " + std::to_string(k) + " bytes after the last tensor belong to no tensor (\"b\" ends at byte 16; the data section holds " +
                          std::to_string(16 + k) + " bytes); safetensors tensors must fill the data section exactly (is the header length in the first 8 bytes wrong? then every tensor would be read shifted)")
                             .c_str(),
                         Error);
  }
  auto load_header = [&](const std::string& header, std::size_t bytes) {
    write_raw(path, file_of(padded(header), Bytes(bytes, 0)));
    load_safetensors(path);
  };
  // A gap between two tensors, before the first one, and a header with no tensors but data.
  CHECK_THROWS_WITH_AS(load_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}})", 16),
                       contains(R"(: bytes [8, 12) of the data section belong to no tensor (between "a" and "b"))"), Error);
  CHECK_THROWS_WITH_AS(load_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[4,16]}})", 16),
                       contains(R"(: bytes [0, 4) of the data section belong to no tensor (before the first tensor, "a"))"), Error);
  CHECK_THROWS_WITH_AS(load_header("{}", 8),
                       contains("8 bytes after the last tensor belong to no tensor (the header names no tensor; the data section holds 8 bytes)"), Error);
  // Bytes appended after the last tensor.
  CHECK_THROWS_WITH_AS(load_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 9),
                       contains(R"(1 bytes after the last tensor belong to no tensor ("a" ends at byte 8)"), Error);
  // An empty tensor takes no bytes wherever it sits between the others; one inside another's bytes overlaps.
  CHECK_NOTHROW(load_header(R"({"e":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 16));
  CHECK_THROWS_WITH_AS(load_header(R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
                       contains(R"(tensors "a" [0, 8] and "e" [4, 4] overlap)"), Error);
}

TEST_CASE("checkpoint: a zero size does not lift the bound on the other sizes") {
  TempDir dir("ckptzero");
  const std::string path = dir / "zero.safetensors";
  auto load_shape = [&](const std::string& shape) {
    write_raw(path, file_of(padded(R"({"t":{"dtype":"F32","shape":)" + shape + R"(,"data_offsets":[0,0]}})"), {}));
    return load_safetensors(path);
  };
  // Before the zero, the sizes are held against the data section.
  CHECK_THROWS_WITH_AS(load_shape("[4294967295,4294967295,0,4294967295]"),
                       contains(R"(: tensor "t": shape [4294967295,4294967295,0,4294967295] is larger than the file's 0 bytes of data)"),
                       Error);
  // After it, against what a tensor can hold.
  for (const std::string shape : {"[0,4294967295,4294967295,4294967295]", "[0,1,4294967295,4294967295]",
                                  "[0,18446744073709551615]", "[0,9223372036854775808]", "[0,72057594037927937]"}) {
    INFO(shape);
    CHECK_THROWS_WITH_AS(load_shape(shape),
                         contains(R"(: tensor "t": shape )" + shape +
                                           ": its sizes multiply (a zero counted as one) to more than 2^56 elements"),
                         Error);
  }
  // Empty tensors of sensible shapes load, also alone in a file without data.
  CHECK(load_shape("[0,4]").tensors.at("t").shape() == Shape{0, 4});
  CHECK(load_shape("[0,72057594037927936]").tensors.at("t").numel() == 0);  // 2^56: the largest span
}
