// minidp/nn/optim/step_groups.h — parameters sorted into the groups one fused
// optimizer kernel can take: same device, same dtype, same first-step flag.
// Private to nn/optim.
#pragma once

#include <vector>

#include "minidp/core/tensor.h"

namespace minidp::nn {

class StepGroups {
 public:
  struct Group {
    Device device;
    DType dtype;
    bool first;
    std::vector<Tensor> params, grads;
    std::vector<std::vector<Tensor>> state;  // per state kind (momentum; or m and v), one per parameter
  };

  void add(const Tensor& p, const Tensor& g, bool first, const std::vector<Tensor>& state) {
    MINIDP_CHECK(p.is_contiguous() && g.shape() == p.shape(), "optimizer: parameter ", p.describe(),
                 " must be contiguous and its gradient ", g.describe(), " of the same shape");
    Group* grp = nullptr;
    for (auto& x : groups_)
      if (x.device == p.device() && x.dtype == p.dtype() && x.first == first) grp = &x;
    if (!grp) {
      groups_.push_back(Group{p.device(), p.dtype(), first, {}, {}, std::vector<std::vector<Tensor>>(state.size())});
      grp = &groups_.back();
    }
    grp->params.push_back(p);
    grp->grads.push_back(g.contiguous());
    for (std::size_t k = 0; k < state.size(); ++k) grp->state[k].push_back(state[k]);
  }
  std::vector<Group>& list() { return groups_; }

 private:
  std::vector<Group> groups_;
};

}  // namespace minidp::nn
