// examples/data_demo.cpp — a tour of minidp's data layer on Fashion-MNIST:
// read the IDX files, carve a validation split out of the training set, check
// it for leakage, and print the first batch the loader hands a training step.
//
//   ./data_demo [--data /usr/share/datasets/fashion-mnist] [--batch 64] [--seed 0] [--flatten]
#include "flags.h"
#include <cstdio>

#include "minidp/minidp.h"
#include "minidp/nn/data/data.h"
#include "guarded_main.h"  // one clear line and exit status 1 for any error

using namespace minidp;

int run(int argc, char** argv) {
  examples::Flags flags{"Load Fashion-MNIST and show what the DataLoader produces"};
  std::string dir = nn::data::kFashionMnistDir;
  std::int64_t batch = 64;
  std::uint64_t seed = 0;
  double val_fraction = 0.1;
  bool flatten = false;
  flags.add("--data", dir, "directory holding the four Fashion-MNIST .gz files");
  flags.add("--batch", batch, "batch size").range(1, 1 << 24);
  flags.add("--seed", seed, "seed of the split and of the shuffle");
  flags.add("--val", val_fraction, "fraction of the training set held out for validation")
      .range(0.0, 1.0);
  flags.flag("--flatten", flatten, "batches as [B, 784] (an MLP's input) instead of [B, 1, 28, 28]");
  if (const int rc = flags.parse(argc, argv); rc >= 0) return rc;

  if (!nn::data::mnist_files_present(dir)) {
    std::printf("Fashion-MNIST not found in %s.\n"
                "Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or download\n"
                "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and\n"
                "t10k-labels-idx1-ubyte.gz from https://github.com/zalandoresearch/fashion-mnist and pass --data DIR.\n",
                dir.c_str());
    return 0;
  }
  try {
    const nn::data::Dataset full = nn::data::fashion_mnist(dir, nn::data::Split::Train);
    const nn::data::Dataset test = nn::data::fashion_mnist(dir, nn::data::Split::Test);
    std::printf("%s: inputs %s, labels %s\n", full.name.c_str(), full.inputs.describe().c_str(),
                full.labels.describe().c_str());
    std::printf("%s: inputs %s\n", test.name.c_str(), test.inputs.describe().c_str());

    // Validation comes out of the training files; the test set stays untouched until the end.
    auto [train, val] = nn::data::train_val_split(full, val_fraction, seed);
    std::printf("split (seed %llu): %lld training, %lld validation samples\n", static_cast<unsigned long long>(seed),
                static_cast<long long>(train.size()), static_cast<long long>(val.size()));
    std::printf("train vs val:  %s\n", nn::data::check_overlap(train, val).message.c_str());
    std::printf("train vs test: %s\n", nn::data::check_overlap(train, test).message.c_str());

    nn::data::DataLoaderOptions o;
    o.batch_size = batch;
    o.seed = seed;
    o.transform = nn::data::Transform::fashion_mnist(flatten);
    nn::data::DataLoader loader(train, o);
    std::printf("loader: %lld batches per epoch, prefetching %d ahead\n",
                static_cast<long long>(loader.num_batches()), o.prefetch);

    for (nn::data::Batch& b : loader) {  // epoch 0; stop after the first batch
      std::printf("first batch: inputs %s, labels %s\n", b.inputs.describe().c_str(), b.labels.describe().c_str());
      const auto x = b.inputs.to_vector<float>();
      double mean = 0;
      for (float v : x) mean += v;
      std::printf("normalised pixels: mean %.3f (about 0 by construction)\n", mean / static_cast<double>(x.size()));
      std::vector<int> hist(10, 0);
      for (std::int64_t y : b.labels.to_vector<std::int64_t>()) ++hist[static_cast<std::size_t>(y)];
      std::printf("label histogram of the first batch:\n");
      for (std::size_t c = 0; c < hist.size(); ++c) {
        std::printf("  %d %-12s %3d %s\n", static_cast<int>(c), nn::data::fashion_mnist_classes()[c].c_str(), hist[c],
                    std::string(static_cast<std::size_t>(hist[c]), '#').c_str());
      }
      std::printf("first samples (positions in the training split): %lld %lld %lld ... -- epoch 0 of seed %llu, the same on every run\n",
                  static_cast<long long>(b.indices[0]), static_cast<long long>(b.indices[1]),
                  static_cast<long long>(b.indices[2]), static_cast<unsigned long long>(seed));
      break;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) { return minidp::examples::guarded_main("data_demo", run, argc, argv); }
