// Who may lose resources to whom across queues (architecture.md §4.4). The check is
// made between the two siblings under the lowest common ancestor of the
// reclaiming queue and the victim's queue (A on the reclaimer's side, B on
// the victim's):
//  - the reclaimer's queue, and every queue up to A, stays within its fair
//    share after taking the task;
//  - B is over its fair share, or B is over its deserved quota while A
//    stays within its own deserved.
// B is measured before the move (after the units already chosen in the same
// trial), so a queue below its deserved quota gets it back even when that
// takes a whole borrowed workload larger than B's excess, and B falls below
// its line by at most one unit. There is still no ping-pong: the evicted
// unit would put B back over the line it was over, so B cannot reclaim it,
// and A, within its fair share (or deserved), cannot be a victim. Last, the
// victim must have run its minimum run time (RuntimeExemption).
//
// The amounts compared are GPUs for GPU work (CPU and memory otherwise). On
// a node whose GPU model some queue declares per-model quota for, they are
// that model's GPUs: deserved per model holds per model.
#pragma once

#include <array>

#include "sched/runtime_exemption.h"
#include "sched/victim_search.h"

namespace allot::sched {

class ReclaimRules final : public VictimRules {
 public:
  // `exemption` must outlive the rules.
  ReclaimRules(const ClusterState& state, uint32_t reclaimer, const RuntimeExemption& exemption);

  bool MayEvict(const ClusterState& state, const VictimUnit& unit, const TakenResources& taken,
                uint32_t n) const override;
  // A necessary condition, checked before any node is searched: the queues
  // that may lose GPUs hold, above what they must keep, plus the idle GPUs,
  // at least `needed_gpu`. False means no reclaim can succeed.
  bool EnoughToTake(const ClusterState& state, int64_t needed_gpu) const;
  // Only a queue whose side of the common ancestor holds more than its fair
  // share, or more than deserved, can lose anything.
  bool QueueMayLose(const ClusterState& state, uint32_t leaf) const override;
  // Only work that has run its minimum run time.
  bool WorkloadMayLose(const ClusterState& state, uint32_t w) const override {
    return exemption_.Allows(state, VictimUnit{w, kNone});
  }
  std::string EvictionReason(const ClusterState& state, uint32_t victim) const override;
  core::EvictionKind Kind() const override { return core::EvictionKind::kReclaim; }

  // Whether the reclaimer's own queue stays within its fair share with one
  // more task; when not, no reclaim is possible for it at all.
  bool ReclaimerWithinFairShare(const ClusterState& state) const;

 private:
  // One compared amount: a resource, or the GPUs of one tracked model.
  struct Amount {
    core::Resource resource;
    int32_t model;  // -1: the resource itself
  };
  // At most two amounts (CPU and memory), kept inline: this is per unit.
  struct Amounts {
    std::array<Amount, 2> items;
    size_t size = 0;
    const Amount* begin() const { return items.data(); }
    const Amount* end() const { return items.data() + size; }
  };
  Amounts AmountsOn(const ClusterState& state, uint32_t n) const;
  static int64_t Allocated(const QueueState& q, const Amount& a);
  static int64_t FairShare(const QueueState& q, const Amount& a);
  static int64_t Deserved(const QueueState& q, const Amount& a);
  static int64_t Of(const Resources& r, const Amount& a) { return r[a.resource]; }

  // The two siblings under the lowest common ancestor of the reclaimer's
  // queue and leaf `victim_leaf`: A on the reclaimer's side, B on the
  // victim's (computed once per leaf), and the reclaimer's queues up to A.
  struct Sides {
    uint32_t a = kNone;
    uint32_t b = kNone;
    size_t own_levels = 0;  // own_path_[0 .. own_levels) reaches A
  };
  const Sides& SidesFor(const ClusterState& state, uint32_t victim_leaf) const;

  uint32_t reclaimer_;
  const RuntimeExemption& exemption_;
  Resources add_;  // one task's resources
  std::vector<core::Resource> contested_;
  std::vector<uint32_t> own_path_;  // the reclaimer's leaf up to the top
  mutable std::vector<Sides> sides_;
};

}  // namespace allot::sched
