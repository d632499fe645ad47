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
  BatchReady,      // replica streams wait for the caller's stream before reading a batch on the device
  BatchRelease,    // the caller's stream waits for the replicas' step before reusing the batch's memory
  SumInputsReady,  // in-process sum on a device: rank 0's stream waits for every rank's gradients
  SumLanded,       // in-process sum on a device: every rank's stream waits for the sum written back
  kCount
};

const char* wait_site_name(WaitSite site);
void skip_wait_for_testing(WaitSite site, bool skip);
bool wait_skipped(WaitSite site);  // false unless a test said otherwise

}  // namespace minidp::parallel
