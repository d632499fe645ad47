// minidp/parallel/wait_sites.cpp — the test-only switches of wait_sites.h.
#include "minidp/parallel/wait_sites.h"

#include <atomic>

namespace minidp::parallel {

namespace {
std::atomic<bool> g_skip[static_cast<int>(WaitSite::kCount)];
}  // namespace

const char* wait_site_name(WaitSite site) {
  switch (site) {
    case WaitSite::BatchReady: return "batch ready (replicas after the caller's stream)";
    case WaitSite::BatchRelease: return "batch release (caller's stream after the replicas)";
    case WaitSite::SumInputsReady: return "sum inputs ready (rank 0's stream after every rank's gradients)";
    case WaitSite::SumLanded: return "sum landed (every rank's stream after the sum)";
    case WaitSite::kCount: break;
  }
  return "?";
}

void skip_wait_for_testing(WaitSite site, bool skip) { g_skip[static_cast<int>(site)] = skip; }
bool wait_skipped(WaitSite site) { return g_skip[static_cast<int>(site)].load(std::memory_order_relaxed); }

}  // namespace minidp::parallel
