// minidp/parallel/agreement.cpp — fingerprints of what every rank must share,
// compared through one collective (agreement.h).
#include "minidp/parallel/agreement.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

#include "minidp/core/error.h"
#include "minidp/nn/module.h"
#include "minidp/nn/optim/optimizer.h"
#include "minidp/parallel/gradient_buckets.h"

namespace minidp::parallel {

namespace {
std::string one_line(std::string s) {  // a field is one line: name TAB value
  for (char& c : s)
    if (c == '\n' || c == '\t') c = ' ';
  return s;
}
}  // namespace

std::string Fingerprint::encode() const {
  std::string out;
  for (const auto& [name, value] : fields) out += one_line(name) + '\t' + one_line(value) + '\n';
  return out;
}

Fingerprint Fingerprint::decode(const std::string& text) {
  Fingerprint f;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) f.add(line, "");
    else f.add(line.substr(0, tab), line.substr(tab + 1));
  }
  return f;
}

Fingerprint fingerprint_of(const nn::Module& model, const GradientBuckets& buckets, const nn::Optimizer& opt) {
  Fingerprint f;
  const auto params = model.named_parameters();
  f.add("parameters", std::to_string(params.size()));
  for (std::size_t i = 0; i < params.size(); ++i)
    f.add("parameter " + std::to_string(i),
          params[i].first + " " + params[i].second.shape_str() + " " + dtype_name(params[i].second.dtype()));
  const auto buffers = model.named_buffers();
  f.add("buffers", std::to_string(buffers.size()));
  for (std::size_t i = 0; i < buffers.size(); ++i)
    f.add("buffer " + std::to_string(i),
          buffers[i].first + " " + buffers[i].second.shape_str() + " " + dtype_name(buffers[i].second.dtype()));
  f.add("buckets", std::to_string(buckets.num_buckets()));
  for (int b = 0; b < buckets.num_buckets(); ++b) {
    std::string ps;
    for (int p : buckets.params_of(b)) {
      // (appended piece by piece: GCC 12 warns, wrongly, about `const char* + std::string&&` here)
      if (!ps.empty()) ps += ',';
      ps += std::to_string(p);
    }
    f.add("bucket " + std::to_string(b),
          std::to_string(buckets.bucket(b).numel()) + " elements, parameters " + ps);
  }
  f.add("optimizer", opt.kind());
  for (const auto& [name, value] : opt.hyperparameters()) f.add("optimizer " + name, value);
  return f;
}

std::vector<std::string> disagreements(const std::vector<Fingerprint>& per_rank) {
  // Every field name, in the order the ranks list them (rank 0's first).
  std::vector<std::string> names;
  std::vector<std::map<std::string, std::string>> values(per_rank.size());
  for (std::size_t r = 0; r < per_rank.size(); ++r)
    for (const auto& [name, value] : per_rank[r].fields) {
      if (values[r].emplace(name, value).second && std::find(names.begin(), names.end(), name) == names.end())
        names.push_back(name);
    }
  std::vector<std::string> out;
  for (const std::string& name : names) {
    // The ranks grouped by the value they hold, in order of first appearance.
    std::vector<std::pair<std::string, std::vector<int>>> groups;
    for (std::size_t r = 0; r < per_rank.size(); ++r) {
      auto it = values[r].find(name);
      const std::string v = it == values[r].end() ? "(nothing)" : it->second;
      auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == v; });
      if (g == groups.end()) groups.push_back({v, {static_cast<int>(r)}});
      else g->second.push_back(static_cast<int>(r));
    }
    if (groups.size() < 2) continue;
    std::string line = name + ": ";
    for (std::size_t k = 0; k < groups.size(); ++k) {
      const auto& ranks = groups[k].second;
      std::string who = ranks.size() == 1 ? "rank " : "ranks ";
      for (std::size_t i = 0; i < ranks.size(); ++i) who += (i ? ", " : "") + std::to_string(ranks[i]);
      line += (k ? "; " : "") + who + (ranks.size() == 1 ? " has " : " have ") + groups[k].first;
    }
    out.push_back(line);
  }
  return out;
}

void check_ranks_agree(ProcessGroup& world, const Fingerprint& mine, const std::string& what) {
  if (world.size() == 1) return;
  std::vector<Fingerprint> all;
  for (const std::string& text : world.allgather(mine.encode())) all.push_back(Fingerprint::decode(text));
  const std::vector<std::string> diff = disagreements(all);
  if (diff.empty()) return;
  std::string msg = "the " + std::to_string(world.size()) + " ranks of this job disagree on " + what +
                    ", which must be the same everywhere (were they started with the same flags?):";
  const std::size_t shown = std::min<std::size_t>(diff.size(), 12);
  for (std::size_t i = 0; i < shown; ++i) msg += "\n  " + diff[i];
  if (diff.size() > shown) msg += "\n  ... and " + std::to_string(diff.size() - shown) + " more";
  throw Error(msg);
}

namespace {
std::atomic<int> g_checks{-1};  // -1: not read from the environment yet
}  // namespace

bool collective_checks_enabled() {
  int v = g_checks.load();
  if (v < 0) {
    const char* e = std::getenv("MINIDP_DISTRIBUTED_DEBUG");
    v = e != nullptr && (std::strcmp(e, "detail") == 0 || std::strcmp(e, "DETAIL") == 0) ? 1 : 0;
    int expected = -1;
    g_checks.compare_exchange_strong(expected, v);
    v = g_checks.load();
  }
  return v == 1;
}

void set_collective_checks(bool on) { g_checks = on ? 1 : 0; }

}  // namespace minidp::parallel
