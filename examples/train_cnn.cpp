// examples/train_cnn.cpp — a small CNN on Fashion-MNIST, trained data-parallel.
//
//   Conv 1->32 3x3 pad 1, ReLU, MaxPool 2, Conv 32->64 3x3 pad 1, ReLU, MaxPool 2,
//   Flatten, Linear 3136->128, ReLU, Linear 128->10
//
//   ./train_cnn --epochs 3 --devices cpu,cpu
#include "train_common.h"

using namespace minidp;

int main(int argc, char** argv) {
  auto make_model = [] {
    return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
        std::make_shared<nn::Conv2d>(1, 32, 3, 1, 1), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
        std::make_shared<nn::Conv2d>(32, 64, 3, 1, 1), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
        std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(3136, 128), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Linear>(128, 10)});
  };
  examples::TrainConfig defaults;
  defaults.epochs = 3;
  return examples::train_main(argc, argv, "CNN conv32-pool-conv64-pool-fc128-fc10", make_model,
                              /*flatten_inputs=*/false, defaults);
}
