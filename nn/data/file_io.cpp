// minidp/nn/data/file_io.cpp — bounded whole-file reads with transparent gzip.
#include "minidp/nn/data/file_io.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "minidp/core/error.h"

namespace minidp::nn::data {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

File open_file(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) MINIDP_FAIL(path, ": cannot open: ", std::strerror(errno));
  return f;
}

// Appends up to `limit` more bytes of the file to `out`; false at the end of the file.
bool read_some(FILE* f, const std::string& path, std::vector<std::uint8_t>& out, std::size_t limit) {
  std::uint8_t chunk[1 << 16];
  const std::size_t want = std::min(sizeof(chunk), limit);
  const std::size_t n = std::fread(chunk, 1, want, f);
  MINIDP_CHECK(!std::ferror(f), path, ": read error: ", std::strerror(errno));
  out.insert(out.end(), chunk, chunk + n);
  return n == want;
}

// Raw bytes: read max_bytes + 1 to learn whether more follow.
FileHead read_raw(FILE* f, const std::string& path, std::vector<std::uint8_t> start, std::uint64_t max_bytes) {
  FileHead h;
  h.bytes = std::move(start);
  while (h.bytes.size() <= max_bytes && read_some(f, path, h.bytes, max_bytes + 1 - h.bytes.size())) {
  }
  h.more = h.bytes.size() > max_bytes;
  if (h.more) h.bytes.resize(max_bytes);
  return h;
}

// Inflate a (possibly multi-member) gzip file until max_bytes + 1 bytes are
// out or the stream ends. The compressed bytes are read in chunks as inflate
// asks for them; `in` starts with the two bytes read to see the magic. A
// stream that stops before its end marker is a truncated download: say so
// rather than return partial data.
FileHead gunzip(FILE* f, const std::string& path, std::vector<std::uint8_t> in, std::uint64_t max_bytes) {
  FileHead h;
  z_stream zs{};
  MINIDP_CHECK(inflateInit2(&zs, 15 + 16) == Z_OK, path, ": zlib inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, &inflateEnd);
  bool eof = false;
  std::uint64_t compressed = in.size();
  const auto feed = [&] {
    zs.next_in = in.data();
    zs.avail_in = static_cast<uInt>(in.size());
  };
  const auto refill = [&] {  // zlib has consumed all of `in`
    in.clear();
    eof = !read_some(f, path, in, std::size_t{1} << 16);
    compressed += in.size();
    feed();
  };
  feed();
  std::uint8_t chunk[1 << 16];
  int rc = Z_OK;
  while (h.bytes.size() <= max_bytes) {
    if (zs.avail_in == 0 && !eof) refill();
    zs.next_out = chunk;
    zs.avail_out = static_cast<uInt>(std::min<std::uint64_t>(sizeof(chunk), max_bytes + 1 - h.bytes.size()));
    const uInt asked = zs.avail_out;
    rc = inflate(&zs, Z_NO_FLUSH);
    h.bytes.insert(h.bytes.end(), chunk, chunk + (asked - zs.avail_out));
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0 && !eof) refill();
      if (zs.avail_in == 0) break;  // the end of the file
      inflateReset(&zs);            // another gzip member follows (as `cat a.gz b.gz` makes)
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      if (eof) break;  // the input ran out before the end marker: truncated (below)
      continue;
    }
    MINIDP_FAIL(path, ": corrupt gzip data (", zs.msg ? zs.msg : "zlib error " + std::to_string(rc), ")");
  }
  h.more = h.bytes.size() > max_bytes;
  if (h.more) {
    h.bytes.resize(max_bytes);
    return h;  // the caller asked for a prefix; the rest of the stream is not checked
  }
  MINIDP_CHECK(rc == Z_STREAM_END, path, ": truncated gzip stream: the compressed data ends after ", compressed,
               " bytes, before the end of the stream (", h.bytes.size(),
               " bytes decompressed); the file is incomplete, download it again");
  return h;
}

}  // namespace

FileHead read_file_head(const std::string& path, std::uint64_t max_bytes) {
  File f = open_file(path);
  std::vector<std::uint8_t> start;
  read_some(f.get(), path, start, 2);
  const bool gzip_magic = start.size() == 2 && start[0] == 0x1f && start[1] == 0x8b;
  if (gzip_magic) return gunzip(f.get(), path, std::move(start), max_bytes);
  MINIDP_CHECK(!ends_with(path, ".gz"), path, ": expected gzip data (the name ends in .gz) but the file ",
               start.empty() ? std::string("is empty") : std::string("does not start with the gzip magic 1f 8b"));
  return read_raw(f.get(), path, std::move(start), max_bytes);
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  FileHead h = read_file_head(path, kMaxFileBytes);
  MINIDP_CHECK(!h.more, path, ": the file holds more than ", kMaxFileBytes >> 30,
               " GiB (decompressed), more than minidp reads into memory at once; split the data set into files");
  return std::move(h.bytes);
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
