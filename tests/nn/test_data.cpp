// Tests of nn/data: file readers (on files written here, and the real
// Fashion-MNIST when installed), the loader's order and batches, splits and leakage checks.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "minidp/minidp.h"
#include "test_util.h"
#include "temp_dir.h"
#include "minidp/nn/data/data.h"

using namespace minidp;
using namespace minidp::nn::data;
using minidp::test::contains;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<std::uint8_t>;

using minidp::test::TempDir;

void write_raw(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void write_gz(const std::string& path, const Bytes& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size()));
  gzclose(f);
}

Bytes read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

void put_be32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

// IDX image file: n images of h x w, pixel (i, y, x) = (i*31 + y*7 + x) % 256.
Bytes idx_images(std::uint32_t n, std::uint32_t h, std::uint32_t w) {
  Bytes b;
  put_be32(b, 0x00000803);
  put_be32(b, n);
  put_be32(b, h);
  put_be32(b, w);
  for (std::uint32_t i = 0; i < n; ++i)
    for (std::uint32_t y = 0; y < h; ++y)
      for (std::uint32_t x = 0; x < w; ++x) b.push_back(static_cast<std::uint8_t>((i * 31 + y * 7 + x) % 256));
  return b;
}

Bytes idx_labels(const Bytes& labels) {
  Bytes b;
  put_be32(b, 0x00000801);
  put_be32(b, static_cast<std::uint32_t>(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

// A small data set whose sample i is the float vector {i, i, i} with label i % 3.
Dataset counting_dataset(std::int64_t n) {
  std::vector<float> x;
  std::vector<std::int64_t> y;
  for (std::int64_t i = 0; i < n; ++i) {
    x.insert(x.end(), 3, static_cast<float>(i));
    y.push_back(i % 3);
  }
  return Dataset(from_vector(x, {n, 3}), from_vector(y, {n}), "counting", 3);
}

}  // namespace

// ---------------------------------------------------------------- IDX
TEST_CASE("idx: raw and gzip files read to the same tensors") {
  TempDir dir("idx");
  const Bytes images = idx_images(5, 4, 3), labels = idx_labels({3, 0, 9, 1, 1});
  write_raw(dir / "img", images);
  write_gz(dir / "img.gz", images);
  write_raw(dir / "lab", labels);
  write_gz(dir / "lab.gz", labels);
  for (const char* suffix : {"", ".gz"}) {
    Tensor x = read_idx_images(dir / (std::string("img") + suffix));
    CHECK(x.shape() == Shape{5, 4, 3});
    CHECK(x.dtype() == kUInt8);
    const auto v = x.to_vector<std::uint8_t>();
    CHECK(v[0] == 0);
    CHECK(v[1 * 12 + 2 * 3 + 1] == (31 + 14 + 1));  // image 1, row 2, column 1
    CHECK(v[4 * 12 + 3 * 3 + 2] == (4 * 31 + 21 + 2) % 256);
    Tensor y = read_idx_labels(dir / (std::string("lab") + suffix));
    CHECK(y.dtype() == kInt64);
    CHECK(y.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 0, 9, 1, 1});
  }
  Dataset d = read_idx_dataset(dir / "img.gz", dir / "lab", 10, "tiny");
  CHECK(d.size() == 5);
  CHECK(d.sample_shape() == Shape{4, 3});
  CHECK(d.label_counts() == std::vector<std::int64_t>{1, 2, 0, 1, 0, 0, 0, 0, 0, 1});
  CHECK(read_idx(dir / "lab").shape() == Shape{5});  // generic reader: the uint8 bytes
}

TEST_CASE("idx: the standard four-file layout (mnist / fashion_mnist)") {
  TempDir dir("idx4");
  write_gz(dir / "train-images-idx3-ubyte.gz", idx_images(6, 28, 28));
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx_labels({0, 1, 2, 3, 4, 5}));
  write_raw(dir / "t10k-images-idx3-ubyte", idx_images(2, 28, 28));  // a gunzipped copy is accepted too
  write_raw(dir / "t10k-labels-idx1-ubyte", idx_labels({9, 8}));
  CHECK(mnist_files_present(dir.path.string()));
  Dataset train = fashion_mnist(dir.path.string(), Split::Train), test = fashion_mnist(dir.path.string(), Split::Test);
  CHECK(train.size() == 6);
  CHECK(test.size() == 2);
  CHECK(test.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{9, 8});
  CHECK(mnist(dir.path.string(), Split::Test).name == "mnist/test");
  CHECK(fashion_mnist_classes().at(9) == "Ankle boot");
}

TEST_CASE("idx: corrupt and missing files are reported with the file and what was expected") {
  TempDir dir("idxbad");
  Bytes bad = idx_images(2, 2, 2);
  bad[3] = 0x02;  // claims 2 dimensions
  write_raw(dir / "bad-magic", bad);
  CHECK_THROWS_WITH_AS(read_idx_images(dir / "bad-magic"), doctest::Contains("bad-magic: bad magic number 0x00000802 (expected 0x00000803 for an IDX image file)"), Error);

  Bytes huge;  // a corrupt header declaring 2^30 x 2^30 x 2^30 pixels
  put_be32(huge, 0x00000803);
  for (int d = 0; d < 3; ++d) put_be32(huge, 1u << 30);
  write_raw(dir / "huge", huge);
  CHECK_THROWS_WITH_AS(read_idx_images(dir / "huge"), doctest::Contains("huge: dimension 1 is 1073741824, which makes"), Error);

  Bytes img = idx_images(3, 4, 5);  // 60 pixels; keep 10 of them
  img.resize(16 + 10);
  write_gz(dir / "train-images-idx3-ubyte.gz", img);
  CHECK_THROWS_WITH_AS(read_idx_images(dir / "train-images-idx3-ubyte.gz"), doctest::Contains("train-images-idx3-ubyte.gz: truncated: expected 60 bytes of pixels for shape [3, 4, 5], got 10"), Error);

  Bytes lab = idx_labels({1, 2, 3});
  lab.resize(lab.size() - 1);
  write_raw(dir / "short-labels", lab);
  CHECK_THROWS_WITH_AS(read_idx_labels(dir / "short-labels"), doctest::Contains("short-labels: truncated: expected 3 bytes of labels for shape [3], got 2"), Error);

  write_raw(dir / "labels", idx_labels({1, 12, 3}));
  CHECK_THROWS_WITH_AS(read_idx_labels(dir / "labels"), doctest::Contains("labels: label 12 at index 1 is out of range [0, 10)"), Error);
  CHECK(read_idx_labels(dir / "labels", 13).to_vector<std::int64_t>()[1] == 12);

  CHECK_THROWS_WITH_AS(read_idx_images(dir / "nope.gz"), doctest::Contains("nope.gz: cannot open: No such file"), Error);

  // A download cut short: the gzip stream ends before its end marker.
  Bytes big = idx_images(50, 28, 28);
  write_gz(dir / "full.gz", big);
  Bytes gz = read_all(dir / "full.gz");
  gz.resize(gz.size() / 2);
  write_raw(dir / "cut.gz", gz);
  CHECK_THROWS_WITH_AS(read_idx_images(dir / "cut.gz"), doctest::Contains("cut.gz: truncated gzip stream"), Error);

  write_raw(dir / "plain.gz", idx_images(1, 2, 2));  // named .gz but not compressed
  CHECK_THROWS_WITH_AS(read_idx_images(dir / "plain.gz"), doctest::Contains("plain.gz: expected gzip data"), Error);

  write_raw(dir / "i", idx_images(3, 2, 2));
  write_raw(dir / "l", idx_labels({1, 2}));
  CHECK_THROWS_WITH_AS(read_idx_dataset(dir / "i", dir / "l"), doctest::Contains("holds 3 images but"), Error);

  CHECK_THROWS_WITH_AS(fashion_mnist((dir / "empty-dir"), Split::Train), doctest::Contains("cannot find train-images-idx3-ubyte.gz"), Error);
  CHECK_THROWS_WITH_AS(fashion_mnist((dir / "empty-dir"), Split::Train), doctest::Contains("dataset-fashion-mnist"), Error);
}

TEST_CASE("idx: sizes a file states are checked before anything is decompressed or allocated on their word") {
  TempDir dir("idxsizes");
  // A gzip bomb: a valid 10-label header followed by 64 MiB of zeros (64 KiB
  // compressed). The header allows 10 bytes of labels, so the reader inflates
  // no more than that (and one byte to see that more follows).
  Bytes bomb = idx_labels(std::vector<std::uint8_t>(10, 1));
  bomb.resize(bomb.size() + (std::size_t{64} << 20), 0);
  write_gz(dir / "bomb.gz", bomb);
  CHECK(fs::file_size(dir / "bomb.gz") < (std::size_t{1} << 20));
  const FileHead head = read_file_head(dir / "bomb.gz", 18);
  CHECK(head.bytes.size() == 18);
  CHECK(head.more);
  CHECK_THROWS_WITH_AS(read_idx_labels(dir / "bomb.gz"), doctest::Contains("bomb.gz: expected 10 bytes of labels for shape [10] after the header, but the file holds more"), Error);
  bomb[3] = 0x07;  // and a bad magic is refused after 4 bytes
  write_gz(dir / "bomb2.gz", bomb);
  CHECK_THROWS_WITH_AS(read_idx_labels(dir / "bomb2.gz"), doctest::Contains("bomb2.gz: bad magic number 0x00000807"), Error);

  // A truncated .gz whose last 4 bytes (the gzip trailer's size field) claim
  // 3.7 GiB: nothing is reserved on the trailer's word, the cut is reported.
  // (Stored, uncompressed deflate blocks, so the bytes at the cut are pixels we choose.)
  gzFile f = gzopen((dir / "stored.gz").c_str(), "wb0");
  const Bytes pixels = idx_images(20, 28, 28);
  REQUIRE(gzwrite(f, pixels.data(), static_cast<unsigned>(pixels.size())) == static_cast<int>(pixels.size()));
  gzclose(f);
  Bytes gz = read_all(dir / "stored.gz");
  gz.resize(gz.size() - 100);
  for (int i = 1; i <= 4; ++i) gz[gz.size() - i] = i == 1 ? 0xEC : 0xCC;  // "ISIZE" 0xECCCCCCC: 3.7 GiB
  write_raw(dir / "claims.gz", gz);
  CHECK_THROWS_WITH_AS(read_idx_images(dir / "claims.gz"), doctest::Contains("claims.gz: truncated gzip stream"), Error);

  // A zero dimension does not switch the size bound off: [0, 2^32-1, 2^32-1]
  // is empty, but its strides would overflow.
  Bytes zero;
  put_be32(zero, 0x00000803);
  put_be32(zero, 0);
  put_be32(zero, 0xFFFFFFFFu);
  put_be32(zero, 0xFFFFFFFFu);
  write_raw(dir / "zero", zero);
  CHECK_THROWS_WITH_AS(read_idx_images(dir / "zero"), doctest::Contains("zero: dimension 2 is 4294967295, which makes the data implausibly large"), Error);
  CHECK_THROWS_WITH_AS(Tensor::empty({0, std::int64_t{1} << 40, std::int64_t{1} << 40}), doctest::Contains("has too many elements"), Error);

  // Zero samples read fine, but there is nothing to train on: said at once, not as a NaN loss later.
  write_raw(dir / "no-images", idx_images(0, 28, 28));
  write_raw(dir / "no-labels", idx_labels({}));
  Dataset empty = read_idx_dataset(dir / "no-images", dir / "no-labels", 10, "empty-set");
  CHECK(empty.size() == 0);
  CHECK_THROWS_WITH_AS(DataLoader(empty, {.batch_size = 4}), doctest::Contains("DataLoader: data set 'empty-set' has no samples"), Error);
}

// ---------------------------------------------------------------- CIFAR-10
TEST_CASE("cifar10: records of 1 label byte + 3072 channel-first pixels") {
  TempDir dir("cifar");
  auto batch = [](std::int64_t n, std::uint8_t first_label) {
    Bytes b;
    for (std::int64_t i = 0; i < n; ++i) {
      b.push_back(static_cast<std::uint8_t>((first_label + i) % 10));
      for (int c = 0; c < 3; ++c)
        for (int p = 0; p < 1024; ++p) b.push_back(static_cast<std::uint8_t>(c * 80 + i + p % 7));
    }
    return b;
  };
  write_raw(dir / "test_batch.bin", batch(3, 7));
  Dataset d = read_cifar10_batch(dir / "test_batch.bin");
  CHECK(d.inputs.shape() == Shape{3, 3, 32, 32});
  CHECK(d.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{7, 8, 9});
  const auto px = d.inputs.to_vector<std::uint8_t>();
  CHECK(px[2 * 3072 + 1 * 1024 + 5] == 80 + 2 + 5);  // sample 2, green, pixel 5
  CHECK(px[0 * 3072 + 2 * 1024 + 8] == 160 + 1);      // sample 0, blue, pixel 8

  for (int i = 1; i <= 5; ++i) write_raw(dir / ("data_batch_" + std::to_string(i) + ".bin"), batch(2, static_cast<std::uint8_t>(i)));
  Dataset train = cifar10(dir.path.string(), Split::Train);
  CHECK(train.size() == 10);
  CHECK(train.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 2, 3, 3, 4, 4, 5, 5, 6});
  CHECK(cifar10(dir.path.string(), Split::Test).size() == 3);

  Bytes cut = batch(2, 0);
  cut.resize(cut.size() - 100);
  write_raw(dir / "cut.bin", cut);
  CHECK_THROWS_WITH_AS(read_cifar10_batch(dir / "cut.bin"), doctest::Contains("cut.bin: truncated: expected a multiple of 3073 bytes"), Error);
  Bytes wrong = batch(2, 0);
  wrong[3073] = 10;
  write_raw(dir / "label.bin", wrong);
  CHECK_THROWS_WITH_AS(read_cifar10_batch(dir / "label.bin"), doctest::Contains("label.bin: label 10 of record 1 is out of range [0, 10)"), Error);
  fs::remove(dir.path / "data_batch_4.bin");
  CHECK_THROWS_WITH_AS(cifar10(dir.path.string(), Split::Train), doctest::Contains("cannot find"), Error);
}

// ---------------------------------------------------------------- CSV
TEST_CASE("csv: features and a label column, header optional") {
  TempDir dir("csv");
  {
    std::ofstream f(dir / "iris.csv");
    f << "sepal, petal,species,width\r\n1.5,2,0,3e-1\n-4,5.25,2,6\n\n7,8,1,+9\n";
  }
  CsvOptions o;
  o.label_column = "species";
  std::vector<std::string> names;
  Dataset d = read_csv(dir / "iris.csv", o, &names);
  CHECK(d.inputs.shape() == Shape{3, 3});
  CHECK(d.inputs.to_vector<float>() == std::vector<float>{1.5f, 2, 0.3f, -4, 5.25f, 6, 7, 8, 9});
  CHECK(d.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 2, 1});
  CHECK(d.num_classes == 3);
  CHECK(names == std::vector<std::string>{"sepal", "petal", "width"});

  {
    std::ofstream f(dir / "plain.csv");
    f << "1;2;3\n4;5;6\n";
  }
  CsvOptions p;
  p.delimiter = ';';
  p.label_index = 0;
  Dataset q = read_csv(dir / "plain.csv", p, &names);  // no header detected: all numeric
  CHECK(q.size() == 2);
  CHECK(q.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 4});
  CHECK(q.inputs.to_vector<float>() == std::vector<float>{2, 3, 5, 6});
  CHECK(names == std::vector<std::string>{"c1", "c2"});
  p.label_index = -1;
  CHECK(read_csv(dir / "plain.csv", p).labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 6});
}

TEST_CASE("csv: malformed tables name the file, the line and the problem") {
  TempDir dir("csvbad");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  CsvOptions o;
  CHECK_THROWS_WITH_AS(read_csv(write("a.csv", "x,y,label\n1,2,0\n3,4\n"), o), doctest::Contains("a.csv:3: expected 3 fields, got 2"), Error);
  CHECK_THROWS_WITH_AS(read_csv(write("b.csv", "1,2,0\n1,abc,1\n"), o), doctest::Contains("b.csv:2: field 1 ('abc') is not a number"), Error);
  CHECK_THROWS_WITH_AS(read_csv(write("c.csv", "1,2,0.5\n"), o), doctest::Contains("c.csv:1: label '0.5' is not a non-negative integer"), Error);
  o.label_column = "target";
  CHECK_THROWS_WITH_AS(read_csv(write("d.csv", "x,y,label\n1,2,0\n"), o), doctest::Contains("d.csv: label column 'target' not found in the header (columns: x, y, label)"), Error);
  CHECK_THROWS_WITH_AS(read_csv(write("e.csv", "1,2,0\n"), o), doctest::Contains("but the file has no header line"), Error);
  CsvOptions k;
  k.num_classes = 2;
  CHECK_THROWS_WITH_AS(read_csv(write("f.csv", "1,0\n2,2\n"), k), doctest::Contains("f.csv:2: label 2 is out of range [0, 2)"), Error);
  CHECK_THROWS_WITH_AS(read_csv(dir / "missing.csv", k), doctest::Contains("missing.csv: cannot open"), Error);
}

TEST_CASE("csv: values a model cannot learn from, and first lines that are neither header nor data") {
  TempDir dir("csvvalues");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  CsvOptions o;
  CHECK_THROWS_WITH_AS(read_csv(write("nan.csv", "1,2,0\nnan,2,1\n"), o), doctest::Contains("nan.csv:2: field 0 ('nan') is not finite; features must be finite float32 numbers"), Error);
  CHECK_THROWS_WITH_AS(read_csv(write("inf.csv", "1,-inf,0\n"), o), doctest::Contains("inf.csv:1: field 1 ('-inf') is not finite"), Error);
  CHECK_THROWS_WITH_AS(read_csv(write("big.csv", "1,2,0\n1e39,2,1\n"), o), doctest::Contains("big.csv:2: field 0 ('1e39') is beyond float32's range"), Error);
  CHECK(read_csv(write("max.csv", "3.4e38,2,0\n"), o).inputs.to_vector<float>()[0] == 3.4e38f);  // in range: kept
  CHECK_THROWS_WITH_AS(read_csv(write("id.csv", "1,2,8999999999999999\n"), o), doctest::Contains("id.csv:1: label 8999999999999999 is not a class id below 1024"), Error);

  // A byte-order mark is not part of the first field: the header is still a
  // header, and a headerless file keeps its first row.
  Dataset h = read_csv(write("bom-header.csv", "\xEF\xBB\xBF" "x,y,label\n1,2,0\n3,4,1\n"), o);
  CHECK(h.size() == 2);
  Dataset d = read_csv(write("bom-data.csv", "\xEF\xBB\xBF" "1,2,0\n3,4,1\n"), o);
  CHECK(d.size() == 2);
  CHECK(d.inputs.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  // A typo in the first row of a headerless file is an error, not a header that drops the row.
  CHECK_THROWS_WITH_AS(read_csv(write("typo.csv", "1,2x,0\n3,4,1\n"), o), doctest::Contains("typo.csv:1: the first line mixes numbers and names (field 1 is '2x')"), Error);
  o.header = CsvOptions::Header::Yes;  // said explicitly, such a line is a header
  CHECK(read_csv(write("typo2.csv", "1,2x,0\n3,4,1\n"), o).size() == 1);
}

// ---------------------------------------------------------------- the real Fashion-MNIST
TEST_CASE("fashion-mnist: the installed files, if present") {
  if (!mnist_files_present(kFashionMnistDir)) {
    MESSAGE("skipped: Fashion-MNIST not found in ", kFashionMnistDir, " (Debian package dataset-fashion-mnist)");
    return;
  }
  Dataset train = fashion_mnist(), test = fashion_mnist(kFashionMnistDir, Split::Test);
  CHECK(train.inputs.shape() == Shape{60000, 28, 28});
  CHECK(test.inputs.shape() == Shape{10000, 28, 28});
  const auto l = train.labels.to_vector<std::int64_t>();
  CHECK(std::vector<std::int64_t>(l.begin(), l.begin() + 10) == std::vector<std::int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5});
  const auto t = test.labels.to_vector<std::int64_t>();
  CHECK(std::vector<std::int64_t>(t.begin(), t.begin() + 10) == std::vector<std::int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
  CHECK(train.label_counts() == std::vector<std::int64_t>(10, 6000));  // balanced classes
  CHECK(test.label_counts() == std::vector<std::int64_t>(10, 1000));
  // The normalisation constants of Transform::fashion_mnist are the training set's statistics.
  const std::uint8_t* p = train.inputs.data<std::uint8_t>();
  double s = 0, s2 = 0;
  const std::int64_t n = train.inputs.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = p[i] / 255.0;
    s += v;
    s2 += v * v;
  }
  const double mean_ = s / n;
  CHECK(mean_ == doctest::Approx(0.2860).epsilon(0.001));
  CHECK(std::sqrt(s2 / n - mean_ * mean_) == doctest::Approx(0.3530).epsilon(0.001));
  const OverlapReport r = check_overlap(train, test);
  MESSAGE("Fashion-MNIST train vs test: ", r.message);
}

// ---------------------------------------------------------------- order
TEST_CASE("sampler: the shuffle is a pure function of (seed, epoch)") {
  const auto a = shuffled_indices(1000, 42, 3);
  CHECK(a == shuffled_indices(1000, 42, 3));
  CHECK(a != shuffled_indices(1000, 42, 4));
  CHECK(a != shuffled_indices(1000, 43, 3));
  std::vector<std::int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == sequential_indices(1000));  // a permutation
  // Pinned values: the order must not change between versions or machines,
  // or resumed runs would silently see different data.
  CHECK(shuffled_indices(10, 1234, 5) == std::vector<std::int64_t>{5, 2, 0, 7, 8, 1, 4, 3, 9, 6});
  CHECK(shuffled_indices(0, 1, 1).empty());
  CHECK(shuffled_indices(1, 1, 1) == std::vector<std::int64_t>{0});
  // Uniformity: over many epochs, every value lands in position 0 about equally often.
  std::vector<int> first(10, 0);
  for (std::uint64_t e = 0; e < 5000; ++e) ++first[static_cast<std::size_t>(shuffled_indices(10, 7, e)[0])];
  for (int c : first) CHECK(std::abs(c - 500) < 90);  // ~4 standard deviations
}

// ---------------------------------------------------------------- loader
TEST_CASE("loader: every sample exactly once per epoch, short last batch, drop_last") {
  Dataset d = counting_dataset(103);
  DataLoaderOptions o;
  o.batch_size = 10;
  o.seed = 5;
  o.prefetch = 0;
  DataLoader loader(d, o);
  CHECK(loader.num_batches() == 11);
  std::vector<std::int64_t> seen;
  std::vector<std::int64_t> sizes;
  for (Batch& b : loader) {
    sizes.push_back(b.size());
    CHECK(b.inputs.shape() == Shape{b.size(), 3});
    const auto x = b.inputs.to_vector<float>();
    const auto y = b.labels.to_vector<std::int64_t>();
    for (std::int64_t k = 0; k < b.size(); ++k) {  // rows really are the samples named by `indices`
      CHECK(x[static_cast<std::size_t>(3 * k)] == static_cast<float>(b.indices[k]));
      CHECK(y[static_cast<std::size_t>(k)] == b.indices[k] % 3);
    }
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  }
  CHECK(sizes.back() == 3);
  CHECK(seen == shuffled_indices(103, 5, 0));
  std::sort(seen.begin(), seen.end());
  CHECK(seen == sequential_indices(103));

  o.drop_last = true;
  DataLoader dropping(d, o);
  CHECK(dropping.num_batches() == 10);
  std::int64_t count = 0;
  for (Batch& b : dropping) {
    CHECK(b.size() == 10);
    count += b.size();
  }
  CHECK(count == 100);

  o.shuffle = false;
  o.drop_last = false;
  DataLoader ordered(d, o);
  ordered.start_epoch();
  CHECK(ordered.next()->indices == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("loader: epochs advance, set_epoch resumes, and prefetching changes nothing") {
  Dataset d = counting_dataset(57);
  auto epoch_batches = [&](DataLoader& l) {
    std::vector<Batch> out;
    for (Batch& b : l) out.push_back(b);
    return out;
  };
  DataLoaderOptions o;
  o.batch_size = 8;
  o.seed = 11;
  o.prefetch = 0;
  DataLoader sync(d, o);
  o.prefetch = 3;
  DataLoader async(d, o);
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto a = epoch_batches(sync), b = epoch_batches(async);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].indices == b[i].indices);
      CHECK(a[i].inputs.to_vector<float>() == b[i].inputs.to_vector<float>());
      CHECK(a[i].labels.to_vector<std::int64_t>() == b[i].labels.to_vector<std::int64_t>());
    }
    CHECK(a[0].indices == sync.batch(epoch, 0).indices);  // iteration e is epoch e
  }
  CHECK(sync.epoch() == 3);
  sync.set_epoch(1);  // resume: the same order epoch 1 had
  const auto again = epoch_batches(sync);
  const auto order1 = shuffled_indices(57, 11, 1);
  CHECK(again[0].indices == std::vector<std::int64_t>(order1.begin(), order1.begin() + 8));
  // Stopping in the middle of an epoch and destroying the loader joins the thread cleanly.
  {
    DataLoader early(d, o);
    for (Batch& b : early) {
      (void)b;
      break;
    }
  }
}

TEST_CASE("loader: set_epoch(e, k) resumes at batch k of epoch e without building the batches before it") {
  Dataset d = counting_dataset(57);  // 8 batches of 8 (the last one short)
  for (int prefetch : {0, 2}) {
    CAPTURE(prefetch);
    DataLoaderOptions o;
    o.batch_size = 8;
    o.seed = 5;
    o.prefetch = prefetch;
    int built = 0;
    o.map = [&](Batch&) { ++built; };  // runs once for every batch the loader builds
    DataLoader l(d, o);
    l.set_epoch(2, 5);
    std::vector<std::vector<std::int64_t>> got;
    for (Batch& b : l) got.push_back(b.indices);
    REQUIRE(got.size() == 3);  // batches 5, 6, 7 of epoch 2
    CHECK(built == 3);         // the five skipped ones were never gathered or transformed
    for (int k = 0; k < 3; ++k) CHECK(got[k] == l.batch(2, 5 + k).indices);
    CHECK(l.epoch() == 3);
    built = 0;
    int n = 0;
    for (Batch& b : l) n += b.size() > 0;  // the next epoch is whole again
    CHECK(n == 8);
    CHECK(built == 8);
  }
  DataLoader l(d, {});
  CHECK_THROWS_WITH_AS(l.set_epoch(0, 99), doctest::Contains("first batch 99 out of range [0, 1]"), Error);
}

TEST_CASE("loader: an error on the prefetch thread reaches the caller at its batch") {
  Dataset d = counting_dataset(40);
  DataLoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  o.prefetch = 2;
  o.map = [](Batch& b) {
    if (b.indices[0] == 12) MINIDP_FAIL("bad sample ", b.indices[0]);
  };
  DataLoader loader(d, o);
  loader.start_epoch();
  for (int i = 0; i < 3; ++i) CHECK(loader.next().has_value());  // batches before the failure arrive
  CHECK_THROWS_WITH_AS(loader.next(), doctest::Contains("bad sample 12"), Error);
  loader.start_epoch();  // a new epoch after an error works (and joins the old thread)
  CHECK(loader.next()->indices[0] == 0);
}

TEST_CASE("loader: the Fashion-MNIST transform gives [B,1,28,28] float32 or [B,784]") {
  std::vector<std::uint8_t> px(5 * 28 * 28);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i % 256);
  Dataset d(from_vector(px, {5, 28, 28}), from_vector<std::int64_t>({0, 1, 2, 3, 4}, {5}), "px", 10);
  DataLoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  o.transform = Transform::fashion_mnist();
  DataLoader cnn(d, o);
  cnn.start_epoch();
  Batch b = *cnn.next();
  CHECK(b.inputs.shape() == Shape{4, 1, 28, 28});
  CHECK(b.inputs.dtype() == kFloat32);
  CHECK(b.labels.shape() == Shape{4});
  const auto x = b.inputs.to_vector<float>();
  CHECK(x[0] == doctest::Approx((0 / 255.0 - 0.2860) / 0.3530).epsilon(1e-6));
  CHECK(x[255] == doctest::Approx((255 / 255.0 - 0.2860) / 0.3530).epsilon(1e-6));
  CHECK(x[300] == doctest::Approx((44 / 255.0 - 0.2860) / 0.3530).epsilon(1e-6));
  CHECK(cnn.next()->inputs.shape() == Shape{1, 1, 28, 28});

  o.transform = Transform::fashion_mnist(/*flatten=*/true);
  DataLoader mlp(d, o);
  mlp.start_epoch();
  CHECK(mlp.next()->inputs.shape() == Shape{4, 784});

  // Per-channel normalisation uses dim 1.
  Transform t;
  t.mean = {1.0, 10.0};
  t.std = {1.0, 2.0};
  Tensor y = t.apply(from_vector<float>({1, 2, 10, 14}, {1, 2, 2}));
  CHECK(y.to_vector<float>() == std::vector<float>{0, 1, 0, 2});
  CHECK_THROWS_WITH_AS(t.apply(from_vector<float>({1, 2, 3}, {1, 3})), doctest::Contains("2 mean/std values for 3 channels"), Error);
}

// ---------------------------------------------------------------- splits and leakage
TEST_CASE("split: disjoint, complete and deterministic, overlap is detected") {
  const SplitIndices s = split_indices(1000, 0.2, 3);
  CHECK(s.val.size() == 200);
  CHECK(s.train.size() == 800);
  std::set<std::int64_t> all(s.train.begin(), s.train.end());
  all.insert(s.val.begin(), s.val.end());
  CHECK(all.size() == 1000);  // disjoint and complete
  CHECK(check_index_overlap(s.train, s.val).count == 0);
  CHECK(split_indices(1000, 0.2, 3).val == s.val);
  CHECK(split_indices(1000, 0.2, 4).val != s.val);

  Dataset d = counting_dataset(50);
  auto [train, val] = train_val_split(d, 0.3, 9);
  CHECK(train.size() == 35);
  CHECK(val.size() == 15);
  OverlapReport r = check_overlap(train, val);
  CHECK(r.ok());
  CHECK(contains(r.message, "no overlap (by sample index)"));
  CHECK(check_overlap(train, val, /*by_content=*/true).count == 0);  // the counting samples are all distinct

  // A careless "validation" set drawn from the training part leaks.
  Dataset leaky = train.subset({0, 1, 2, 3}, "leaky");
  r = check_overlap(train, leaky);
  CHECK(r.count == 4);
  CHECK(contains(r.message, "data leakage (by sample index): 4 of 4 evaluation samples"));
  r = check_overlap(d, val);  // the full set contains every validation sample
  CHECK(r.count == 15);

  // Two separately loaded data sets: compared by content.
  Dataset other = counting_dataset(60);   // samples 0..59, of which 0..49 are also in d
  r = check_overlap(d, other);
  CHECK(r.count == 50);
  CHECK(contains(r.message, "by sample content"));
  CHECK(contains(r.message, "50 of 60"));
  CHECK(check_index_overlap({1, 2, 3}, {3, 4, 1}).count == 2);
}
