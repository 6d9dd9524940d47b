#include "sched/placement/placer.h"

#include "sched/placement/filters.h"
#include "sched/placement/gpu_picker.h"
#include "sched/placement/scorers.h"
#include "sched/placement/tie_breakers.h"

namespace allot::sched {

Placer::Placer(std::vector<std::unique_ptr<Filter>> filters, std::vector<WeightedScorer> scorers,
               std::vector<std::unique_ptr<TieBreaker>> tie_breakers)
    : filters_(std::move(filters)),
      scorers_(std::move(scorers)),
      tie_breakers_(std::move(tie_breakers)) {}

Placer Placer::Default() {
  std::vector<std::unique_ptr<Filter>> filters;
  filters.push_back(std::make_unique<PoolFilter>());
  filters.push_back(std::make_unique<NodeLabelsFilter>());
  filters.push_back(std::make_unique<TopologyFilter>());
  filters.push_back(std::make_unique<GpuModelFilter>());
  filters.push_back(std::make_unique<ResourcesFitFilter>());
  filters.push_back(std::make_unique<ReservationFilter>());
  // The fragmentation score decides between GPU moves and bin-packing only
  // breaks its ties: summed 1:1, bin-packing's steps (12.5 points per GPU
  // on an 8-GPU node) outweighed the fragmentation score's differences and
  // the placer behaved like best fit. Topology closeness weighs twice the
  // fragmentation score, so gangs stay close. Among equal scores on nodes
  // of one model, the CPU-aware measure decides before bin-packing.
  // Measured with the packing experiment's `live` policy
  // (docs/simulation.md).
  std::vector<WeightedScorer> scorers;
  scorers.push_back({std::make_unique<FragmentationScorer>(), 1});
  scorers.push_back({std::make_unique<TopologyClosenessScorer>(), 2});
  std::vector<std::unique_ptr<TieBreaker>> tie_breakers;
  tie_breakers.push_back(std::make_unique<CpuFeedTieBreaker>());
  tie_breakers.push_back(std::make_unique<ScoreTieBreaker>(std::make_unique<BinPackingScorer>()));
  return Placer(std::move(filters), std::move(scorers), std::move(tie_breakers));
}

FilterFailure Placer::Check(const ClusterState& state, const PlacementContext& ctx, uint32_t n,
                            bool static_only) const {
  if (n == ctx.excluded_node) return FilterFailure::kTopology;
  for (const auto& filter : filters_) {
    if (static_only && filter->ChecksFreeCapacity()) continue;
    FilterFailure f = filter->Check(state, ctx, n);
    if (f != FilterFailure::kPass) return f;
  }
  return FilterFailure::kPass;
}

int64_t Placer::ScoreOf(const ClusterState& state, const PlacementContext& ctx, uint32_t n) const {
  int64_t total = 0;
  for (const auto& s : scorers_) total += s.weight * s.scorer->Score(state, ctx, n);
  return total;
}

bool Placer::Prefer(const ClusterState& state, const PlacementContext& ctx, uint32_t n,
                    int64_t score, uint32_t best, int64_t best_score) const {
  if (best == kNone || score != best_score) return score > best_score;
  if (keys_of_ != best) {
    keys_of_ = best;
    best_keys_.assign(tie_breakers_.size(), CachedKey{});
  }
  for (size_t i = 0; i < tie_breakers_.size(); ++i) {
    const TieBreaker& rule = *tie_breakers_[i];
    if (!rule.Compares(state, n, best)) continue;
    CachedKey& best_key = best_keys_[i];
    if (!best_key.known) best_key = {true, rule.Key(state, ctx, best)};
    std::optional<int64_t> key = rule.Key(state, ctx, n);
    if (!key || !best_key.key || *key == *best_key.key) continue;
    return *key < *best_key.key;
  }
  return false;
}

std::optional<std::vector<int32_t>> Placer::GpusOn(const ClusterState& state,
                                                   const PlacementContext& ctx, uint32_t n) {
  const NodeState& node = state.node(n);
  int32_t usable = node.whole_free;
  if (!ReservationFilter::MayUseReserved(state, ctx, n)) usable -= node.reserved_gpus;
  return PickGpus(state, ctx, n, usable < 0 ? 0 : usable);
}

namespace {

// Offers nodes in the order most likely to score well, until offer(n)
// returns false (then false): for a fraction, the GPUs already shared with
// room for it, tightest first; then nodes by whole free GPUs, fewest that
// fit first (`buckets(k)`: the nodes with k). The placer walks the whole
// cluster's indexes and one GPU model's the same way.
template <typename Buckets, typename Offer>
bool OfferInOrder(const ClusterState& state, const core::TaskRequest& request,
                  const std::set<ClusterState::PartialGpu>& partial, Buckets buckets,
                  Offer&& offer) {
  int32_t first_bucket = request.WholeGpus();
  if (request.IsFraction()) {
    core::GpuShare smallest = core::ShareOfGpu(request, state.max_gpu_memory());
    for (auto it = partial.lower_bound({smallest.milli, 0, 0}); it != partial.end(); ++it) {
      if (!offer(std::get<1>(*it))) return false;
    }
    first_bucket = 1;
  }
  for (int32_t k = first_bucket; k <= state.max_gpus_per_node(); ++k) {
    for (uint32_t n : buckets(k)) {
      if (!offer(n)) return false;
    }
  }
  return true;
}

}  // namespace

void Placer::ForEachCandidate(const ClusterState& state, const PlacementContext& ctx,
                              const std::function<bool(uint32_t)>& visit) const {
  if (seen_.size() != state.node_count()) seen_.assign(state.node_count(), 0);
  if (++stamp_ == 0) {
    seen_.assign(state.node_count(), 0);
    stamp_ = 1;
  }
  auto offer = [&](uint32_t n) {
    if (seen_[n] == stamp_) return true;
    seen_[n] = stamp_;
    return visit(n);
  };
  // Gang members' nodes first: they are where closeness scores best.
  for (uint32_t n : ctx.member_nodes) {
    if (!offer(n)) return;
  }
  OfferInOrder(
      state, state.spec(ctx.workload).request, state.partial_gpus(),
      [&](int32_t k) -> const std::vector<uint32_t>& { return state.NodesWithFreeGpus(k); }, offer);
}

std::optional<Placement> Placer::PlaceTask(const ClusterState& state, const PlacementContext& ctx,
                                           PlacementFailure* failure) const {
  uint32_t best = kNone;
  int64_t best_score = -1;
  int feasible = 0;
  int64_t visited = 0;
  scored_in_group_.assign(state.node_group_count(), 0);
  keys_of_ = kNone;  // the state or the task differ from the last call
  ForEachCandidate(state, ctx, [&](uint32_t n) {
    ++visited;
    FilterFailure f = Check(state, ctx, n, /*static_only=*/false);
    if (f != FilterFailure::kPass) {
      if (failure != nullptr) ++failure->nodes[static_cast<size_t>(f)];
      return true;
    }
    ++scored_in_group_[state.node_group(n)];
    int64_t score = ScoreOf(state, ctx, n);
    if (Prefer(state, ctx, n, score, best, best_score)) {
      best = n;
      best_score = score;
    }
    return ++feasible < kScoredCandidates;
  });
  if (best != kNone) ScoreEveryModel(state, ctx, best, best_score);
  if (best == kNone) {
    // Nodes never offered had too few free GPUs for the task.
    if (failure != nullptr) {
      failure->nodes[static_cast<size_t>(FilterFailure::kGpu)] +=
          static_cast<int64_t>(state.node_count()) - visited;
    }
    return std::nullopt;
  }
  auto gpus = GpusOn(state, ctx, best);
  if (!gpus) return std::nullopt;
  return Placement{best, std::move(*gpus)};
}

void Placer::ScoreEveryModel(const ClusterState& state, const PlacementContext& ctx, uint32_t& best,
                             int64_t& best_score) const {
  const auto& request = state.spec(ctx.workload).request;
  const size_t no_gpu_group = state.models().size();
  for (size_t group = 0; group < state.node_group_count(); ++group) {
    int feasible = scored_in_group_[group];
    if (feasible >= kScoredPerModel) continue;
    if (group == no_gpu_group ? request.UsesGpu()
                              : !ModelAllowed(state, ctx, static_cast<uint16_t>(group))) {
      continue;
    }
    int visits = 0;
    // Same order as the first candidates, within the group; nodes seen
    // there are skipped. False: enough of this group.
    auto offer = [&](uint32_t n) {
      if (seen_[n] == stamp_) return true;
      seen_[n] = stamp_;
      if (Check(state, ctx, n, /*static_only=*/false) == FilterFailure::kPass) {
        int64_t score = ScoreOf(state, ctx, n);
        if (Prefer(state, ctx, n, score, best, best_score)) {
          best = n;
          best_score = score;
        }
        ++feasible;
      }
      return feasible < kScoredPerModel && ++visits < kVisitedPerModel;
    };
    OfferInOrder(
        state, request, state.group_partial_gpus(group),
        [&](int32_t k) -> const std::vector<uint32_t>& {
          return state.GroupNodesWithFreeGpus(group, k);
        },
        offer);
  }
}

std::string PlacementFailure::Describe(const ClusterState& state, uint32_t workload) const {
  const auto& spec = state.spec(workload);
  // What a node (singular, plural) fails by.
  static const char* kWhat[][2] = {
      {"", ""},
      {"lacks free GPUs", "lack free GPUs"},
      {"lacks free CPU", "lack free CPU"},
      {"lacks free memory", "lack free memory"},
      {"has no GPU of an allowed model", "have no GPU of an allowed model"},
      {"lacks the required node labels", "lack the required node labels"},
      {"is outside the topology domain", "are outside the topology domain"},
      {"holds GPUs reserved for a starving gang", "hold GPUs reserved for a starving gang"},
      {"is outside the pools asked for", "are outside the pools asked for"}};
  std::string parts;
  for (size_t f = 1; f < nodes.size(); ++f) {
    if (nodes[f] == 0) continue;
    if (!parts.empty()) parts += ", ";
    parts += std::to_string(nodes[f]) + (nodes[f] == 1 ? " node " : " nodes ") +
             kWhat[f][nodes[f] == 1 ? 0 : 1];
  }
  std::string models;
  for (const auto& m : spec.gpu_models) models += (models.empty() ? "" : "|") + m;
  std::string need;
  const auto& r = spec.request;
  if (r.gpu_memory_mib > 0) {
    need = core::FormatAmount(core::Resource::kGpuMemory, r.gpu_memory_mib) + " of GPU memory";
  } else if (r.gpu_milli > 0) {
    need = core::FormatAmount(core::Resource::kGpu, r.gpu_milli) + " GPU";
  }
  if (!models.empty()) need += " (" + models + ")";
  if (r.cpu_milli > 0) {
    need +=
        (need.empty() ? "" : ", ") + core::FormatAmount(core::Resource::kCpu, r.cpu_milli) + " CPU";
  }
  if (r.memory_mib > 0) {
    need += (need.empty() ? "" : ", ") + core::FormatAmount(core::Resource::kMemory, r.memory_mib) +
            " memory";
  }
  return "no node with enough free resources for a task (" + (need.empty() ? "nothing" : need) +
         "): " + (parts.empty() ? "the cluster has no nodes" : parts);
}

}  // namespace allot::sched
