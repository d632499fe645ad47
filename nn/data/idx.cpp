// minidp/nn/data/idx.cpp — IDX parsing and validation.
#include "minidp/nn/data/idx.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "minidp/core/error.h"
#include "minidp/nn/data/file_io.h"

namespace minidp::nn::data {
namespace {

std::uint32_t be32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | static_cast<std::uint32_t>(p[3]);
}

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08X", v);
  return buf;
}

// Read and check an IDX file: the header first (at most 4 + 4 * 255 bytes of
// the content), then exactly the elements it declares plus one byte to detect
// extra data. A corrupt or hostile header is refused before anything large is
// decompressed or allocated. `what` names the elements in messages ("pixels").
Tensor read_idx_file(const std::string& path, int want_dims, const char* what, const char* kind) {
  // The largest header there can be (255 dimensions): one small read, whatever the file claims.
  const FileHead head = read_file_head(path, 4 + 4 * 255);
  const std::vector<std::uint8_t>& b = head.bytes;
  MINIDP_CHECK(b.size() >= 4, path, ": truncated: expected a 4-byte IDX magic number, got ", b.size(), " bytes");
  const std::uint32_t magic = be32(b.data());
  if (want_dims > 0) {
    const std::uint32_t expected = 0x800u | static_cast<std::uint32_t>(want_dims);
    MINIDP_CHECK(magic == expected, path, ": bad magic number ", hex32(magic), " (expected ", hex32(expected),
                 " for an IDX ", kind, " file)");
  }
  MINIDP_CHECK(b[0] == 0 && b[1] == 0, path, ": bad magic number ", hex32(magic),
               " (an IDX file starts with two zero bytes)");
  MINIDP_CHECK(b[2] == 0x08, path, ": IDX element type ", hex32(b[2]).substr(8),
               " is not supported (expected 08, unsigned bytes)");
  const int ndims = b[3];
  MINIDP_CHECK(ndims >= 1, path, ": IDX header declares 0 dimensions");
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(ndims);
  MINIDP_CHECK(b.size() >= header, path, ": truncated: expected a ", header, "-byte header for ", ndims,
               " dimensions, got ", b.size(), " bytes");
  Shape shape;
  std::uint64_t count = 1, span = 1;  // span: the product with zeros counted as one
  for (int d = 0; d < ndims; ++d) {
    const std::uint32_t n = be32(b.data() + 4 + 4 * d);
    // Bound the product before forming it, so a corrupt header cannot overflow
    // it — a zero dimension included, since the shape's strides still multiply
    // the other dimensions.
    const std::uint64_t nz = std::max<std::uint32_t>(n, 1);
    MINIDP_CHECK(span <= kMaxFileBytes / nz, path, ": dimension ", d, " is ", n,
                 ", which makes the data implausibly large (over ", kMaxFileBytes >> 30, " GiB); the header is corrupt");
    shape.push_back(n);
    count *= n;
    span *= nz;
  }
  const FileHead all = read_file_head(path, header + count);
  const std::uint64_t got = all.bytes.size() - header;
  MINIDP_CHECK(got >= count, path, ": truncated: expected ", count, " bytes of ", what, " for shape ",
               shape_str(shape), ", got ", got);
  MINIDP_CHECK(!all.more, path, ": expected ", count, " bytes of ", what, " for shape ", shape_str(shape),
               " after the header, but the file holds more; it is not the file its header describes");
  Tensor t = Tensor::empty(shape, TensorOptions(kUInt8));
  if (count) std::memcpy(t.raw_data(), all.bytes.data() + header, count);
  return t;
}

struct MnistFiles {
  std::string images, labels;
};

// Prefer the .gz the packages ship; accept the raw file someone gunzipped.
std::string find_file(const std::string& dir, const std::string& base, const char* who, const char* hint) {
  for (const std::string& name : {base + ".gz", base}) {
    if (file_exists(join_path(dir, name))) return join_path(dir, name);
  }
  MINIDP_FAIL(who, ": cannot find ", base, ".gz (or ", base, ") in ", dir, "; ", hint);
}

MnistFiles mnist_files(const std::string& dir, bool train, const char* who, const char* hint) {
  const std::string prefix = train ? "train" : "t10k";
  return {find_file(dir, prefix + "-images-idx3-ubyte", who, hint),
          find_file(dir, prefix + "-labels-idx1-ubyte", who, hint)};
}

}  // namespace

Tensor read_idx(const std::string& path) { return read_idx_file(path, 0, "data", "data"); }

Tensor read_idx_images(const std::string& path) {
  return read_idx_file(path, 3, "pixels", "image");
}

Tensor read_idx_labels(const std::string& path, std::int64_t num_classes) {
  const Tensor raw = read_idx_file(path, 1, "labels", "label");
  const std::uint8_t* p = raw.data<std::uint8_t>();
  Tensor labels = Tensor::empty(raw.shape(), TensorOptions(kInt64));
  std::int64_t* l = labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < raw.numel(); ++i) {
    MINIDP_CHECK(num_classes <= 0 || p[i] < num_classes, path, ": label ", int(p[i]), " at index ", i,
                 " is out of range [0, ", num_classes, ")");
    l[i] = p[i];
  }
  return labels;
}

Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path, std::int64_t num_classes,
                         const std::string& name) {
  Tensor images = read_idx_images(images_path);
  Tensor labels = read_idx_labels(labels_path, num_classes);
  MINIDP_CHECK(images.size(0) == labels.size(0), images_path, " holds ", images.size(0), " images but ",
               labels_path, " holds ", labels.size(0), " labels; the two files do not belong together");
  return Dataset(images, labels, name, num_classes);
}

bool mnist_files_present(const std::string& dir) {
  for (const char* base : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"}) {
    const std::string b = base;
    if (!file_exists(join_path(dir, b + ".gz")) && !file_exists(join_path(dir, b))) return false;
  }
  return true;
}

Dataset mnist(const std::string& dir, Split split) {
  const bool train = split == Split::Train;
  const MnistFiles f = mnist_files(dir, train, "mnist", "download the four files from https://yann.lecun.com/exdb/mnist/ into that directory");
  return read_idx_dataset(f.images, f.labels, 10, train ? "mnist/train" : "mnist/test");
}

Dataset fashion_mnist(const std::string& dir, Split split) {
  const bool train = split == Split::Train;
  const MnistFiles f = mnist_files(dir, train, "fashion_mnist",
                                     "on Debian/Ubuntu install the package dataset-fashion-mnist, or download the "
                                     "four files from https://github.com/zalandoresearch/fashion-mnist into it");
  Dataset d = read_idx_dataset(f.images, f.labels, 10, train ? "fashion-mnist/train" : "fashion-mnist/test");
  MINIDP_CHECK(d.sample_shape() == Shape({28, 28}), f.images, ": expected 28x28 images, got ",
               shape_str(d.sample_shape()));
  return d;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

}  // namespace minidp::nn::data
