// minidp/nn/data/file_io.cpp — whole-file reads with transparent gzip.
#include "nn/data/file_io.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace minidp::nn::data {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::uint8_t> read_raw(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) MINIDP_FAIL(path, ": cannot open: ", std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  MINIDP_CHECK(!std::ferror(f.get()), path, ": read error: ", std::strerror(errno));
  return bytes;
}

// Inflate a (possibly multi-member) gzip buffer. A stream that stops before its
// end marker is a truncated download: say so rather than return partial data.
std::vector<std::uint8_t> gunzip(const std::string& path, const std::vector<std::uint8_t>& in) {
  std::vector<std::uint8_t> out;
  if (in.size() >= 18) {  // the trailer's ISIZE (size mod 2^32) is a good reservation hint
    const std::size_t n = in.size();
    out.reserve(static_cast<std::uint32_t>(in[n - 4]) | static_cast<std::uint32_t>(in[n - 3]) << 8 |
                static_cast<std::uint32_t>(in[n - 2]) << 16 | static_cast<std::uint32_t>(in[n - 1]) << 24);
  }
  z_stream zs{};
  MINIDP_CHECK(inflateInit2(&zs, 15 + 16) == Z_OK, path, ": zlib inflateInit2 failed");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  std::uint8_t chunk[1 << 16];
  int rc = Z_OK;
  while (true) {
    zs.next_out = chunk;
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), chunk, chunk + (sizeof(chunk) - zs.avail_out));
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows (as `cat a.gz b.gz` makes)
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // input ran out before the end marker
    const std::string msg = zs.msg ? zs.msg : "zlib error " + std::to_string(rc);
    inflateEnd(&zs);
    MINIDP_FAIL(path, ": corrupt gzip data (", msg, ")");
  }
  inflateEnd(&zs);
  MINIDP_CHECK(rc == Z_STREAM_END, path, ": truncated gzip stream: the compressed data ends after ",
               in.size(), " bytes, before the end of the stream (", out.size(),
               " bytes decompressed); the file is incomplete, download it again");
  return out;
}

}  // namespace

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::vector<std::uint8_t> bytes = read_raw(path);
  const bool gzip_magic = bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
  if (gzip_magic) return gunzip(path, bytes);
  MINIDP_CHECK(!ends_with(path, ".gz"), path, ": expected gzip data (the name ends in .gz) but the file ",
               bytes.empty() ? std::string("is empty") : std::string("does not start with the gzip magic 1f 8b"));
  return bytes;
}

bool file_exists(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::fclose(f);
  return true;
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

}  // namespace minidp::nn::data
