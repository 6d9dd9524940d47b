// The scheduler's working copy of one snapshot for one cycle: free capacity
// per node and GPU, allocation per queue, placement per task, and the indexes
// that make placement fast. Every change goes through Bind() and Evict(),
// which keep all of it consistent and record an undo journal, so an action
// can try a placement (a gang, a reclaim) and roll it back whole.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/plan.h"
#include "core/snapshot.h"

namespace allot::sched {

using core::Placement;
using core::Resources;
using core::TaskRef;
using core::Time;

inline constexpr uint32_t kNone = UINT32_MAX;

struct GpuState {
  int64_t milli_used = 0;
  int64_t memory_used = 0;
  int64_t memory_total = 0;
  uint16_t model = 0;          // index into ClusterState::models()
  int32_t tracked_model = -1;  // index into tracked models, or -1
  bool IsFree() const { return milli_used == 0 && memory_used == 0; }
};

struct NodeState {
  int64_t cpu_free = 0;
  int64_t memory_free = 0;
  std::vector<GpuState> gpus;
  int32_t whole_free = 0;      // GPUs with nothing on them
  std::vector<TaskRef> tasks;  // tasks placed here, in no order
  // Whole GPUs held for a starving gang (see reservation.h).
  int32_t reserved_gpus = 0;
  uint32_t reserved_for = kNone;  // workload index
  Time reserved_needed_at = core::kNever;
};

// Amounts kept per GPU model that some queue declares quota for.
using ModelAmounts = std::vector<int64_t>;

struct QueueState {
  uint32_t parent = kNone;  // kNone: a child of the root
  std::vector<uint32_t> children;
  bool leaf = true;
  int32_t depth = 0;
  Resources deserved, limit, weight;
  int32_t priority = 0;
  ModelAmounts model_deserved;  // per tracked model
  ModelAmounts model_limit;     // per tracked model; kUnlimited where none is set
  Resources demand;             // of the whole subtree, capped by limit
  ModelAmounts model_demand;
  Resources fair_share;
  ModelAmounts model_fair_share;
  Resources allocated;
  Resources allocated_nonpreemptible;
  ModelAmounts model_allocated;
  ModelAmounts model_nonpreemptible;
};

struct WorkloadState {
  uint32_t queue = 0;
  int32_t placed = 0;
  // Copies of the spec's fields that every action reads for every workload,
  // kept here, contiguous, so whole-cluster passes stay in cache.
  int32_t tasks = 1;
  int32_t min_tasks = 1;
  int32_t priority = 0;
  bool preemptible = true;
  Time submitted_at = 0;
  // Resources of one task before placement (GPU memory fractions counted
  // at the largest GPU they may use); used for quota checks and demand.
  Resources task_estimate;
  std::vector<uint16_t> allowed_models;  // empty: any
  uint32_t first_task = 0;               // offset into the flat task arrays
};

class ClusterState {
 public:
  // Builds the state from a snapshot that passed core::ValidateSnapshot().
  explicit ClusterState(const core::Snapshot& snapshot);

  const core::Snapshot& snapshot() const { return *snapshot_; }
  const core::WorkloadSpec& spec(uint32_t w) const { return snapshot_->workloads[w].spec; }
  Time now() const { return snapshot_->now; }

  size_t node_count() const { return nodes_.size(); }
  const NodeState& node(uint32_t n) const { return nodes_[n]; }
  NodeState& mutable_node(uint32_t n) { return nodes_[n]; }
  const std::string& node_label(uint32_t n, const std::string& key) const;

  size_t queue_count() const { return queues_.size(); }
  const QueueState& queue(uint32_t q) const { return queues_[q]; }
  QueueState& mutable_queue(uint32_t q) { return queues_[q]; }
  const std::vector<uint32_t>& top_queues() const { return top_queues_; }

  size_t workload_count() const { return workloads_.size(); }
  const WorkloadState& workload(uint32_t w) const { return workloads_[w]; }

  const std::vector<std::string>& models() const { return models_; }
  // Models that some queue declares per-model quota for, in a fixed order.
  const std::vector<std::string>& tracked_models() const { return tracked_models_; }
  const Resources& capacity() const { return capacity_; }
  // GPU capacity (milli-GPU) not allocated to anyone, across the cluster.
  int64_t FreeGpuMilli() const;
  const ModelAmounts& model_capacity() const { return model_capacity_; }
  int32_t max_gpus_per_node() const { return max_gpus_per_node_; }
  int64_t max_gpu_memory() const { return max_gpu_memory_; }

  const std::optional<Placement>& placement(TaskRef t) const {
    return placements_[workloads_[t.workload].first_task + t.task];
  }
  Time running_since(TaskRef t) const {
    return running_since_[workloads_[t.workload].first_task + t.task];
  }
  bool IsPlaced(TaskRef t) const { return placement(t).has_value(); }
  // The resources a placed task holds, from its placement.
  Resources UsageOf(TaskRef t, const Placement& p) const;

  // Places a task (which must not be placed) and accounts for it. The caller
  // has checked that it fits.
  void Bind(TaskRef t, const Placement& p);
  // Removes a placed task and releases what it held. `kind` and `reason` are
  // kept for the plan when the eviction survives to the end of the cycle.
  void Evict(TaskRef t, core::EvictionKind kind, const std::string& reason);

  // Counters for caching failed attempts: change_count() moves with every
  // bind, eviction and undo; release_count() only when capacity is given
  // back (an eviction, or the undo of a bind).
  uint64_t change_count() const { return change_count_; }
  // Distinct for every ClusterState made in this process, so caches keyed
  // on (serial, change_count) never mistake one cycle's state for another's.
  uint64_t serial() const { return serial_; }
  uint64_t release_count() const { return release_count_; }

  // Undo: Mark() returns a point that Rollback() returns the state to.
  size_t Mark() const { return journal_.size(); }
  void Rollback(size_t mark);

  // Nodes by number of whole free GPUs: bucket k lists the nodes with k.
  const std::vector<uint32_t>& NodesWithFreeGpus(int32_t k) const { return buckets_[k]; }
  // GPUs that hold a fraction and still have room, ordered by free milli-GPU
  // (ascending): (free milli, node, gpu position).
  using PartialGpu = std::tuple<int64_t, uint32_t, int32_t>;
  const std::set<PartialGpu>& partial_gpus() const { return partial_gpus_; }
  // The same two indexes per node group: nodes grouped by the model of their
  // GPUs (the first GPU's, as for per-model quota); group models().size()
  // holds the nodes without GPUs. The placer uses them to weigh a few nodes
  // of every model, not only those of the models that come first.
  size_t node_group_count() const { return models_.size() + 1; }
  uint16_t node_group(uint32_t n) const { return node_group_[n]; }
  const std::vector<uint32_t>& GroupNodesWithFreeGpus(size_t group, int32_t k) const {
    return group_buckets_[group][k];
  }
  const std::set<PartialGpu>& group_partial_gpus(size_t group) const {
    return group_partial_gpus_[group];
  }

  // The plan that turns the snapshot into this state: evictions for tasks
  // no longer where they were, binds for tasks placed anew or moved.
  void DiffInto(core::Plan& plan) const;

 private:
  void Account(TaskRef t, const Placement& p, int sign);
  void MoveBucket(uint32_t n, int32_t from, int32_t to);
  void UpdatePartial(uint32_t n, int32_t g, const GpuState& before);

  struct JournalEntry {
    bool was_bind;
    TaskRef task;
    Placement placement;
    Time running_since;
  };

  const core::Snapshot* snapshot_;
  std::vector<NodeState> nodes_;
  std::vector<QueueState> queues_;
  std::vector<uint32_t> top_queues_;
  std::vector<WorkloadState> workloads_;
  std::vector<std::optional<Placement>> placements_;  // flat, per task
  std::vector<Time> running_since_;                   // flat, per task
  std::vector<std::string> models_;
  std::vector<std::string> tracked_models_;
  Resources capacity_;
  ModelAmounts model_capacity_;
  int32_t max_gpus_per_node_ = 0;
  int64_t max_gpu_memory_ = 0;
  std::vector<std::vector<uint32_t>> buckets_;
  std::vector<uint32_t> bucket_position_;
  std::set<PartialGpu> partial_gpus_;
  std::vector<uint16_t> node_group_;
  std::vector<std::vector<std::vector<uint32_t>>> group_buckets_;  // [group][whole free]
  std::vector<uint32_t> group_bucket_position_;
  std::vector<std::set<PartialGpu>> group_partial_gpus_;  // [group]
  std::vector<JournalEntry> journal_;
  uint64_t change_count_ = 0;
  uint64_t serial_ = 0;
  uint64_t release_count_ = 0;
  std::unordered_map<uint64_t, std::pair<core::EvictionKind, std::string>> eviction_reasons_;
};

}  // namespace allot::sched
