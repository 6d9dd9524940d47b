// How fragmented a node's free GPUs are, measured against the tasks that
// typically arrive (the measure of Weng et al., "Beware of Fragmentation",
// USENIX ATC 2023). A node's free GPU milli counts as fragment for a typical
// task when that task could not use it: all of the node's idle GPU when the
// task cannot run there at all (too little CPU or memory, a GPU model it may
// not use, too few GPUs with enough free), otherwise the idle milli of the
// GPUs that have less free than the task needs on one GPU. The node's
// fragmentation is the frequency-weighted sum over the typical tasks.
//
// Placing a task where it grows this measure least (fragmentation gradient
// descent) keeps free GPU capacity in shapes that future tasks can use. The
// scheduler core's fragmentation scorer and the trace simulator share this
// code.
#pragma once

#include <cstdint>
#include <vector>

namespace allot::sched {

// One task shape and its share of all tasks.
struct TaskShape {
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int32_t gpus = 0;             // 0: CPU only
  int64_t gpu_milli = 0;        // per GPU: 1000 for whole GPUs, less for a fraction
  uint32_t allowed_models = 0;  // bit mask over model numbers; 0 = any model
  double weight = 0;            // share of all tasks (the mix's weights sum to 1)
};

// The typical tasks: the most frequent shapes that together cover a given
// share of all tasks, with weights renormalised to sum to 1.
class ShapeMix {
 public:
  ShapeMix() = default;
  // `counted` holds each distinct shape once with its count in `weight`.
  // Shapes are taken most frequent first (ties: larger shapes first) until
  // their counts reach `coverage` (0..1] of the total.
  static ShapeMix FromCounts(std::vector<TaskShape> counted, double coverage);

  const std::vector<TaskShape>& shapes() const { return shapes_; }
  bool empty() const { return shapes_.empty(); }

 private:
  std::vector<TaskShape> shapes_;
};

// A node's free resources as the measure sees them.
struct NodeFree {
  int model = -1;  // model number of the node's GPUs; -1 without GPUs
  int64_t cpu_free = 0;
  int64_t memory_free = 0;
  const int64_t* gpu_free = nullptr;  // free milli-GPU of each GPU
  int gpu_count = 0;
};

// What the measure counts, beyond the published rules.
struct FragmentationRules {
  // Also count a typical task as unable to run when the node lacks its
  // memory (the published measure looks at CPU and GPU only).
  bool count_memory = false;
  // CPU-only typical tasks: the published measure counts all idle GPU as
  // fragment for them, whether or not they fit. When false, they count idle
  // GPU as fragment only when they cannot run on the node.
  bool cpu_tasks_fragment_all = true;
  // A GPU counts as usable by a typical task only as far as the node's free
  // CPU can feed copies of it: with CPU for k copies of a task of g GPUs,
  // at most k x g of the GPUs it fits on are usable (the published measure
  // asks only whether one copy fits, so CPU drained by other tasks strands
  // GPUs unseen).
  bool cpu_feeds_copies = false;
};

// The node's fragmentation in milli-GPU.
double NodeFragmentation(const NodeFree& node, const ShapeMix& mix,
                         const FragmentationRules& rules);

// The score of a move that grows a node's fragmentation by `growth` milli-GPU:
// 0..100 in sigmoid steps, 50 for no change, higher when fragmentation
// shrinks. The coarse steps make near-equal moves tie, and a consistent
// tie-break among them packs (measured in docs/simulation.md).
double FragmentationScore(double growth);

}  // namespace allot::sched
