// A host program that owns MPI: it initialises MPI itself, uses minidp's
// DistributedDataParallel, then runs its own collective on MPI_COMM_WORLD and
// finalises MPI itself. minidp must use the MPI it found (checking the thread
// level), talk only through its own duplicated communicators, leave
// MPI_COMM_WORLD's error handler as the host set it, and not finalise.
//
//   mpirun -np 2 host_mpi            # the whole story -> "host owns MPI ... ok"
//   mpirun -np 1 host_mpi funneled   # MPI_THREAD_FUNNELED: minidp refuses, saying what it needs
#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "minidp/minidp.h"

using namespace minidp;

namespace {
int fail(const std::string& why) {
  std::fprintf(stderr, "host_mpi: FAIL: %s\n", why.c_str());
  MPI_Abort(MPI_COMM_WORLD, 1);
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  const bool funneled = argc > 1 && std::strcmp(argv[1], "funneled") == 0;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, funneled ? MPI_THREAD_FUNNELED : MPI_THREAD_MULTIPLE, &provided);
  if (funneled) {
    // minidp needs MPI_THREAD_MULTIPLE and must say so, not crash or hang.
    try {
      parallel::ProcessGroup::world();
      return fail("a host MPI at MPI_THREAD_FUNNELED was accepted");
    } catch (const Error& e) {
      const std::string m = e.what();
      if (m.find("MPI_THREAD_MULTIPLE") == std::string::npos || m.find("MPI_Init_thread") == std::string::npos)
        return fail("unclear message: " + m);
      std::printf("host MPI at MPI_THREAD_FUNNELED refused: %s -> ok\n", m.c_str());
    }
    MPI_Finalize();
    return 0;
  }
  // The host's own error handler on its world: minidp must leave it alone.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  auto& world = parallel::ProcessGroup::world();
  if (!world.mpi() || world.rank() != rank || world.size() != size) return fail("ProcessGroup did not find the host's MPI");
  std::uint64_t hash = 0;
  {
    manual_seed(7);
    auto model = std::make_shared<nn::Sequential>();
    model->add(std::make_shared<nn::Linear>(6, 8));
    model->add(std::make_shared<nn::ReLU>());
    model->add(std::make_shared<nn::Linear>(8, 3));
    parallel::DistributedDataParallel dp(
        model, [](std::vector<Tensor> ps) { return std::make_unique<nn::SGD>(ps, nn::SGDOptions{.lr = 0.1}); }, {},
        world, Device::cpu());
    Generator g(11);
    for (int step = 0; step < 3; ++step) {
      // This rank's rows of a global batch of 10 (the DistributedSampler's rule).
      const Tensor x = uniform({10, 6}, -1, 1, {}, &g), y = randint(0, 3, {10}, TensorOptions(kInt64), &g);
      const auto sizes = parallel::shard_sizes(10, size);
      std::int64_t begin = 0;
      for (int r = 0; r < rank; ++r) begin += sizes[r];
      dp.train_step(x.slice(begin, begin + sizes[rank]), y.slice(begin, begin + sizes[rank])).loss();
    }
    hash = dp.parameter_hash(0);
  }
  // The host's own collectives afterwards, on its MPI_COMM_WORLD.
  unsigned long long lo = hash, hi = hash;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
  if (lo != hi) return fail("the ranks' parameters differ after training");
  int one = 1, total = 0;
  MPI_Allreduce(&one, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (total != size) return fail("the host's own allreduce after minidp gave " + std::to_string(total));
  MPI_Errhandler eh;
  MPI_Comm_get_errhandler(MPI_COMM_WORLD, &eh);
  const bool untouched = eh == MPI_ERRORS_ARE_FATAL;
  MPI_Errhandler_free(&eh);
  if (!untouched) return fail("minidp changed MPI_COMM_WORLD's error handler");
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return fail("minidp finalised the host's MPI");
  std::printf("host owns MPI: rank %d of %d trained with DistributedDataParallel, then its own MPI_Allreduce "
              "(sum %d), error handler untouched -> ok\n",
              rank, size, total);
  MPI_Finalize();  // the host's; minidp's static destructors must not touch MPI after it
  return 0;
}
