// minidp/parallel/replica.cpp — parsing replica lists and sharding batches.
#include "minidp/parallel/replica.h"

#include <sstream>

#include "minidp/core/error.h"

namespace minidp::parallel {

std::vector<Replica> parse_replicas(const std::string& list) {
  std::vector<Replica> out;
  if (list == "auto") {
    const int n = cuda_device_count();
    if (n == 0) return {{0, Device::cpu(), {}}, {1, Device::cpu(), {}}};
    for (int i = 0; i < n; ++i) out.push_back({i, Device::cuda(i), {}});
    return out;
  }
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    MINIDP_CHECK(!item.empty(), "replica list '", list, "': empty entry; expected e.g. 'cpu,cpu' or 'cuda:0,cuda:1'");
    const Device d = Device::parse(item);
    check_device_available(d);
    out.push_back({static_cast<int>(out.size()), d, {d, nullptr}});
  }
  MINIDP_CHECK(!out.empty(), "replica list '", list, "' names no replica; expected e.g. 'cpu', 'cpu,cpu', ",
               "'cuda:0,cuda:1' or 'auto'");
  return out;
}

}  // namespace minidp::parallel
