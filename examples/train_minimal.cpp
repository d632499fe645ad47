// examples/train_minimal.cpp — the first program to read: data parallelism in
// one screen, with only <minidp/minidp.h>. Fashion-MNIST, an MLP, DataParallel
// on every device, the epoch loop, the evaluation and the report.
// (train_mlp is the full driver: flags, checkpoints, metrics files, mpirun.)
#include <minidp/minidp.h>

#include <cstdio>

using namespace minidp;

int main() {
  manual_seed(0);
  nn::data::Dataset train = nn::data::fashion_mnist(nn::data::kFashionMnistDir, nn::data::Split::Train);
  nn::data::Dataset test = nn::data::fashion_mnist(nn::data::kFashionMnistDir, nn::data::Split::Test);
  nn::ModulePtr model = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, 256), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(256, 10)});
  // One replica per GPU, or two CPU replicas: each gets its shard of every batch.
  parallel::DataParallel dp(model, parallel::parse_replicas("auto"), [](std::vector<Tensor> params) {
    return std::make_unique<nn::SGD>(params, nn::SGDOptions{.lr = 0.1, .momentum = 0.9});
  });
  nn::data::DataLoader train_loader(train, {.batch_size = 128, .transform = nn::data::Transform::fashion_mnist()});
  nn::data::DataLoader test_loader(test, {.batch_size = 1000, .shuffle = false,
                                          .transform = nn::data::Transform::fashion_mnist()});
  for (int epoch = 1; epoch <= 2; ++epoch) {
    parallel::StepResult last;
    for (nn::data::Batch& b : train_loader) last = dp.train_step(b.inputs, b.labels);  // returns at once
    metrics::Evaluation ev = metrics::evaluate(dp, test_loader, 10);  // every test sample once, summed
    std::printf("epoch %d: last train loss %.4f, test loss %.4f, test accuracy %.4f\n", epoch, last.loss(),
                ev.loss.mean(), metrics::accuracy(ev.cm));
    if (epoch == 2)
      std::printf("%s", metrics::classification_report(ev.cm, {.class_names = nn::data::fashion_mnist_classes()}).c_str());
  }
}
