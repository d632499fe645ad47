// minidp/nn/data/file_io.h — read a data file into memory, gunzipping it if needed.
//
// Data set files come raw (train-images-idx3-ubyte) or gzip-compressed
// (train-images-idx3-ubyte.gz). The readers should not care which: these
// functions look at the first two bytes (the gzip magic 1f 8b) and inflate
// through zlib when they are there. A name ending in ".gz" whose bytes are not
// gzip is reported, because it usually means a failed or partial download.
//
// Nothing a file says about its own size is trusted: a gzip stream is inflated
// only as far as the caller asks (read_file_head), so a reader with a header
// (IDX) checks the header first and then reads exactly what it allows — a
// 2.6 MB "gzip bomb" that would inflate to 4 GB stops after its first bytes.
// Whole-file reads stop at kMaxFileBytes.
//
//   std::vector<std::uint8_t> bytes = read_file_bytes("train-labels-idx1-ubyte.gz");
//   FileHead head = read_file_head("train-images-idx3-ubyte.gz", 16);  // the header only
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minidp::nn::data {

// The largest (decompressed) file a reader takes whole: 4 GiB. Larger data
// sets are split into files (CIFAR-10 ships five batches of 30 MB).
inline constexpr std::uint64_t kMaxFileBytes = std::uint64_t{4} << 30;

// The first bytes of a file's (decompressed) content.
struct FileHead {
  std::vector<std::uint8_t> bytes;  // at most the max_bytes asked for
  bool more = false;                // the content goes on after them
};

// Up to max_bytes of the content, decompressing no further than needed.
// Raises minidp::Error naming the file when it is missing, unreadable, or a
// damaged/truncated gzip stream (within the part read).
FileHead read_file_head(const std::string& path, std::uint64_t max_bytes);

// The whole content, decompressed when it is gzip; more than kMaxFileBytes is an error.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

// True when a file exists at `path` (and can be opened for reading).
bool file_exists(const std::string& path);

// "dir/name", without doubling the slash.
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace minidp::nn::data
