// examples/ddp_tour.cpp — DistributedDataParallel in a few steps, for
// docs/distributed.md: run it with one process per device.
//
//   mpirun -np 2 ./ddp_tour          (CPU processes here; one per GPU on a GPU machine)
//
// 1. every process builds the same model; DDP broadcasts rank 0's weights;
// 2. the buckets: which parameters are summed together, last layer first;
// 3. the DistributedSampler: each process's rows of the same global batches;
// 4. a few steps: every process prints the global mean loss, which one
//    process computing the whole batch itself also gets.
#include <cmath>
#include <cstdio>

#include "minidp/minidp.h"
#include "guarded_main.h"  // one clear line and exit status 1 for any error

using namespace minidp;

int run() {
  auto& world = parallel::ProcessGroup::world();
  const bool lead = world.rank() == 0;
  auto make = [] {
    manual_seed(3);  // the same weights in every process (and DDP broadcasts rank 0's anyway)
    return std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
        std::make_shared<nn::Linear>(16, 64), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(64, 4)});
  };
  auto sgd = [](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1}); };

  // 1. One replica per process; its device: the local rank's GPU, or the CPU.
  parallel::DistributedOptions o;
  o.first_bucket_bytes = 1024;  // tiny buckets, to see several
  o.bucket_bytes = 4096;
  parallel::DistributedDataParallel dp(make(), sgd, o);
  if (lead) std::printf("== 1. %d process(es), %s communicator, rank 0 on %s\n", world.size(),
                        dp.communicator().name().c_str(), dp.replica(0).device.str().c_str());

  // 2. Buckets, in the order backward completes them.
  if (lead) {
    std::printf("== 2. gradient buckets (parameter indices; summed as soon as backward completes one)\n");
    for (int b = 0; b < dp.buckets().num_buckets(); ++b) {
      std::printf("  bucket %d:", b);
      for (int p : dp.buckets().params_of(b)) std::printf(" %d", p);
      std::printf("  (%lld values)\n", static_cast<long long>(dp.buckets().bucket(b).numel()));
    }
  }

  // 3. The same 10 samples in global batches of 4: each process takes its rows.
  Generator g(1);
  nn::data::Dataset data(randn({10, 16}, {}, &g), randint(0, 4, {10}, kInt64, &g), "synthetic");
  nn::data::DataLoaderOptions lo{.batch_size = 4, .shuffle = false};
  nn::data::DataLoader loader(data, parallel::DistributedSampler(world).apply(lo));
  for (nn::data::Batch& b : loader) {
    std::string rows;
    for (auto i : b.indices) rows += " " + std::to_string(i);
    std::printf("== 3. rank %d: %lld of the %lld samples of the batch:%s\n", world.rank(),
                static_cast<long long>(b.size()), static_cast<long long>(b.global_size), rows.c_str());
  }
  world.barrier();

  // 4. Train: the loss of N processes is the loss of one process on the whole batch.
  parallel::DataParallel single(make(), parallel::parse_replicas("cpu"), sgd);  // this process's own reference
  nn::data::DataLoader whole(data, lo);
  int step = 0;
  for (nn::data::Batch& b : loader) {
    const double distributed = dp.train_step(b.inputs, b.labels).loss();
    const auto reference = whole.batch(0, step++);
    const double one = single.train_step(reference.inputs, reference.labels).loss();
    if (lead) std::printf("== 4. step %d: loss %.6f with %d process(es), %.6f in one -> %s\n", step, distributed,
                          world.size(), one, std::abs(distributed - one) < 1e-5 * one ? "same" : "DIFFERENT");
  }

  // 5. ZeRO-1: each process keeps the Adam state of its chunk of every bucket
  //    only; gradients reduce-scattered, weights all-gathered — the same bits.
  auto adam = [](std::vector<Tensor> ps) { return std::make_unique<nn::Adam>(ps, nn::AdamOptions{.lr = 0.01}); };
  parallel::DistributedOptions zo = o;
  zo.comm = "mpi";  // ZeRO-1 runs over MPI, on CPU ranks
  parallel::DistributedDataParallel plain(make(), adam, zo, world, Device::cpu());
  zo.zero_stage = 1;
  parallel::DistributedDataParallel zero(make(), adam, zo, world, Device::cpu());
  for (nn::data::Batch& b : loader) {
    plain.train_step(b.inputs, b.labels);
    zero.train_step(b.inputs, b.labels);
  }
  bool same = true;
  for (std::size_t i = 0; i < plain.module()->parameters().size(); ++i)
    same = same && plain.module()->parameters()[i].to_vector<float>() == zero.module()->parameters()[i].to_vector<float>();
  if (lead)
    std::printf("== 5. ZeRO-1: Adam state %lld bytes in this process (%lld without ZeRO); weights after %d steps -> %s\n",
                static_cast<long long>(parallel::optimizer_state_bytes(zero)),
                static_cast<long long>(parallel::optimizer_state_bytes(plain)), step, same ? "same bits" : "DIFFERENT");
  return 0;
}

int main() { return minidp::examples::guarded_main("ddp_tour", run); }
