// examples/train_cnn.cpp — a small CNN on Fashion-MNIST, trained data-parallel.
//
//   Conv 1->32 3x3 pad 1, ReLU, MaxPool 2, Conv 32->64 3x3 pad 1, ReLU, MaxPool 2,
//   Flatten, Linear 3136->128, ReLU, Linear 128->10
//
//   ./train_cnn --epochs 3 --devices cpu,cpu
#include "train_common.h"

using namespace minidp;

int main(int argc, char** argv) {
  examples::TrainConfig defaults;
  defaults.epochs = 3;
  return examples::train_main(argc, argv, "CNN conv32-pool-conv64-pool-fc128-fc10", examples::make_cnn,
                              /*flatten_inputs=*/false, defaults);
}
