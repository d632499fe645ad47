// tests/fuzz/fuzz_idx.cpp — any bytes as an IDX file (MNIST's format), raw and
// gzip-compressed: the magic, the dimensions, the size bound, the labels'
// range, and zlib's inflate with its truncation and size checks.
//
// Input: one selector byte, then the file. Selector bit 0: gzip the rest here
// first (so the fuzzer explores IDX headers behind a valid gzip stream; a raw
// input that starts with 1f 8b already exercises broken gzip). Bits 1-2: read
// it as any IDX file, as images, or as labels.
#include <zlib.h>

#include <vector>

#include "fuzz_input.h"

using namespace minidp;

namespace {
std::vector<std::uint8_t> gzip(const std::uint8_t* data, std::size_t size) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::vector<std::uint8_t> out(deflateBound(&zs, size));
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static fuzz::InputFile file;
  const std::uint8_t mode = data[0];
  std::vector<std::uint8_t> bytes(data + 1, data + size);
  if (mode & 1) bytes = gzip(bytes.data(), bytes.size());
  const std::string& path = file.write(bytes.data(), bytes.size());
  return fuzz::expect_clean([&] {
    switch ((mode >> 1) & 3) {
      case 0: nn::data::read_idx(path); break;
      case 1: nn::data::read_idx_images(path); break;
      default: nn::data::read_idx_labels(path, 10); break;
    }
  });
}
