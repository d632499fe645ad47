// minidp/parallel/wait_sites.h — the event waits of the parallel layer, by
// name, each of which a test can switch off to prove it is needed.
//
// Every wait below orders one stream after another. On a real GPU a missing
// one shows only sometimes; on the simulated GPU (sim:N, kernels/sim/runtime.h)
// tests/parallel/test_sim_waits.cpp switches each off in turn and shows the
// wrong result it lets through. Never switched off outside tests.
#pragma once

namespace minidp::parallel {

enum class WaitSite {
  CallerToReplicas,  // replica streams wait for the caller's stream (a batch, or parameters, written there)
  ReplicasToCaller,  // the caller's stream waits for the replicas' step (reusing the batch's memory, reading weights)
  SumInputsReady,  // in-process sum on a device: rank 0's stream waits for every rank's gradients
  SumLanded,       // in-process sum on a device: every rank's stream waits for the sum written back
  BroadcastSourceReady,  // in-process broadcast: each rank's stream waits for the root's value
  BroadcastCopied,       // in-process broadcast: the root's stream waits until every rank copied it
  AllgatherInputsReady,  // in-process allgather: each rank's stream waits for every rank's input
  AllgatherCopied,       // in-process allgather: each rank's stream waits until the others copied its input
  GraphInputsReady,      // captured step: the launching stream waits for every replica's input copy
  GraphDone,             // captured step: every replica's stream waits for the replayed graph
  MpiInputsReady,        // MPI sum of a device tensor: the communication thread waits for its values
  MpiSumLanded,          // MPI sum of a device tensor: the caller's stream waits for the sum copied back
  kCount
};

const char* wait_site_name(WaitSite site);
void skip_wait_for_testing(WaitSite site, bool skip);
bool wait_skipped(WaitSite site);  // false unless a test said otherwise

}  // namespace minidp::parallel
