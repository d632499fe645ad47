// tests/fuzz/fuzz_seeds.cpp — writes the seed corpora: one small valid input
// of every kind each harness reads, made with minidp's own writers where it
// has them (a training checkpoint, safetensors of every dtype) and by the
// formats' definitions otherwise (IDX, CIFAR-10, CSV, metrics files). The
// fuzzer mutates these; starting from valid files it reaches the deep checks
// at once instead of spending its time on the first magic number.
//
//   fuzz_seeds OUT_DIR     # writes OUT_DIR/{safetensors,idx,cifar,csv,metrics}/...
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "fuzz_input.h"

using namespace minidp;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// An IDX file of unsigned bytes with these dimensions, elements 0, 1, 2, ... mod `mod`.
std::string idx(const std::vector<std::uint32_t>& dims, int mod) {
  std::string s{0, 0, 8, static_cast<char>(dims.size())};
  std::size_t n = 1;
  for (std::uint32_t d : dims) s += be32(d), n *= d;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<char>(i % mod);
  return s;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  try {
    // safetensors: a training checkpoint after one SGD step (weights, momentum
    // buffers, progress, generator state), and a plain file of every dtype.
    manual_seed(1);
    nn::ModulePtr model = fuzz::tiny_model();
    nn::SGD sgd(model->parameters(), {.lr = 0.1, .momentum = 0.9});
    Tensor loss = sum((*model)(randn({2, 4})));
    loss.backward();
    sgd.step();
    fs::create_directories(out / "safetensors");
    nn::save_training_state((out / "safetensors" / "training_state").string(), *model, sgd,
                            {.epoch = 1, .step_in_epoch = 2, .global_step = 7, .seed = 3});
    nn::save_safetensors((out / "safetensors" / "dtypes").string(),
                         nn::TensorMap{{"f32", randn({2, 3})},
                                       {"f64", randn({3}, TensorOptions(kFloat64))},
                                       {"i64", from_vector<std::int64_t>({1, 2, 3}, {3})},
                                       {"i32", from_vector<std::int32_t>({4, 5}, {2})},
                                       {"u8", from_vector<std::uint8_t>({6}, {1})},
                                       {"empty", Tensor::empty({0, 4})}},
                         {{"note", "seed"}});

    // IDX (a selector byte first: bit 0 gzip, bits 1-2 any/images/labels).
    const std::string images = idx({2, 3, 3}, 256), labels = idx({4}, 10), any = idx({2, 2, 2, 2}, 7);
    write(out / "idx" / "images", '\x02' + images);
    write(out / "idx" / "images_gz", '\x03' + images);
    write(out / "idx" / "labels", '\x04' + labels);
    write(out / "idx" / "labels_gz", '\x05' + labels);
    write(out / "idx" / "any", std::string(1, '\x00') + any);

    // CIFAR-10: two records (label byte, 3072 pixel bytes).
    std::string cifar;
    for (int r = 0; r < 2; ++r) {
      cifar += static_cast<char>(r * 7);
      for (int i = 0; i < 3072; ++i) cifar += static_cast<char>((i * 31 + r) % 256);
    }
    write(out / "cifar" / "two_records", cifar);

    // CSV (a selector byte first: header mode, delimiter, label column).
    write(out / "csv" / "header_last", std::string(1, '\x00') + "x,y,label\n1.5,2,0\n-3,4e2,1\n0,0,2\n");
    write(out / "csv" / "no_header_first", std::string(1, '\x0a') + "1,0.5,0.25\n0,1.5,2.5\n");
    write(out / "csv" / "named_semicolon", std::string(1, '\x1c') + "a;label;b\n1;0;2\n3;1;4\n");

    // minidp-metrics: "options\0labels\0pred\0scores".
    using namespace std::string_literals;
    write(out / "metrics" / "multiclass", "- - -\0"s "0\n1\n2\n1\n"s "\0"s "0\n1\n1\n1\n"s);
    write(out / "metrics" / "binary_scores", "- - 0.5\0"s "0\n1\n1\n0\n"s "\0\0"s "0.1\n0.9\n0.4\n0.3\n"s);
    write(out / "metrics" / "num_classes_ignore", "4 3 -\0"s "0\n3\n2\n1\n"s "\0"s "0\n1\n2\n1\n"s);
    std::cout << "fuzz_seeds: wrote the seed corpora to " << out.string() << " ("
              << read(out / "safetensors" / "training_state").size() << "-byte training checkpoint)\n";
  } catch (const std::exception& e) {
    std::cerr << "fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
