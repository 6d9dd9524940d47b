#include "core/plan.h"

namespace allot::core {

const char* EvictionKindName(EvictionKind kind) {
  switch (kind) {
    case EvictionKind::kReclaim:
      return "reclaim";
    case EvictionKind::kPreempt:
      return "preempt";
    case EvictionKind::kConsolidate:
      return "consolidate";
    case EvictionKind::kGangRestart:
      return "gang_restart";
  }
  return "unknown";
}

}  // namespace allot::core
