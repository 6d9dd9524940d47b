#include "sched/fair_share.h"

#include <algorithm>
#include <functional>
#include <map>

#include "sched/water_fill.h"

namespace allot::sched {
namespace {

using core::Resource;

// What a queue's share is computed from, for one dimension.
struct Dimension {
  std::function<int64_t(const QueueState&)> deserved;
  std::function<int64_t(const QueueState&)> demand;
  std::function<int64_t(const QueueState&)> limit;
  std::function<int64_t(const QueueState&)> weight;
  std::function<int64_t&(QueueState&)> share;
};

// Splits `amount` among sibling queues for one dimension.
void SplitAmongSiblings(ClusterState& state, const std::vector<uint32_t>& siblings, int64_t amount,
                        const Dimension& dim) {
  if (siblings.empty()) return;
  std::vector<WaterFillEntry> guaranteed;
  int64_t guaranteed_sum = 0;
  for (uint32_t q : siblings) {
    const QueueState& qs = state.queue(q);
    int64_t cap = std::min({dim.deserved(qs), dim.demand(qs), dim.limit(qs)});
    cap = std::max<int64_t>(cap, 0);
    guaranteed.push_back({cap, cap, q});
    guaranteed_sum += cap;
  }
  std::vector<int64_t> given;
  if (guaranteed_sum <= amount) {
    for (const auto& e : guaranteed) given.push_back(e.cap);
  } else {
    // Deserved is over-committed: split in proportion to deserved.
    given = WaterFill(amount, guaranteed);
  }
  int64_t left = amount;
  for (int64_t g : given) left -= g;

  // Over quota: by priority (highest first), then by weight.
  std::map<int32_t, std::vector<size_t>, std::greater<>> by_priority;
  for (size_t i = 0; i < siblings.size(); ++i) {
    by_priority[state.queue(siblings[i]).priority].push_back(i);
  }
  for (const auto& [priority, members] : by_priority) {
    if (left <= 0) break;
    std::vector<WaterFillEntry> entries;
    for (size_t i : members) {
      const QueueState& qs = state.queue(siblings[i]);
      int64_t cap = std::min(dim.demand(qs), dim.limit(qs)) - given[i];
      entries.push_back({std::max<int64_t>(cap, 0), dim.weight(qs), siblings[i]});
    }
    std::vector<int64_t> extra = WaterFill(left, entries);
    for (size_t k = 0; k < members.size(); ++k) {
      given[members[k]] += extra[k];
      left -= extra[k];
    }
  }
  for (size_t i = 0; i < siblings.size(); ++i) {
    dim.share(state.mutable_queue(siblings[i])) = given[i];
  }
}

void ComputeDimension(ClusterState& state, int64_t capacity, const Dimension& dim) {
  // Parents before children: walk the tree breadth-first from the root.
  SplitAmongSiblings(state, state.top_queues(), capacity, dim);
  std::vector<uint32_t> frontier = state.top_queues();
  while (!frontier.empty()) {
    std::vector<uint32_t> next;
    for (uint32_t q : frontier) {
      const auto& children = state.queue(q).children;
      if (children.empty()) continue;
      SplitAmongSiblings(state, children, dim.share(state.mutable_queue(q)), dim);
      next.insert(next.end(), children.begin(), children.end());
    }
    frontier = std::move(next);
  }
}

}  // namespace

void ComputeDemand(ClusterState& state) {
  size_t tracked = state.tracked_models().size();
  for (uint32_t q = 0; q < state.queue_count(); ++q) {
    auto& qs = state.mutable_queue(q);
    qs.demand = Resources{};
    qs.model_demand.assign(tracked, 0);
  }
  // Leaves: every task of every workload, placed or not.
  for (uint32_t w = 0; w < state.workload_count(); ++w) {
    const auto& ws = state.workload(w);
    const auto& spec = state.spec(w);
    auto& leaf = state.mutable_queue(ws.queue);
    leaf.demand += ws.task_estimate.Times(spec.tasks);
    if (tracked == 0 || !spec.request.UsesGpu()) continue;
    int64_t gpu = ws.task_estimate.gpu() * spec.tasks;
    for (size_t m = 0; m < tracked; ++m) {
      bool allowed =
          spec.gpu_models.empty() || std::find(spec.gpu_models.begin(), spec.gpu_models.end(),
                                               state.tracked_models()[m]) != spec.gpu_models.end();
      if (allowed) leaf.model_demand[m] += gpu;
    }
  }
  // Up the tree, deepest first, capping by limit at every level.
  std::vector<uint32_t> by_depth(state.queue_count());
  for (uint32_t q = 0; q < by_depth.size(); ++q) by_depth[q] = q;
  std::sort(by_depth.begin(), by_depth.end(),
            [&](uint32_t a, uint32_t b) { return state.queue(a).depth > state.queue(b).depth; });
  for (uint32_t q : by_depth) {
    auto& qs = state.mutable_queue(q);
    qs.demand = Resources::Min(qs.demand, qs.limit);
    for (size_t m = 0; m < tracked; ++m) {
      qs.model_demand[m] = std::min({qs.model_demand[m], qs.limit.gpu(), qs.model_limit[m]});
    }
    if (qs.parent == kNone) continue;
    auto& parent = state.mutable_queue(qs.parent);
    parent.demand += qs.demand;
    for (size_t m = 0; m < tracked; ++m) parent.model_demand[m] += qs.model_demand[m];
  }
}

void ComputeFairShare(ClusterState& state) {
  for (Resource r : core::kAllResources) {
    Dimension dim{
        [r](const QueueState& q) { return q.deserved[r]; },
        [r](const QueueState& q) { return q.demand[r]; },
        [r](const QueueState& q) { return q.limit[r]; },
        [r](const QueueState& q) { return q.weight[r]; },
        [r](QueueState& q) -> int64_t& { return q.fair_share.amounts[static_cast<int>(r)]; },
    };
    ComputeDimension(state, state.capacity()[r], dim);
  }
  for (size_t m = 0; m < state.tracked_models().size(); ++m) {
    Dimension dim{
        [m](const QueueState& q) { return q.model_deserved[m]; },
        [m](const QueueState& q) { return q.model_demand[m]; },
        [m](const QueueState& q) { return std::min(q.limit.gpu(), q.model_limit[m]); },
        [](const QueueState& q) { return q.weight.gpu(); },
        [m](QueueState& q) -> int64_t& { return q.model_fair_share[m]; },
    };
    ComputeDimension(state, state.model_capacity()[m], dim);
  }
}

}  // namespace allot::sched
