// minidp/parallel/agreement.h — the ranks of a job prove, at start, that they
// run the same thing.
//
// Data parallelism across processes assumes that every rank holds the same
// model, the same bucket layout and the same optimizer: each collective
// pairs rank 0's bucket k with rank 1's bucket k, byte for byte. When one
// rank was started with other flags (`--optimizer adam` on one side of an
// `mpirun ... : ...`, a different `--lr`, `--bucket-mb`), nothing in the
// collectives notices: the replicas drift apart silently, or a collective
// of mismatched sizes ends in MPI_ERR_TRUNCATE or a hang. So every rank
// writes down what must be identical — a Fingerprint of named fields — and
// one collective (every rank's text to every rank) compares them; a
// difference raises minidp::Error on every rank, with the fields and the ranks:
//
//   the 2 ranks of this job disagree on the model, its buckets or its optimizer, ...:
//     optimizer: rank 0 has sgd; rank 1 has adam
//
// DistributedDataParallel checks its own fields (parameters, buckets,
// optimizer, options) when it is made; a program adds what only it knows
// (the global batch, the data set) with check_ranks_agree.
//
// For the collectives themselves, MINIDP_DISTRIBUTED_DEBUG=detail (as
// PyTorch's TORCH_DISTRIBUTED_DEBUG=DETAIL) makes every collective of an MPI
// communicator made afterwards first compare its operation, element count
// and dtype on all ranks, and raise on a mismatch instead of running it (on
// for all ranks if set on any; NCCL's collectives are not checked).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "minidp/parallel/process_group.h"

namespace minidp::nn {
class Module;
class Optimizer;
}  // namespace minidp::nn

namespace minidp::parallel {

class GradientBuckets;

struct Fingerprint {
  std::vector<std::pair<std::string, std::string>> fields;  // name, value; in order
  void add(const std::string& name, const std::string& value) { fields.emplace_back(name, value); }
  std::string encode() const;                           // one field per line
  static Fingerprint decode(const std::string& text);  // encode's inverse
};

// The model's parameters (name, shape, dtype), its buffers, the buckets'
// layout and the optimizer's kind and settings.
Fingerprint fingerprint_of(const nn::Module& model, const GradientBuckets& buckets, const nn::Optimizer& opt);

// The differences between every rank's fingerprint and rank 0's, one line per
// field ("optimizer: rank 0 has sgd; rank 1 has adam"); empty when they agree.
std::vector<std::string> disagreements(const std::vector<Fingerprint>& per_rank);

// Every rank calls it with its fingerprint (a collective); raises
// minidp::Error on every rank when any field differs, naming `what` checked.
void check_ranks_agree(ProcessGroup& world, const Fingerprint& mine, const std::string& what);

// MINIDP_DISTRIBUTED_DEBUG=detail (read once), or set by a program; read
// when an MPI communicator is made.
bool collective_checks_enabled();
void set_collective_checks(bool on);

}  // namespace minidp::parallel
