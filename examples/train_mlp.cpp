// examples/train_mlp.cpp — an MLP on Fashion-MNIST, trained data-parallel.
//
//   Flatten, Linear 784->1024, ReLU, Linear 1024->1024, ReLU, Linear 1024->10
//   (parameter names 1.weight, 1.bias, 3.weight, ... as in PyTorch's nn.Sequential)
//
//   ./train_mlp --epochs 5 --devices cpu,cpu --metrics-json mlp.json
#include "train_common.h"

using namespace minidp;

int main(int argc, char** argv) {
  return examples::train_main(argc, argv, "MLP 784-1024-1024-10", examples::make_mlp, /*flatten_inputs=*/false);
}
