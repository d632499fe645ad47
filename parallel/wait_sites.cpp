// minidp/parallel/wait_sites.cpp — the test-only switches of wait_sites.h.
#include "minidp/parallel/wait_sites.h"

#include <atomic>

namespace minidp::parallel {

namespace {
std::atomic<bool> g_skip[static_cast<int>(WaitSite::kCount)];
}  // namespace

const char* wait_site_name(WaitSite site) {
  switch (site) {
    case WaitSite::CallerToReplicas: return "caller to replicas";
    case WaitSite::ReplicasToCaller: return "replicas to caller";
    case WaitSite::SumInputsReady: return "sum inputs ready";
    case WaitSite::SumLanded: return "sum landed";
    case WaitSite::BroadcastSourceReady: return "broadcast source ready";
    case WaitSite::BroadcastCopied: return "broadcast copied";
    case WaitSite::AllgatherInputsReady: return "allgather inputs ready";
    case WaitSite::AllgatherCopied: return "allgather copied";
    case WaitSite::GraphInputsReady: return "graph inputs ready";
    case WaitSite::GraphDone: return "graph done";
    case WaitSite::MpiInputsReady: return "MPI inputs ready";
    case WaitSite::MpiSumLanded: return "MPI sum landed";
    case WaitSite::kCount: break;
  }
  return "?";
}

void skip_wait_for_testing(WaitSite site, bool skip) { g_skip[static_cast<int>(site)] = skip; }
bool wait_skipped(WaitSite site) { return g_skip[static_cast<int>(site)].load(std::memory_order_relaxed); }

}  // namespace minidp::parallel
