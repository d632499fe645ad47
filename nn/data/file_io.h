// minidp/nn/data/file_io.h — read a whole data file into memory, gunzipping it if needed.
//
// Data set files come raw (train-images-idx3-ubyte) or gzip-compressed
// (train-images-idx3-ubyte.gz). The readers should not care which: this
// function looks at the first two bytes (the gzip magic 1f 8b) and inflates
// through zlib when they are there. A name ending in ".gz" whose bytes are not
// gzip is reported, because it usually means a failed or partial download.
//
//   std::vector<std::uint8_t> bytes = read_file_bytes("train-labels-idx1-ubyte.gz");
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace minidp::nn::data {

// The file's bytes, decompressed when it is gzip. Raises minidp::Error naming
// the file when it is missing, unreadable, or a damaged/truncated gzip stream.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

// True when a file exists at `path` (and can be opened for reading).
bool file_exists(const std::string& path);

// "dir/name", without doubling the slash.
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace minidp::nn::data
