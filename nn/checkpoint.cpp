// minidp/nn/checkpoint.cpp — safetensors writer and reader, atomic saves.
#include "minidp/nn/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include "minidp/core/error.h"

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
// A safetensors header nests 3 levels deep ({"name": {"shape": [...]}}); a
// deeper one is not a safetensors header, and refusing it before parsing means
// no recursion (a dump(), a destructor) ever walks 100,000 levels.
constexpr int kMaxDepth = 8;
// The most elements of any tensor, its sizes multiplied with a zero counted as
// one (minidp forms the strides from that product even for an empty tensor).
constexpr std::uint64_t kMaxSpan = std::uint64_t{1} << 56;
// Quoted header values and names are cut to this many characters in messages.
constexpr std::size_t kMaxQuoted = 200;
const std::string kChecksumPrefix = "crc32.";

void fault(const char* stage) {
  if (detail::checkpoint_fault_hook) detail::checkpoint_fault_hook(stage);
}

// zlib's crc32 (the checksum of gzip and PNG) of n bytes, in pieces that fit its 32-bit length.
std::uint32_t crc32_of(const void* data, std::size_t n) {
  uLong c = ::crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    const auto k = static_cast<uInt>(std::min<std::size_t>(n, std::size_t{1} << 30));
    c = ::crc32(c, p, k);
    p += k;
    n -= k;
  }
  return static_cast<std::uint32_t>(c);
}

std::string hex8(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// s, cut to kMaxQuoted characters (at a UTF-8 character boundary) with the full length named.
std::string clip(const std::string& s) {
  if (s.size() <= kMaxQuoted) return s;
  std::size_t cut = kMaxQuoted;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "... (" + std::to_string(s.size()) + " characters)";
}
std::string quote(const std::string& name) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "literal" + std::string&&.
  std::string q(1, '"');
  q += clip(name);
  q += '"';
  return q;
}
// A header value as JSON text for a message, clipped (the header's depth is bounded before this can run).
std::string show(const nlohmann::json& j) {
  return clip(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Refuse a header that nests deeper than kMaxDepth, scanning the text the way
// the JSON parser will (brackets inside strings do not count).
void check_depth(const std::string& text, const std::string& path) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      MINIDP_CHECK(++depth <= kMaxDepth, path, ": the header nests deeper than ", kMaxDepth,
                   " levels (at byte ", i, " of the header); a safetensors header needs 3 ",
                   "({\"name\": {\"shape\": [...]}}) — not a safetensors file, or a corrupt one");
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
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
  // Every tensor's checksum goes into the metadata ("crc32.<name>": 8 hex
  // digits), where other readers ignore it and load_safetensors verifies it.
  StringMap meta = metadata;
  for (const auto& [key, value] : metadata) {
    MINIDP_CHECK(key.rfind(kChecksumPrefix, 0) != 0, path, ": metadata key ", quote(key),
                 " is reserved: minidp writes \"", kChecksumPrefix, "<tensor name>\" itself, the checksum of that tensor");
  }
  for (const auto& [name, t] : sorted) {
    meta[kChecksumPrefix + name] = hex8(crc32_of(t.raw_data(), static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype())));
  }
  std::string header;
  try {
    header = make_header(sorted, meta);
  } catch (const nlohmann::json::exception& e) {
    MINIDP_FAIL(path, ": cannot encode the header (names and metadata must be valid UTF-8): ", e.what());
  }

  // Every failure before the rename says what became of the file already at `path`.
  struct stat before {};
  const std::string untouched = ::stat(path.c_str(), &before) == 0
                                    ? "; the previous checkpoint " + path + " is untouched"
                                    : "; nothing was written at " + path;
  const auto why = [](int err) {
    std::string m = std::strerror(err);
    if (err == ENOSPC || err == EFBIG || err == EDQUOT) m += " (the disk is full, or a file size limit was reached)";
    return m;
  };
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  MINIDP_CHECK(f != nullptr, path, ": cannot save: cannot create the temporary file ", tmp, ": ", why(errno), untouched);
  // Until the rename succeeds, any failure closes and removes the temporary file.
  try {
    const auto write = [&](const void* p, std::size_t n) {
      MINIDP_CHECK(n == 0 || std::fwrite(p, 1, n, f) == n, path, ": cannot save: writing ", tmp, " failed: ",
                   why(errno));
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
    MINIDP_CHECK(std::fflush(f) == 0, path, ": cannot save: flushing ", tmp, " failed: ", why(errno));
    // fsync before rename: otherwise the rename can reach the disk before the
    // data, and a power cut leaves an empty file under the checkpoint's name.
    MINIDP_CHECK(::fsync(::fileno(f)) == 0, path, ": cannot save: fsync of ", tmp, " failed: ", why(errno));
    fault("fsync");
    const int rc = std::fclose(f);
    f = nullptr;
    MINIDP_CHECK(rc == 0, path, ": cannot save: closing ", tmp, " failed: ", why(errno));
    fault("rename");
    MINIDP_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": cannot save: renaming ", tmp, " over it failed: ",
                 std::strerror(errno));
  } catch (const Error& e) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    MINIDP_FAIL(e.what(), untouched);
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

  check_depth(text, path);
  nlohmann::json h;
  try {
    h = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    MINIDP_FAIL(path, ": the header is not valid JSON: ", clip(e.what()));
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
  std::map<std::string, std::uint32_t> checksums;  // tensor name -> stored crc32
  for (const auto& [name, e] : h.items()) {
    if (name == "__metadata__") {
      MINIDP_CHECK(e.is_object(), path, ": \"__metadata__\" must be an object of strings, got ", show(e));
      for (const auto& [k, v] : e.items()) {
        MINIDP_CHECK(v.is_string(), path, ": metadata ", quote(k), " must be a string, got ", show(v));
        const std::string& s = v.get_ref<const std::string&>();
        if (k.rfind(kChecksumPrefix, 0) == 0) {
          const bool hex = s.size() == 8 && std::all_of(s.begin(), s.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
          });
          MINIDP_CHECK(hex, path, ": metadata ", quote(k), " is ", quote(s),
                       "; expected the tensor's crc32 as 8 hex digits");
          std::uint32_t crc = 0;
          std::from_chars(s.data(), s.data() + s.size(), crc, 16);
          checksums[k.substr(kChecksumPrefix.size())] = crc;
        } else {
          ck.metadata[k] = s;
        }
      }
      continue;
    }
    const std::string where = path + ": tensor " + quote(name);
    MINIDP_CHECK(e.is_object() && e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"), where,
                 ": expected {\"dtype\", \"shape\", \"data_offsets\"}, got ", show(e));
    MINIDP_CHECK(e["dtype"].is_string(), where, ": dtype must be a string, got ", show(e["dtype"]));
    Entry en{name, dtype_from_safetensors(clip(e["dtype"].get<std::string>()), where), {}, 0, 0};
    MINIDP_CHECK(e["shape"].is_array(), where, ": shape must be an array, got ", show(e["shape"]));
    // Two bounds: the elements must fit in the data section, and the sizes'
    // product with zeros counted as one must fit minidp's strides — a zero
    // size makes the tensor empty but does not make [0, 2^32, 2^32] harmless.
    std::uint64_t numel = 1, span = 1;
    for (const auto& d : e["shape"]) {
      MINIDP_CHECK(d.is_number_unsigned(), where, ": shape ", show(e["shape"]), " must hold non-negative integers");
      const auto v = d.get<std::uint64_t>();
      MINIDP_CHECK(v == 0 || span <= kMaxSpan / v, where, ": shape ", show(e["shape"]),
                   ": its sizes multiply (a zero counted as one) to more than 2^56 elements, more than any tensor ",
                   "minidp can hold");
      span *= std::max<std::uint64_t>(v, 1);
      MINIDP_CHECK(v == 0 || numel <= data_size / v, where, ": shape ", show(e["shape"]),
                   " is larger than the file's ", data_size, " bytes of data");
      numel *= v;
      en.shape.push_back(static_cast<std::int64_t>(v));
    }
    const auto& off = e["data_offsets"];
    MINIDP_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                 where, ": data_offsets must be [begin, end], got ", show(off));
    en.begin = off[0].get<std::uint64_t>();
    en.end = off[1].get<std::uint64_t>();
    MINIDP_CHECK(en.begin <= en.end && en.end <= data_size, where, ": data_offsets [", en.begin, ", ", en.end,
                 "] are out of bounds: the data section holds ", data_size, " bytes");
    const std::uint64_t bytes = numel * dtype_size(en.dtype);
    MINIDP_CHECK(en.end - en.begin == bytes, where, ": data_offsets [", en.begin, ", ", en.end, "] span ",
                 en.end - en.begin, " bytes, but shape ", shape_str(en.shape), " of ", safetensors_dtype(en.dtype),
                 " needs ", bytes);
    entries.push_back(std::move(en));
  }
  for (const auto& checksum : checksums) {
    const std::string& name = checksum.first;
    MINIDP_CHECK(std::any_of(entries.begin(), entries.end(), [&](const Entry& en) { return en.name == name; }), path,
                 ": metadata ", quote(kChecksumPrefix + name), " is the checksum of a tensor ", quote(name),
                 " that the file does not hold (was a tensor removed from the header?)");
  }

  // The tensors must fill the data section exactly, as the reference reader
  // requires: sorted by offset they start at 0, follow each other without a
  // gap or an overlap, and the last one ends at the end of the file. A header
  // length a few bytes off (into the padding spaces) still parses, but would
  // read every tensor shifted; this is where it is caught.
  std::vector<const Entry*> by_offset;
  for (const Entry& en : entries) by_offset.push_back(&en);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  constexpr const char* kExact =
      "; safetensors tensors must fill the data section exactly (is the header length in the first 8 bytes wrong? "
      "then every tensor would be read shifted)";
  std::uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry* en : by_offset) {
    MINIDP_CHECK(en->begin <= covered, path, ": bytes [", covered, ", ", en->begin,
                 ") of the data section belong to no tensor (",
                 prev ? "between " + quote(prev->name) + " and " + quote(en->name)
                      : "before the first tensor, " + quote(en->name),
                 ")", kExact);
    MINIDP_CHECK(en->begin == covered, path, ": tensors ", quote(prev->name), " [", prev->begin, ", ", prev->end,
                 "] and ", quote(en->name), " [", en->begin, ", ", en->end, "] overlap");
    covered = en->end;
    prev = en;
  }
  MINIDP_CHECK(covered == data_size, path, ": ", data_size - covered, " bytes after the last tensor belong to no tensor (",
               prev ? quote(prev->name) + " ends at byte " + std::to_string(covered) : std::string("the header names no tensor"),
               "; the data section holds ", data_size, " bytes)", kExact);

  // Read the data in file order, verifying each checksum the file carries.
  for (const Entry* en : by_offset) {
    Tensor t = Tensor::empty(en->shape, TensorOptions(en->dtype));
    const std::uint64_t bytes = en->end - en->begin;
    if (bytes > 0) {
      MINIDP_CHECK(std::fseek(f.get(), static_cast<long>(8 + n + en->begin), SEEK_SET) == 0 &&
                       std::fread(t.raw_data(), 1, bytes, f.get()) == bytes,
                   path, ": read error in the data of tensor ", quote(en->name));
    }
    const auto crc = checksums.find(en->name);
    if (crc != checksums.end()) {
      const std::uint32_t computed = crc32_of(t.raw_data(), static_cast<std::size_t>(bytes));
      MINIDP_CHECK(computed == crc->second, path, ": tensor ", quote(en->name),
                   ": checksum mismatch: the file's bytes changed after it was written (stored crc32 ",
                   hex8(crc->second), ", computed ", hex8(computed), ")");
      ++ck.verified;
    }
    ck.tensors.emplace(en->name, t);
  }
  return ck;
}

}  // namespace minidp::nn
