// minidp/nn/checkpoint.cpp — safetensors writer and reader, atomic saves.
#include "nn/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace minidp::nn {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; minidp writes host memory as is");

namespace detail {
std::function<void(const std::string&)> checkpoint_fault_hook;
}

namespace {

// The reference writer orders tensors by dtype, widest-aligned first, so every
// tensor's data starts aligned; this is its dtype order (I64 > F64 > F32 > I32 > U8).
int dtype_rank(DType t) {
  switch (t) {
    case DType::Int64: return 5;
    case DType::Float64: return 4;
    case DType::Float32: return 3;
    case DType::Int32: return 2;
    case DType::UInt8: return 1;
  }
  return 0;
}

constexpr std::uint64_t kMaxHeader = 100'000'000;  // the reference reader's limit

void fault(const char* stage) {
  if (detail::checkpoint_fault_hook) detail::checkpoint_fault_hook(stage);
}

std::string dir_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The header bytes, laid out exactly as the reference implementation does:
// compact JSON, "__metadata__" first (only when there is metadata), then the
// tensors in data order with fields dtype, shape, data_offsets; spaces up to a
// multiple of 8 so the data that follows is 8-byte aligned.
std::string make_header(const std::vector<std::pair<std::string, Tensor>>& tensors, const StringMap& metadata) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    h["__metadata__"] = m;
  }
  std::uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const std::uint64_t n = static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype());
    nlohmann::ordered_json e = nlohmann::ordered_json::object();
    e["dtype"] = safetensors_dtype(t.dtype());
    e["shape"] = t.shape();
    e["data_offsets"] = {offset, offset + n};
    h[name] = e;
    offset += n;
  }
  std::string s = h.dump();
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

}  // namespace

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::Int32: return "I32";
    case DType::UInt8: return "U8";
  }
  return "?";
}

DType dtype_from_safetensors(const std::string& name, const std::string& path) {
  for (DType t : {kFloat32, kFloat64, kInt64, kInt32, kUInt8}) {
    if (name == safetensors_dtype(t)) return t;
  }
  MINIDP_FAIL(path, ": dtype \"", name, "\" is not supported by minidp (supported: F32, F64, I64, I32, U8)");
}

// ------------------------------------------------------------------ saving
void save_safetensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata) {
  MINIDP_CHECK(!path.empty(), "save_safetensors: empty path");
  std::vector<std::pair<std::string, Tensor>> sorted;
  for (const auto& [name, t] : tensors) {
    MINIDP_CHECK(t.defined(), path, ": tensor \"", name, "\" is undefined");
    MINIDP_CHECK(name != "__metadata__", path, ": \"__metadata__\" is reserved and cannot name a tensor");
    // Host copy, contiguous, cut from autograd: the file holds values only.
    sorted.emplace_back(name, t.detach().to(Device::cpu()).contiguous());
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return dtype_rank(a.second.dtype()) > dtype_rank(b.second.dtype());  // names already sorted (std::map)
  });
  std::string header;
  try {
    header = make_header(sorted, metadata);
  } catch (const nlohmann::json::exception& e) {
    MINIDP_FAIL(path, ": cannot encode the header (names and metadata must be valid UTF-8): ", e.what());
  }

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  MINIDP_CHECK(f != nullptr, path, ": cannot save: cannot create the temporary file ", tmp, ": ",
               std::strerror(errno), " (the previous ", path, ", if any, is untouched)");
  // Until the rename succeeds, any failure closes and removes the temporary file.
  try {
    const auto write = [&](const void* p, std::size_t n) {
      MINIDP_CHECK(n == 0 || std::fwrite(p, 1, n, f) == n, path, ": cannot save: writing ", tmp, " failed: ",
                   std::strerror(errno));
    };
    std::uint8_t len[8];
    const std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
    write(len, 8);
    write(header.data(), header.size());
    for (const auto& [name, t] : sorted) {
      write(t.raw_data(), static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
    }
    fault("write");
    MINIDP_CHECK(std::fflush(f) == 0, path, ": cannot save: flushing ", tmp, " failed: ", std::strerror(errno));
    // fsync before rename: otherwise the rename can reach the disk before the
    // data, and a power cut leaves an empty file under the checkpoint's name.
    MINIDP_CHECK(::fsync(::fileno(f)) == 0, path, ": cannot save: fsync of ", tmp, " failed: ", std::strerror(errno));
    fault("fsync");
    const int rc = std::fclose(f);
    f = nullptr;
    MINIDP_CHECK(rc == 0, path, ": cannot save: closing ", tmp, " failed: ", std::strerror(errno));
    fault("rename");
    MINIDP_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": cannot save: renaming ", tmp, " over it failed: ",
                 std::strerror(errno));
  } catch (...) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  // The rename is a change to the directory; fsync it so the new name is durable.
  const std::string dir = dir_of(path);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  MINIDP_CHECK(dfd >= 0, path, ": saved, but cannot open its directory ", dir, " to fsync it: ", std::strerror(errno));
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  MINIDP_CHECK(rc == 0 || err == EINVAL, path, ": saved, but fsync of the directory ", dir,
               " failed: ", std::strerror(err));
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const StringMap& metadata) {
  TensorMap m;
  for (const auto& [name, t] : tensors) {
    MINIDP_CHECK(m.emplace(name, t).second, path, ": tensor name \"", name, "\" occurs twice");
  }
  save_safetensors(path, m, metadata);
}

// ------------------------------------------------------------------ loading
Checkpoint load_safetensors(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  MINIDP_CHECK(f != nullptr, path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  MINIDP_CHECK(::fstat(::fileno(f.get()), &st) == 0, path, ": cannot stat: ", std::strerror(errno));
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  MINIDP_CHECK(file_size >= 8, path, ": not a safetensors file: ", file_size,
               " bytes, less than the 8-byte header length");

  std::uint8_t len[8];
  MINIDP_CHECK(std::fread(len, 1, 8, f.get()) == 8, path, ": read error");
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(len[i]) << (8 * i);
  MINIDP_CHECK(n <= kMaxHeader && n <= file_size - 8, path, ": bad header length ", n, " (the file has ", file_size,
               " bytes; the header must fit in it and be at most ", kMaxHeader,
               " bytes) — not a safetensors file, or a truncated one");
  std::string text(n, '\0');
  MINIDP_CHECK(std::fread(text.data(), 1, n, f.get()) == n, path, ": read error in the header");

  nlohmann::json h;
  try {
    h = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    MINIDP_FAIL(path, ": the header is not valid JSON: ", e.what());
  }
  MINIDP_CHECK(h.is_object(), path, ": the header must be a JSON object, got ", h.type_name());

  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    std::uint64_t begin, end;
  };
  const std::uint64_t data_size = file_size - 8 - n;
  Checkpoint ck;
  std::vector<Entry> entries;
  for (const auto& [name, e] : h.items()) {
    if (name == "__metadata__") {
      MINIDP_CHECK(e.is_object(), path, ": \"__metadata__\" must be an object of strings");
      for (const auto& [k, v] : e.items()) {
        MINIDP_CHECK(v.is_string(), path, ": metadata \"", k, "\" must be a string, got ", v.dump());
        ck.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = path + ": tensor \"" + name + "\"";
    MINIDP_CHECK(e.is_object() && e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"), where,
                 ": expected {\"dtype\", \"shape\", \"data_offsets\"}, got ", e.dump());
    MINIDP_CHECK(e["dtype"].is_string(), where, ": dtype must be a string, got ", e["dtype"].dump());
    Entry en{name, dtype_from_safetensors(e["dtype"].get<std::string>(), where), {}, 0, 0};
    MINIDP_CHECK(e["shape"].is_array(), where, ": shape must be an array, got ", e["shape"].dump());
    std::uint64_t numel = 1;
    for (const auto& d : e["shape"]) {
      MINIDP_CHECK(d.is_number_unsigned(), where, ": shape ", e["shape"].dump(), " must hold non-negative integers");
      const auto v = d.get<std::uint64_t>();
      MINIDP_CHECK(v == 0 || numel <= data_size / v, where, ": shape ", e["shape"].dump(),
                   " is larger than the file's ", data_size, " bytes of data");
      numel *= v;
      en.shape.push_back(static_cast<std::int64_t>(v));
    }
    const auto& off = e["data_offsets"];
    MINIDP_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                 where, ": data_offsets must be [begin, end], got ", off.dump());
    en.begin = off[0].get<std::uint64_t>();
    en.end = off[1].get<std::uint64_t>();
    MINIDP_CHECK(en.begin <= en.end && en.end <= data_size, where, ": data_offsets [", en.begin, ", ", en.end,
                 "] are out of bounds: the data section holds ", data_size, " bytes");
    const std::uint64_t bytes = numel * dtype_size(en.dtype);
    MINIDP_CHECK(en.end - en.begin == bytes, where, ": data_offsets [", en.begin, ", ", en.end, "] span ",
                 en.end - en.begin, " bytes, but shape ", shape_str(en.shape), " of ", e["dtype"].get<std::string>(),
                 " needs ", bytes);
    entries.push_back(std::move(en));
  }
  // Two tensors must not share bytes (writing one would change the other).
  std::vector<const Entry*> by_offset;
  for (const Entry& en : entries) {
    if (en.end > en.begin) by_offset.push_back(&en);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    MINIDP_CHECK(by_offset[i]->begin >= by_offset[i - 1]->end, path, ": tensors \"", by_offset[i - 1]->name,
                 "\" [", by_offset[i - 1]->begin, ", ", by_offset[i - 1]->end, "] and \"", by_offset[i]->name, "\" [",
                 by_offset[i]->begin, ", ", by_offset[i]->end, "] overlap");
  }
  for (const Entry& en : entries) {
    Tensor t = Tensor::empty(en.shape, TensorOptions(en.dtype));
    const std::uint64_t bytes = en.end - en.begin;
    if (bytes > 0) {
      MINIDP_CHECK(std::fseek(f.get(), static_cast<long>(8 + n + en.begin), SEEK_SET) == 0 &&
                       std::fread(t.raw_data(), 1, bytes, f.get()) == bytes,
                   path, ": read error in the data of tensor \"", en.name, "\"");
    }
    ck.tensors.emplace(en.name, t);
  }
  return ck;
}

// ------------------------------------------------------------------ checks
std::map<std::string, TensorSpec> specs_of(const TensorMap& tensors) {
  std::map<std::string, TensorSpec> s;
  for (const auto& [name, t] : tensors) s[name] = {t.shape(), t.dtype()};
  return s;
}

std::map<std::string, TensorSpec> specs_of(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::map<std::string, TensorSpec> s;
  for (const auto& [name, t] : tensors) s[name] = {t.shape(), t.dtype()};
  return s;
}

std::vector<std::string> tensor_mismatches(const TensorMap& actual, const std::map<std::string, TensorSpec>& expected) {
  std::vector<std::string> out;
  for (const auto& [name, spec] : expected) {
    const auto it = actual.find(name);
    if (it == actual.end()) {
      out.push_back("missing: \"" + name + "\" (expected " + dtype_name(spec.dtype) + shape_str(spec.shape) + ")");
      continue;
    }
    const Tensor& t = it->second;
    if (t.shape() != spec.shape) {
      out.push_back("shape mismatch: \"" + name + "\" is " + t.shape_str() + ", expected " + shape_str(spec.shape));
    }
    if (t.dtype() != spec.dtype) {
      out.push_back("dtype mismatch: \"" + name + "\" is " + dtype_name(t.dtype()) + ", expected " +
                    dtype_name(spec.dtype));
    }
  }
  for (const auto& [name, t] : actual) {
    if (!expected.count(name)) {
      out.push_back("unexpected: \"" + name + "\" (" + dtype_name(t.dtype()) + t.shape_str() + ")");
    }
  }
  return out;
}

void check_tensors(const TensorMap& actual, const std::map<std::string, TensorSpec>& expected, const std::string& what) {
  const std::vector<std::string> problems = tensor_mismatches(actual, expected);
  if (problems.empty()) return;
  std::string msg = what + ": " + std::to_string(problems.size()) + " mismatch" + (problems.size() == 1 ? "" : "es") +
                    " with the expected tensors:";
  for (const std::string& p : problems) msg += "\n  " + p;
  MINIDP_FAIL(msg);
}

}  // namespace minidp::nn
